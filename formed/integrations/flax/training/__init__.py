"""formed.integrations.flax.training: the trainer, engines, callbacks, state and exceptions."""

from formed.integrations.flax.training.callbacks import (
    CheckpointCallback,
    EarlyStoppingCallback,
    EvaluationCallback,
    FlaxTrainingCallback,
    MlflowCallback,
    TensorBoardCallback,
)
from formed.integrations.flax.training.engine import DefaultFlaxTrainingEngine, FlaxTrainingEngine
from formed.integrations.flax.training.exceptions import StopEarly
from formed.integrations.flax.training.state import TrainState
from formed.integrations.flax.training.trainer import FlaxTrainer

__all__ = [
    "CheckpointCallback",
    "DefaultFlaxTrainingEngine",
    "EarlyStoppingCallback",
    "EvaluationCallback",
    "FlaxTrainer",
    "FlaxTrainingCallback",
    "FlaxTrainingEngine",
    "MlflowCallback",
    "StopEarly",
    "TensorBoardCallback",
    "TrainState",
]
