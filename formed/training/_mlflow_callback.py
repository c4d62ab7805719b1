"""`MlflowCallback`: the reference's MLflow logger, for users who track runs in MLflow.

formed's own logger is `TensorBoardCallback`, and MLflow is not one of its dependencies. This
callback logs to MLflow when the ``mlflow`` package is importable and a run is active (started by
the caller with ``mlflow.start_run()``, or by the workflow that runs the training step): the
logged metrics under their prefixes at the trainer's global step, and the epoch at each epoch's
end. Without ``mlflow`` or without an active run it warns once, when training starts, and logs
nothing; training itself is unaffected.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any, Mapping

from formed.training._callbacks import FlaxTrainingCallback
from formed.training._state import TrainState

if TYPE_CHECKING:
    from flax import nnx

    from formed.training._trainer import FlaxTrainer


def _active_mlflow() -> tuple[ModuleType | None, str]:
    """The `mlflow` module when it is installed and has an active run, else (None, why not)."""
    try:
        mlflow = importlib.import_module("mlflow")
    except ImportError:
        return None, "the mlflow package is not installed"
    if mlflow.active_run() is None:
        return None, "no MLflow run is active (start one with mlflow.start_run())"
    return mlflow, ""


@FlaxTrainingCallback.register("mlflow")
class MlflowCallback(FlaxTrainingCallback):
    """Logs training and validation metrics to the active MLflow run.

    Open the run around training, ``with mlflow.start_run(): trainer.train(model, items)``, with
    ``callbacks=[MlflowCallback()]`` in the trainer (or ``{"type": "mlflow"}`` in its config). No
    runnable example here: ``mlflow`` is not one of formed's dependencies.
    """

    keeps_states = False

    def __init__(self) -> None:
        self._mlflow: ModuleType | None = None

    def on_training_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> None:
        if trainer.distributor.process_index != 0:  # several processes: the first one logs
            self._mlflow = None
            return
        self._mlflow, why_not = _active_mlflow()
        if self._mlflow is None:
            warnings.warn(f"MlflowCallback logs nothing: {why_not}", RuntimeWarning, stacklevel=2)

    def on_log(
        self,
        trainer: FlaxTrainer,
        model: nnx.Module,
        state: TrainState,
        metrics: Mapping[str, Any],
        prefix: str = "",
    ) -> None:
        if self._mlflow is None or not metrics:
            return
        values = {f"{prefix}{name}": float(value) for name, value in metrics.items()}
        self._mlflow.log_metrics(values, step=trainer.global_step)

    def on_epoch_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, epoch: int) -> None:
        if self._mlflow is not None:
            self._mlflow.log_metric("epoch", epoch, step=trainer.global_step)

    def on_training_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> TrainState | None:
        self._mlflow = None
        return None
