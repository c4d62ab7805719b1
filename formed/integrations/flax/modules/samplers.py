"""formed.integrations.flax.modules.samplers (implemented in formed.modules.samplers)."""

from formed.modules.samplers import (
    ArgmaxLabelSampler,
    BaseLabelSampler,
    MultinomialLabelSampler,
    MultinomialLabelSamplerParams,
)

__all__ = [
    "ArgmaxLabelSampler",
    "BaseLabelSampler",
    "MultinomialLabelSampler",
    "MultinomialLabelSamplerParams",
]
