"""Training Flax NNX (and Equinox) models: the trainer, engines, callbacks, metrics, distributors,
and the library of the `train`, `evaluate`, `predict` and `export` binaries.

This is the public API of `//formed/training`; other packages import from here only.
"""

from formed.training._callbacks import EarlyStoppingCallback, EvaluationCallback, FlaxTrainingCallback
from formed.training._config_changes import config_changes, describe_changes
from formed.training._checkpoints import CheckpointCallback, CheckpointDirectory, CheckpointError
from formed.training._distributed import ProcessGroupError, initialize_processes
from formed.training._distributors import BaseDistributor, DataParallelDistributor, SingleDeviceDistributor
from formed.training._ema import ema_init, ema_update
from formed.training._engine import DefaultFlaxTrainingEngine, FlaxTrainingEngine
from formed.training._equinox_engine import EquinoxTrainingEngine, EquinoxTrainState
from formed.training._exceptions import NonFiniteLossError, StopEarly
from formed.training._json_files import directory_written_atomically, write_json_atomically
from formed.training._metrics import (
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
from formed.training._mlflow_callback import MlflowCallback
from formed.training._model_directory import MODEL_FILE, export_model, load_model, read_model_files, write_model_files
from formed.training._model_formats import FlaxNnxFormat, ModelFormat, format_of
from formed.training._optimizers import build_optimizer, build_schedule, learning_rate_of, training_optimizer
from formed.training._precision import MixedPrecision
from formed.training._predictor import Predictor
from formed.training._preflight import check_config_values, check_metric_names
from formed.training._profiling import ProfileCallback
from formed.training._progress import ProgressBar
from formed.training._records import read_records
from formed.training._report import metrics_table, training_summary
from formed.training._run import run
from formed.training._state import TrainState
from formed.training._tensorboard_callback import TensorBoardCallback
from formed.training._user_code import import_user_code
from formed.training._workdir_lock import WorkdirInUseError, WorkdirLock
from formed.training._trainer import FlaxTrainer

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
    "MODEL_FILE",
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
    "directory_written_atomically",
    "ema_init",
    "ema_update",
    "export_model",
    "format_of",
    "import_user_code",
    "initialize_processes",
    "learning_rate_of",
    "load_model",
    "metrics_table",
    "read_model_files",
    "read_records",
    "run",
    "training_optimizer",
    "training_summary",
    "write_json_atomically",
    "write_model_files",
]
