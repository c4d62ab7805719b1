"""formed.integrations.flax: training Flax NNX models, under the API reference's names.

Everything here is the object of formed's own packages (see `formed.integrations`):

    from formed.integrations.flax import FlaxTrainer, EarlyStoppingCallback, train_flax_model
"""

from formed.integrations.flax.distributors import BaseDistributor, DataParallelDistributor, SingleDeviceDistributor
from formed.integrations.flax.model import BaseFlaxModel
from formed.integrations.flax.random import require_rngs, use_rngs
from formed.integrations.flax.training import (
    CheckpointCallback,
    DefaultFlaxTrainingEngine,
    EarlyStoppingCallback,
    EvaluationCallback,
    FlaxTrainer,
    FlaxTrainingCallback,
    FlaxTrainingEngine,
    MlflowCallback,
    StopEarly,
    TensorBoardCallback,
    TrainState,
)
from formed.integrations.flax.workflow import FlaxModelFormat, evaluate_flax_model, train_flax_model

__all__ = [
    "BaseDistributor",
    "BaseFlaxModel",
    "CheckpointCallback",
    "DataParallelDistributor",
    "DefaultFlaxTrainingEngine",
    "EarlyStoppingCallback",
    "EvaluationCallback",
    "FlaxModelFormat",
    "FlaxTrainer",
    "FlaxTrainingCallback",
    "FlaxTrainingEngine",
    "MlflowCallback",
    "SingleDeviceDistributor",
    "StopEarly",
    "TensorBoardCallback",
    "TrainState",
    "evaluate_flax_model",
    "require_rngs",
    "train_flax_model",
    "use_rngs",
]
