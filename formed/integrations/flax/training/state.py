"""formed.integrations.flax.training.state (implemented in formed.training.state)."""

from formed.training.state import TrainState

__all__ = [
    "TrainState",
]
