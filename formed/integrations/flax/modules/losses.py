"""formed.integrations.flax.modules.losses (implemented in formed.modules.losses)."""

from formed.modules.losses import BaseClassificationLoss, CrossEntropyLoss

__all__ = [
    "BaseClassificationLoss",
    "CrossEntropyLoss",
]
