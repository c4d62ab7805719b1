"""formed.integrations.flax.training.trainer (implemented in formed.training.trainer)."""

from formed.training.trainer import FlaxTrainer

__all__ = [
    "FlaxTrainer",
]
