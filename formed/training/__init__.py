"""Training Flax NNX (and Equinox) models: the trainer, engines, callbacks, metrics, distributors,
and the library of the `train`, `evaluate`, `predict` and `export` binaries.

This is the public API of `//formed/training`; other packages import from here only.
"""

from formed.training.callbacks import EarlyStoppingCallback, EvaluationCallback, FlaxTrainingCallback
from formed.training.config_changes import config_changes, describe_changes
from formed.training.checkpoints import CheckpointCallback, CheckpointDirectory, CheckpointError
from formed.training.distributed import ProcessGroupError, initialize_processes
from formed.training.distributors import BaseDistributor, DataParallelDistributor, SingleDeviceDistributor
from formed.training.ema import ema_init, ema_update
from formed.training.engine import DefaultFlaxTrainingEngine, FlaxTrainingEngine
from formed.training.equinox_engine import EquinoxTrainingEngine, EquinoxTrainState
from formed.training.exceptions import NonFiniteLossError, StopEarly
from formed.training.json_files import write_json_atomically
from formed.training.metrics import (
    AverageEvaluator,
    BaseEvaluator,
    FBeta,
    IEvaluator,
    MeanSquaredError,
    MulticlassAccuracy,
    MultiEvaluator,
    Precision,
    Recall,
)
from formed.training.mlflow_callback import MlflowCallback
from formed.training.model_directory import export_model, load_model
from formed.training.model_formats import FlaxNnxFormat, ModelFormat, format_of
from formed.training.predictor import Predictor
from formed.training.optimizers import build_optimizer, build_schedule, learning_rate_of, training_optimizer
from formed.training.precision import MixedPrecision
from formed.training.preflight import check_config_values, check_metric_names
from formed.training.profiling import ProfileCallback
from formed.training.progress import ProgressBar
from formed.training.report import metrics_table, training_summary
from formed.training.state import TrainState
from formed.training.tensorboard_callback import TensorBoardCallback
from formed.training.trainer import FlaxTrainer
from formed.training.user_code import import_user_code
from formed.training.workdir_lock import WorkdirInUseError, WorkdirLock

__all__ = [
    "AverageEvaluator",
    "BaseDistributor",
    "BaseEvaluator",
    "CheckpointCallback",
    "CheckpointDirectory",
    "CheckpointError",
    "DataParallelDistributor",
    "DefaultFlaxTrainingEngine",
    "EarlyStoppingCallback",
    "EquinoxTrainState",
    "EquinoxTrainingEngine",
    "EvaluationCallback",
    "FBeta",
    "FlaxNnxFormat",
    "FlaxTrainer",
    "FlaxTrainingCallback",
    "FlaxTrainingEngine",
    "IEvaluator",
    "MeanSquaredError",
    "MixedPrecision",
    "MlflowCallback",
    "ModelFormat",
    "MultiEvaluator",
    "MulticlassAccuracy",
    "NonFiniteLossError",
    "Precision",
    "Predictor",
    "ProcessGroupError",
    "ProfileCallback",
    "ProgressBar",
    "Recall",
    "SingleDeviceDistributor",
    "StopEarly",
    "TensorBoardCallback",
    "TrainState",
    "WorkdirInUseError",
    "WorkdirLock",
    "build_optimizer",
    "build_schedule",
    "check_config_values",
    "check_metric_names",
    "config_changes",
    "describe_changes",
    "ema_init",
    "ema_update",
    "export_model",
    "format_of",
    "import_user_code",
    "initialize_processes",
    "learning_rate_of",
    "load_model",
    "metrics_table",
    "training_optimizer",
    "training_summary",
    "write_json_atomically",
]
