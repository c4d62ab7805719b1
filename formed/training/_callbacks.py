"""Training callbacks: hooks into `FlaxTrainer`'s loop.

Hook order (as in the reference):

1. ``on_training_start`` once at the beginning;
2. ``on_epoch_start`` at the start of each epoch;
3. ``on_batch_start`` before each training step, ``on_batch_end`` after it;
4. ``on_eval_start`` before an evaluation (it may return an evaluator), ``on_eval_end`` after
   it with the computed metrics;
5. ``on_log`` whenever metrics are logged (training metrics with the trainer's
   ``train_prefix``, validation metrics with its ``val_prefix``);
6. ``on_epoch_end`` at the end of each epoch;
7. ``on_training_end`` once at the end; returning a state replaces the final state.

Epochs are numbered from 1. ``state`` reads like a single-device state under any distributor
(``state.step`` is a scalar; under `DataParallelDistributor` each array is held whole on every
device). A callback may keep the states it is handed: unless every callback of the trainer sets
``keeps_states = False`` (as formed's own do, having no need to), the trainer does not reuse a
state's buffers for the next step, so kept states stay valid. ``trainer.global_step`` is the
step count as a Python int (reading ``state.step`` would wait for the device).

The batch hooks cost the step loop something only when a callback defines them: the trainer
then builds a state object per step (and returns the model output for ``on_batch_end``), which
on a tiny model costs about a third of a step. Hooks that run at intervals (logging,
evaluation, epochs) cost nothing between them.
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any, Generic, Sequence

import jax
from typing_extensions import TypeVar

from formed.core import Registrable
from formed.training._exceptions import StopEarly
from formed.training._metrics import BaseEvaluator, IEvaluator
from formed.training._state import TrainState

if TYPE_CHECKING:
    from flax import nnx

    from formed.training._trainer import FlaxTrainer

ModelInputT = TypeVar("ModelInputT", default=Any)
ModelOutputT = TypeVar("ModelOutputT", default=Any)


class FlaxTrainingCallback(Registrable):
    """Base class of training callbacks; every hook does nothing by default.

    A callback of your own, named in a config by its registered name:

    >>> from formed.core import from_config
    >>> @FlaxTrainingCallback.register("print_epochs")
    ... class PrintEpochs(FlaxTrainingCallback):
    ...     def on_epoch_end(self, trainer, model, state, epoch):
    ...         print(f"epoch {epoch} ended at step {trainer.global_step}")
    >>> type(from_config(FlaxTrainingCallback, {"type": "print_epochs"})).__name__
    'PrintEpochs'
    """

    #: Whether this callback may hold on to a ``state`` after the hook that received it returns.
    #: When no callback does, each step reuses the previous state's device buffers (donation);
    #: set it to ``False`` on a callback that only reads states during its hooks.
    keeps_states: bool = True

    def on_training_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> None:
        pass

    def on_training_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> TrainState | None:
        """Runs once after training (also after `StopEarly`); a returned state replaces the final one."""
        return None

    def on_epoch_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, epoch: int) -> None:
        pass

    def on_epoch_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, epoch: int) -> None:
        pass

    def on_batch_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, epoch: int) -> None:
        pass

    def on_batch_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, epoch: int, output: Any) -> None:
        pass

    def on_eval_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> IEvaluator | None:
        """Runs before an evaluation; an evaluator returned here is updated with every
        validation batch and its metrics go to ``on_eval_end``."""
        return None

    def on_eval_end(
        self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, metrics: dict[str, float], prefix: str = ""
    ) -> None:
        pass

    def on_log(
        self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, metrics: dict[str, float], prefix: str = ""
    ) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        """What this callback must remember for a resumed run to behave like an uninterrupted one.

        An addition to the reference API: `CheckpointCallback` saves the state dicts of all the
        trainer's callbacks with each checkpoint, and the `train` binary gives them back through
        `load_state_dict` when it resumes. Values are JSON-compatible, or `TrainState` (saved as
        arrays beside the training state). Empty (nothing to remember) by default.
        """
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores what `state_dict` returned, before ``on_training_start`` of the resumed run."""


@FlaxTrainingCallback.register("evaluation")
class EvaluationCallback(FlaxTrainingCallback, Generic[ModelInputT, ModelOutputT]):
    """Adds an evaluator's metrics to every evaluation (it is reset before each one).

    Args:
        evaluator: any `IEvaluator`; from a config, a registered `BaseEvaluator`, e.g.
            ``{"type": "multi", "evaluators": [{"type": "accuracy"}, {"type": "fbeta", "average": "macro"}]}``.
    """

    keeps_states = False

    def __init__(self, evaluator: BaseEvaluator | IEvaluator) -> None:
        self.evaluator = evaluator

    def on_eval_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> IEvaluator:
        self.evaluator.reset()
        return self.evaluator


def evaluators_of(callbacks: Sequence[FlaxTrainingCallback], trainer: FlaxTrainer, model: Any, state: Any) -> list[IEvaluator]:
    """The evaluators that `callbacks` return from ``on_eval_start`` (each reset by its callback),
    for one evaluation."""
    return [evaluator for callback in callbacks if (evaluator := callback.on_eval_start(trainer, model, state)) is not None]


def parse_metric(metric: str) -> tuple[str, float]:
    """``"-loss"`` -> ``("loss", -1.0)``; ``"+accuracy"`` or ``"accuracy"`` -> ``("accuracy", 1.0)``.

    The sign multiplies the metric into a score where larger is better: ``-loss`` maximises
    the negated loss (the loss should go down), ``+accuracy`` maximises the accuracy.
    """
    if metric.startswith("-"):
        return metric[1:], -1.0
    if metric.startswith("+"):
        return metric[1:], 1.0
    return metric, 1.0


def lookup_metric(metrics: dict[str, float], name: str, prefix: str) -> float | None:
    """`name` as given (e.g. ``"val/loss"``), or with the evaluation prefix added (``"loss"``)."""
    if prefix and name.startswith(prefix) and name[len(prefix):] in metrics:
        return metrics[name[len(prefix):]]
    if name in metrics:
        return metrics[name]
    return None


def improvement(
    metrics: dict[str, float], metric: str, prefix: str, best_score: float | None, watcher: str
) -> tuple[float, float] | None:
    """``(value, score)`` of the watched `metric` (``"-loss"``, ``"+accuracy"``: see `parse_metric`)
    in `metrics` if its score beats `best_score` (``None``: nothing seen yet), else ``None``.

    What early stopping and checkpointing share to keep "the best so far".

    >>> improvement({"loss": 0.5}, "-loss", "val/", None, "EarlyStoppingCallback")
    (0.5, -0.5)
    >>> improvement({"loss": 0.7}, "-val/loss", "val/", -0.5, "EarlyStoppingCallback") is None
    True
    >>> improvement({"loss": 0.5}, "+accuracy", "val/", None, "CheckpointCallback")
    Traceback (most recent call last):
    ...
    ValueError: CheckpointCallback watches 'accuracy', but the evaluation reported only ['loss'] (prefix 'val/'); set metric= to one of them

    Raises:
        ValueError: if `metrics` has no such metric, naming `watcher` and the metrics it has.
    """
    name, sign = parse_metric(metric)
    value = lookup_metric(metrics, name, prefix)
    if value is None:
        raise ValueError(
            f"{watcher} watches {name!r}, but the evaluation reported only {sorted(metrics)} (prefix {prefix!r}); "
            "set metric= to one of them"
        )
    score = sign * value
    if best_score is None or score > best_score:
        return value, score
    return None


@FlaxTrainingCallback.register("early_stopping")
class EarlyStoppingCallback(FlaxTrainingCallback):
    """Stops training when a validation metric has not improved for `patience` evaluations,
    and restores the best state at the end of training.

    Args:
        patience: evaluations without improvement before raising `StopEarly`.
        metric: the metric to watch with its direction: ``score = sign * value`` must grow.
            ``"-loss"`` (the default) wants the loss to fall, ``"+accuracy"`` the accuracy to
            rise. The name may carry the validation prefix (``"-val/loss"``) or not (``"-loss"``).
        directory: where the best state is saved; the `train` binary and the ``flax::train``
            workflow step set ``<work directory>/best`` (through `set_workdir`).

    The best model is saved once per improvement: with a directory, as a checkpoint there (an
    asynchronous orbax save through `CheckpointDirectory`, which keeps the latest step only), so a
    crash after an improvement does not lose it and the training checkpoints do not carry a
    second copy of it;
    without one (plain Python), as a copy in host memory. ``on_training_end`` returns the best
    state (whether training stopped early or ran all epochs).
    """

    keeps_states = False  # the best state is copied (to disk, or to the host) when it is seen

    def __init__(self, patience: int = 5, metric: str = "-loss", directory: str | None = None) -> None:
        if patience < 1:
            raise ValueError(f"patience must be at least 1, got {patience}")
        self.patience = patience
        self.metric = metric
        self.metric_name, self.sign = parse_metric(metric)
        self.directory = directory
        self.best_score: float | None = None
        self.best_step: int | None = None
        self.best_state: TrainState | None = None
        self.evaluations_without_improvement = 0
        self._restored = False
        self._best_checkpoints: Any = None  # the CheckpointDirectory of `directory`, once used

    def set_workdir(self, workdir: str) -> None:
        """Saves the best state under ``<workdir>/best`` unless a directory was given."""
        if self.directory is None:
            self.directory = os.path.join(workdir, "best")

    def on_training_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> None:
        if self._restored:  # a resumed run continues the count of the interrupted one
            self._restored = False
            return
        self.best_score = None
        self.best_step = None
        self.best_state = None
        self.evaluations_without_improvement = 0

    def state_dict(self) -> dict[str, Any]:
        saved: dict[str, Any] = {
            "best_score": self.best_score,
            "best_step": self.best_step,
            "evaluations_without_improvement": self.evaluations_without_improvement,
        }
        if self.directory is None:  # no directory of its own: the best state travels with the checkpoint
            saved["best_state"] = self.best_state
        return saved

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = state_dict["best_score"]
        self.best_step = state_dict["best_step"]
        self.best_state = state_dict.get("best_state")
        self.evaluations_without_improvement = int(state_dict["evaluations_without_improvement"])
        self._restored = True

    def on_eval_end(
        self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, metrics: dict[str, float], prefix: str = ""
    ) -> None:
        improved = improvement(metrics, self.metric, prefix, self.best_score, "EarlyStoppingCallback")
        if improved is not None:
            value, self.best_score = improved
            self.best_step = getattr(trainer, "global_step", None)
            self._save_best(trainer, state, {self.metric_name: value})
            self.evaluations_without_improvement = 0
            return
        self.evaluations_without_improvement += 1
        if self.evaluations_without_improvement >= self.patience:
            best = "none yet" if self.best_score is None else f"{self.sign * self.best_score:.6g}"
            raise StopEarly(
                f"{self.metric_name} has not improved for {self.patience} evaluations (best {best} at step {self.best_step})"
            )

    def _best_directory(self) -> Any:
        """The `CheckpointDirectory` of `directory` (kept open: the next save and the end of
        training wait for the save in progress)."""
        from formed.training._checkpoints import CheckpointDirectory  # checkpoints imports this module

        assert self.directory is not None
        if self._best_checkpoints is None or self._best_checkpoints.directory != os.path.abspath(self.directory):
            self._best_checkpoints = CheckpointDirectory(self.directory, keep_last=1)
        return self._best_checkpoints

    def _save_best(self, trainer: FlaxTrainer, state: TrainState, metrics: dict[str, float]) -> None:
        """Saves `state` as the best so far."""
        if self.directory is None:
            # A host copy: the device buffers of `state` may be donated to the next step.
            self.best_state = jax.device_get(trainer.distributor.unreplicate(state))
            return
        from formed.training._checkpoints import saveable_state

        self._best_directory().save(saveable_state(trainer.distributor, state), self.best_step or 0, metrics, best=True)

    def on_training_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> TrainState | None:
        if self.directory is not None and self.best_step is not None:
            best = self._best_directory()
            recorded = best.recorded_steps()  # waits for the save in progress
            if recorded:
                return best.restore(state, self.best_step if self.best_step in recorded else recorded[-1])
        if self.best_state is None:
            return None
        return jax.device_put(copy.copy(self.best_state))
