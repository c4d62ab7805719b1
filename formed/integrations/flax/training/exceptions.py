"""formed.integrations.flax.training.exceptions (implemented in formed.training.exceptions)."""

from formed.training.exceptions import StopEarly

__all__ = [
    "StopEarly",
]
