"""formed.integrations.flax.training.callbacks: every training callback (implemented in formed.training;\nTensorBoardCallback and CheckpointCallback are formed's own additions)."""

from formed.training.callbacks import EarlyStoppingCallback, EvaluationCallback, FlaxTrainingCallback
from formed.training.checkpoints import CheckpointCallback
from formed.training.mlflow_callback import MlflowCallback
from formed.training.tensorboard_callback import TensorBoardCallback

__all__ = [
    "CheckpointCallback",
    "EarlyStoppingCallback",
    "EvaluationCallback",
    "FlaxTrainingCallback",
    "MlflowCallback",
    "TensorBoardCallback",
]
