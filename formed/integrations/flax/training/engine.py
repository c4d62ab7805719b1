"""formed.integrations.flax.training.engine (implemented in formed.training.engine)."""

from formed.training.engine import DefaultFlaxTrainingEngine, FlaxTrainingEngine

__all__ = [
    "DefaultFlaxTrainingEngine",
    "FlaxTrainingEngine",
]
