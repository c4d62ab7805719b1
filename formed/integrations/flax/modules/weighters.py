"""formed.integrations.flax.modules.weighters (implemented in formed.modules.weighters)."""

from formed.modules.weighters import (
    BalancedByDistributionLabelWeighter,
    BaseLabelWeighter,
    LabelWeights,
    StaticLabelWeighter,
)

__all__ = [
    "BalancedByDistributionLabelWeighter",
    "BaseLabelWeighter",
    "LabelWeights",
    "StaticLabelWeighter",
]
