"""`FlaxTrainer`: the training loop.

The loop is deliberately plain. Per step it shards the batch, calls the compiled step function
and runs the batch hooks; it never waits for the device. The compiled step takes and returns the
state's arrays as a flat list (see `_CompiledSteps`); the `TrainState` object is built from it
only where something reads it: for the callbacks that define batch hooks, and at logs,
evaluations and epoch ends. The compiled step also adds the loss to
a running sum on the device, so logging reads one number per interval (no per-step transfer, no
host-side list of arrays to stack). The host reads device values only when metrics are logged or
a model is evaluated, so it runs ahead, queueing steps while the `DataLoader`'s thread collates
the next batches.

Callbacks get the state as it is: under `DataParallelDistributor` it is mirrored (one array held
whole on every device), so it reads like a single-device state and costs nothing per step. The
step donates the state's buffers to the next step only when no callback keeps states
(``keeps_states`` is false on every callback, as on all of formed's own); otherwise states stay
valid after their step, at the price of holding two states in device memory during a step, and
still without a copy.

Resuming: given a ``state`` whose step is ``s``, training continues at epoch
``s // steps_per_epoch`` and skips the first ``s % steps_per_epoch`` batches of that epoch; the
sampler's ``set_epoch`` makes the data order the one an uninterrupted run would have seen.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Any, Callable, Generic, Iterable, Literal, Sequence, Sized

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from typing_extensions import TypeVar

from formed.core import Registrable, RngsLike
from formed.data import DataLoader
from formed.training._callbacks import FlaxTrainingCallback, evaluators_of
from formed.training._distributors import BaseDistributor, SingleDeviceDistributor
from formed.training._engine import DefaultFlaxTrainingEngine, FlaxTrainingEngine, get_loss
from formed.training._exceptions import NonFiniteLossError, StopEarly
from formed.training._metrics import IEvaluator
from formed.training._profiling import ProfileCallback, check_profile_steps
from formed.training._progress import ProgressBar
from formed.training._state import TrainState

ItemT = TypeVar("ItemT", default=Any)
ModelInputT = TypeVar("ModelInputT", default=Any)
ModelOutputT = TypeVar("ModelOutputT", default=Any)
ModelParamsT = TypeVar("ModelParamsT", default=Any)

Strategy = Literal["epoch", "step"]
# A data loader maps a dataset to an iterable of batches (one pass = one epoch), e.g.
# `formed.data.DataLoader`; a `sampler` attribute with `set_epoch` makes resuming exact.
DataLoaderLike = Callable[[Sequence[Any]], Iterable[Any]]


class FlaxTrainer(Registrable, Generic[ItemT, ModelInputT, ModelOutputT, ModelParamsT]):
    """Trains a Flax NNX model with an engine, a distributor and callbacks (an Equinox model
    with `EquinoxTrainingEngine`: the loop only sees the engine's state, a pytree of arrays).

    Registered as ``"flax_trainer"`` (and the default), so a config may name it, as the
    reference's workflow example does (``trainer: {type: "flax_trainer", ...}``), or leave the
    type out.

    Args:
        train_dataloader: maps the training dataset to batches: a `formed.data.DataLoader`
            (built from a config) or any ``dataset -> iterable of batches`` function.
        val_dataloader: the same for the validation dataset.
        engine: computes steps; `DefaultFlaxTrainingEngine()` by default.
        callbacks: hooks run in the documented order (see `formed.training.callbacks`).
        distributor: device placement; `SingleDeviceDistributor()` by default.
        max_epochs: epochs to train.
        eval_strategy: evaluate every `eval_interval` ``"epoch"``s or ``"step"``s.
        eval_interval: see `eval_strategy`.
        logging_strategy: log training metrics every `logging_interval` ``"epoch"``s or ``"step"``s.
        logging_interval: see `logging_strategy`.
        logging_first_step: also log after the first step.
        train_prefix: prefix of training metric names in logs (``"train/loss"``).
        val_prefix: prefix of validation metric names (``"val/loss"``).
        progress: show progress on stderr: a line redrawn in place on a terminal, else a
            logged line every `progress_interval` seconds and one per evaluation.
        progress_interval: seconds between progress lines when stderr is not a terminal.
        profile_steps: ``(start, stop)``: record a `jax.profiler` trace of those steps (counted
            from 1) for TensorBoard's profile plugin (see `formed.training.profiling`).
        clock: seconds from any origin, for the progress rate (tests pass a fake clock).

    Example::

        trainer = FlaxTrainer(train_dataloader=train_loader, val_dataloader=val_loader,
                              engine=DefaultFlaxTrainingEngine(optimizer=optax.adamw(1e-3)),
                              max_epochs=10, callbacks=[EarlyStoppingCallback(patience=3)])
        state = trainer.train(model, train_items, val_items)
        model = nnx.merge(state.graphdef, state.params, *state.additional_states)
    """

    default_implementation = "flax_trainer"

    def __init__(
        self,
        *,
        train_dataloader: DataLoader | DataLoaderLike,
        val_dataloader: DataLoader | DataLoaderLike | None = None,
        engine: FlaxTrainingEngine | None = None,
        callbacks: Sequence[FlaxTrainingCallback] = (),
        distributor: BaseDistributor | None = None,
        max_epochs: int = 10,
        eval_strategy: Strategy = "epoch",
        eval_interval: int = 1,
        logging_strategy: Strategy = "epoch",
        logging_interval: int = 1,
        logging_first_step: bool = True,
        train_prefix: str = "train/",
        val_prefix: str = "val/",
        progress: bool = True,
        progress_interval: float = 10.0,
        profile_steps: Sequence[int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, strategy in (("eval_strategy", eval_strategy), ("logging_strategy", logging_strategy)):
            if strategy not in ("epoch", "step"):
                raise ValueError(f"{name} must be 'epoch' or 'step', got {strategy!r}")
        for name, interval in (("eval_interval", eval_interval), ("logging_interval", logging_interval), ("max_epochs", max_epochs)):
            if interval < 1:
                raise ValueError(f"{name} must be at least 1, got {interval}")
        self.train_dataloader = train_dataloader
        self.val_dataloader = val_dataloader
        self.engine = engine if engine is not None else DefaultFlaxTrainingEngine()
        self.callbacks = list(callbacks)
        self.distributor = distributor if distributor is not None else SingleDeviceDistributor()
        self.max_epochs = max_epochs
        self.eval_strategy = eval_strategy
        self.eval_interval = eval_interval
        self.logging_strategy = logging_strategy
        self.logging_interval = logging_interval
        self.logging_first_step = logging_first_step
        self.train_prefix = train_prefix
        self.val_prefix = val_prefix
        self.progress = progress
        if not progress_interval > 0:
            raise ValueError(f"progress_interval must be a positive number of seconds, got {progress_interval!r}")
        self.progress_interval = progress_interval
        self.clock = clock
        self.profile_steps = check_profile_steps(profile_steps) if profile_steps is not None else None
        if self.profile_steps is not None:
            self.callbacks.append(ProfileCallback(self.profile_steps))
        # Host-side counters: callbacks read these instead of waiting for `state.step`.
        self.global_step = 0
        # Why the last `train` ended before its last epoch (a `StopEarly` message), or None.
        self.stop_reason: str | None = None
        self.epoch = 0
        self.steps_per_epoch = 0
        self._compiled: _CompiledSteps | None = None
        self._losses: _LossSum | None = None
        self._progress: ProgressBar | None = None

    @property
    def steps_per_sec(self) -> float | None:
        """Training steps per second over recent steps, as the progress line shows it
        (compilation and evaluations left out); None outside `train`."""
        return None if self._progress is None else self._progress.rate

    def compiled_steps(self, state: TrainState) -> _CompiledSteps:
        """The train and eval steps compiled for states shaped like `state` (cached).

        The compiled functions take only the array fields of the state: the static fields
        (``graphdef``, ``tx``) are closed over. Passed as arguments, they would be hashed on
        every call, and hashing an nnx ``GraphDef`` costs more than a small model's whole step.
        """
        static = _static_fields(state)
        treedef = jax.tree.structure(_dynamic_fields(state))
        donate = self.donates_state
        returns_output = bool(self._batch_hooks("on_batch_end"))
        cached = self._compiled
        if (
            cached is None
            or not _same_static(cached.static, static)
            or cached.treedef != treedef
            or (cached.donate, cached.returns_output) != (donate, returns_output)
        ):
            cached = self._compiled = _CompiledSteps(self, type(state), static, treedef, donate, returns_output)
        return cached

    def _batch_hooks(self, hook: str) -> list[FlaxTrainingCallback]:
        """The callbacks that do something in `hook` (``on_batch_start`` / ``on_batch_end``): the
        step loop builds a state object for them, and returns the model output only when some
        callback reads it."""
        base = getattr(FlaxTrainingCallback, hook)
        return [cb for cb in self.callbacks if getattr(type(cb), hook, base) is not base or hook in getattr(cb, "__dict__", {})]

    @property
    def donates_state(self) -> bool:
        """Whether a step reuses the previous state's buffers: only when no callback keeps states."""
        return not any(getattr(callback, "keeps_states", True) for callback in self.callbacks)

    def _loss_of(self, output: Any) -> Any:
        accessor = getattr(self.engine, "loss", "loss")
        try:
            return get_loss(output, accessor)
        except (AttributeError, KeyError, TypeError):
            return None

    def evaluate(
        self,
        model: Any,
        state: TrainState,
        dataset: Sequence[ItemT],
        dataloader: DataLoaderLike | None = None,
        evaluators: Sequence[IEvaluator] = (),
    ) -> dict[str, float]:
        """Metrics of `state` on `dataset`: the mean loss plus those of `evaluators`.

        `state` may be any state: one a callback received, or one returned by `train`. Runs no hooks.
        """
        loader = dataloader or self.val_dataloader
        if loader is None:
            raise ValueError("evaluate needs a dataloader: give val_dataloader to the trainer or dataloader= here")
        distributor = self.distributor
        _share_between_processes(loader, distributor, "the evaluation dataloader")
        steps = self.compiled_steps(state)
        dynamic = distributor.mirror(_dynamic_fields(state))
        losses = []
        for batch in loader(dataset):
            output = distributor.unshard(steps.eval_step(distributor.shard(batch), dynamic, self))
            loss = self._loss_of(output)
            if loss is not None:
                losses.append(loss)
            if evaluators and distributor.process_count > 1:
                batch, output = distributor.gather((batch, output))  # every process's rows
            for evaluator in evaluators:
                evaluator.update(batch, output)
        metrics: dict[str, float] = {}
        if losses:
            metrics["loss"] = float(np.mean(np.asarray(jax.device_get(losses), dtype=np.float32)))
        for evaluator in evaluators:
            metrics.update(evaluator.compute())
        return metrics

    def _validate(self, model: Any, state: TrainState, val_dataset: Sequence[ItemT]) -> dict[str, float]:
        evaluators = evaluators_of(self.callbacks, self, model, state)
        metrics = self.evaluate(model, state, val_dataset, evaluators=evaluators)
        try:
            for callback in self.callbacks:
                callback.on_eval_end(self, model, state, metrics, prefix=self.val_prefix)
        finally:
            # Also when a callback stops training here (early stopping): the evaluation that
            # decided it is logged like every other.
            for callback in self.callbacks:
                callback.on_log(self, model, state, metrics, prefix=self.val_prefix)
        return metrics

    def check_finite(self) -> None:
        """Raises `NonFiniteLossError` if the loss of any step trained so far was not finite.

        Reads one device scalar (it waits for the queued steps): the trainer calls it before
        every evaluation, and `CheckpointCallback` before every save, where the host waits for
        the device anyway. Does nothing outside `train`.
        """
        if self._losses is not None:
            self._raise_if_nonfinite(self._losses.first_nonfinite_step())

    def _raise_if_nonfinite(self, step: int | None) -> None:
        if step is not None:
            epoch = (step - 1) // max(self.steps_per_epoch, 1) + 1
            raise NonFiniteLossError(step=step, epoch=epoch)

    def _log_train(self, model: Any, state: TrainState, losses: _LossSum) -> dict[str, float]:
        metrics, first_nonfinite = losses.read_and_reset(has_loss=self._compiled is None or self._compiled.has_loss)
        self._raise_if_nonfinite(first_nonfinite)
        for callback in self.callbacks:
            callback.on_log(self, model, state, metrics, prefix=self.train_prefix)
        return metrics

    def _report(
        self,
        model: Any,
        state: TrainState,
        val_dataset: Sequence[ItemT] | None,
        losses: _LossSum | None,
        progress: ProgressBar,
    ) -> None:
        """Evaluates (if `val_dataset`) then logs training metrics (if `losses`), in hook order."""
        if val_dataset is not None:
            self.check_finite()  # a diverged model's metrics would be logged and compared
            progress.start_evaluation()
            metrics = self._validate(model, state, val_dataset)
            progress.end_evaluation(metrics, self.val_prefix, epoch=self.epoch)
        if losses is not None:
            progress.set_metrics(self._log_train(model, state, losses), self.train_prefix)
        progress.refresh()

    def train(
        self,
        model: Any,
        train_dataset: Sequence[ItemT],
        val_dataset: Sequence[ItemT] | None = None,
        state: TrainState | None = None,
        rngs: RngsLike | None = None,
    ) -> TrainState:
        """Trains `model` and returns the final state (the model object itself is not changed).

        Args:
            model: the model to train.
            train_dataset: training items, batched by `train_dataloader`.
            val_dataset: validation items, batched by `val_dataloader`.
            state: a state to resume from (e.g. a restored checkpoint); created by the engine
                from `model` when absent.
            rngs: passed to ``engine.create_state``.

        Raises:
            ValueError: if `val_dataset` is given without a `val_dataloader`, or the training
                dataset yields no batch.
        """
        if val_dataset is not None and self.val_dataloader is None:
            raise ValueError("val_dataset was given but the trainer has no val_dataloader")
        if state is None:
            state = self.engine.create_state(rngs, self, model)
        if self.donates_state:
            # Copy once: the step donates the state's buffers, which may be shared with `model` or the caller.
            state = jax.tree.map(lambda x: x.copy() if isinstance(x, jax.Array) else x, state)
        _share_between_processes(self.train_dataloader, self.distributor, "train_dataloader")
        train_batches: Iterable[Any] = self.train_dataloader(train_dataset)
        if not isinstance(train_batches, Sized):
            train_batches = list(train_batches)
        try:
            steps_per_epoch = len(train_batches)
        except TypeError:  # a length known only after a pass
            train_batches = list(train_batches)
            steps_per_epoch = len(train_batches)
        if steps_per_epoch == 0:
            raise ValueError(f"the training dataset ({len(train_dataset)} items) gives no batch; check the batch size")
        self.stop_reason = None
        start_step = int(state.step)  # the one read of a device value before the loop
        start_epoch, skip = divmod(start_step, steps_per_epoch)
        self.steps_per_epoch = steps_per_epoch
        self.global_step = start_step
        sampler = getattr(self.train_dataloader, "sampler", None)

        distributor = self.distributor
        steps = self.compiled_steps(state)
        train_step, as_state = steps.train_step, steps.as_state
        leaves = distributor.mirror(steps.flatten(state))
        state = as_state(leaves)
        # Only the hooks that do something run per step, and only they make the loop build a
        # state object per step (see `_CompiledSteps`; `as_state` builds each step's once).
        start_hooks, end_hooks = self._batch_hooks("on_batch_start"), self._batch_hooks("on_batch_end")
        progress = self._progress = ProgressBar(
            self.max_epochs * steps_per_epoch,
            initial=start_step,
            enabled=self.progress and distributor.process_index == 0,
            log_interval=self.progress_interval,
            clock=self.clock,
        )
        losses = self._losses = _LossSum(distributor, getattr(self.engine, "step_metrics", ()))
        for callback in self.callbacks:
            callback.on_training_start(self, model, state)
        try:
            for epoch in range(start_epoch + 1, self.max_epochs + 1):
                self.epoch = epoch
                progress.set_description(f"epoch {epoch}/{self.max_epochs}")
                if sampler is not None and hasattr(sampler, "set_epoch"):
                    sampler.set_epoch(epoch - 1)
                state = as_state(leaves)
                for callback in self.callbacks:
                    callback.on_epoch_start(self, model, state, epoch)
                batches: Iterable[Any] = train_batches
                if epoch == start_epoch + 1 and skip:
                    batches = itertools.islice(train_batches, skip, None)
                for batch in batches:
                    if start_hooks:
                        state = as_state(leaves)
                        for callback in start_hooks:
                            callback.on_batch_start(self, model, state, epoch)
                    leaves, output, losses.total = train_step(distributor.shard(batch), leaves, losses.total, self)
                    losses.count += 1
                    self.global_step += 1
                    step = self.global_step
                    progress.update()
                    if end_hooks:
                        state = as_state(leaves)
                        output = distributor.unshard(output)
                        for callback in end_hooks:
                            callback.on_batch_end(self, model, state, epoch, output)
                    evaluate = self.eval_strategy == "step" and val_dataset is not None and step % self.eval_interval == 0
                    log = (self.logging_strategy == "step" and step % self.logging_interval == 0) or (
                        self.logging_first_step and step == 1
                    )
                    if evaluate or log:
                        self._report(model, as_state(leaves), val_dataset if evaluate else None, losses if log else None, progress)
                state = as_state(leaves)
                evaluate = self.eval_strategy == "epoch" and val_dataset is not None and epoch % self.eval_interval == 0
                log = self.logging_strategy == "epoch" and epoch % self.logging_interval == 0
                if evaluate or log:
                    self._report(model, state, val_dataset if evaluate else None, losses if log else None, progress)
                for callback in self.callbacks:
                    callback.on_epoch_end(self, model, state, epoch)
            self.check_finite()
        except StopEarly as stop:
            self.stop_reason = str(stop)
            self.check_finite()
            progress.message(f"stopping early: {stop}")
        finally:
            progress.close()
            close = getattr(train_batches, "close", None)
            if callable(close):
                close()
        self._losses = None
        state = as_state(distributor.unreplicate(leaves))  # this process's copy (the same object on one process)
        for callback in self.callbacks:
            replacement = callback.on_training_end(self, model, state)
            if replacement is not None:
                state = replacement
        return state


def _share_between_processes(loader: Any, distributor: BaseDistributor, what: str) -> None:
    """With several processes, makes `loader`'s sampler yield this process's rows of each batch.

    Raises:
        ValueError: if the loader has no sampler to split (a plain function would give every
            process the whole batch).
    """
    if distributor.process_count == 1:
        return
    sampler = getattr(loader, "sampler", None)
    if sampler is None or not hasattr(sampler, "set_process"):
        raise ValueError(
            f"{what}: training over {distributor.process_count} processes needs a DataLoader whose sampler "
            "gives each process its rows of every batch (formed.data.DataLoader with a BaseBatchSampler)"
        )
    sampler.set_process(distributor.process_index, distributor.process_count)


FlaxTrainer.register("flax_trainer")(FlaxTrainer)


def _static_fields(state: TrainState) -> dict[str, Any]:
    return {f.name: getattr(state, f.name) for f in dataclasses.fields(state) if not f.metadata.get("pytree_node", True)}


def _dynamic_fields(state: TrainState) -> dict[str, Any]:
    return {f.name: getattr(state, f.name) for f in dataclasses.fields(state) if f.metadata.get("pytree_node", True)}


def _same_static(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(a[k] is b[k] or a[k] == b[k] for k in a)


class _CompiledSteps:
    """The engine's steps compiled by the distributor over the array fields of a state.

    The training step takes and returns those fields as a flat list of arrays (`flatten` /
    `unflatten` convert): jit flattens a list in C++, while the nnx ``State`` and ``Variable``
    objects of a `TrainState` are flattened and rebuilt in Python on every call, which costs a
    small model a third of its step. The trainer builds a `TrainState` from the list only where
    something reads it (a hook, an evaluation, a log).
    """

    def __init__(
        self,
        trainer: FlaxTrainer,
        state_type: type[TrainState],
        static: dict[str, Any],
        treedef: Any,
        donate: bool,
        returns_output: bool,
    ) -> None:
        self.static = static
        self.state_type = state_type
        self.treedef = treedef
        self.donate = donate
        self.returns_output = returns_output
        self._last_leaves: list[jax.Array] | None = None
        self._last_state: Any = None
        engine = trainer.engine

        def train_step(
            inputs: Any, leaves: list[jax.Array], losses: dict[str, Any], trainer: FlaxTrainer
        ) -> tuple[list[jax.Array], Any, dict[str, Any]]:
            state, output, metrics = engine.train_step_with_metrics(inputs, state_type(**static, **jax.tree.unflatten(treedef, leaves)), trainer)
            loss = trainer._loss_of(output)
            first = losses["first_nonfinite_step"]
            finite = jnp.isfinite(metrics["grad_norm"]) if "grad_norm" in metrics else jnp.asarray(True)
            if loss is None:  # decided once, while tracing: the output has no loss to log
                self.has_loss = False
            else:
                loss = jnp.mean(loss).astype(jnp.float32)
                metrics = {**metrics, "loss": loss}
                finite = finite & jnp.isfinite(loss)
            # The first step whose loss (or gradient norm, when the engine reports it) is not finite.
            first = jnp.where((first < 0) & ~finite, jnp.asarray(state.step, first.dtype), first)
            sums = {
                name: total + metrics[name].astype(total.dtype) if name in metrics else total
                for name, total in losses["sums"].items()
            }
            new_leaves, new_treedef = jax.tree.flatten(_dynamic_fields(state))
            if new_treedef != treedef:
                raise ValueError(
                    f"{type(engine).__name__}.train_step returned a state shaped differently from the one it was "
                    f"given (the step must keep the state's structure):\n  given:    {treedef}\n  returned: {new_treedef}"
                )
            return new_leaves, output if returns_output else None, {"sums": sums, "first_nonfinite_step": first}

        def eval_step(inputs: Any, dynamic: dict[str, Any], trainer: FlaxTrainer) -> Any:
            return engine.eval_step(inputs, state_type(**static, **dynamic), trainer)

        self.has_loss = True
        # The state goes in and comes out mirrored; the batch, the output and the per-device loss
        # sum carry the device axis.
        self.train_step = trainer.distributor.map_with_state(
            train_step,
            static_argnums=(3,),
            donate_argnums=(1, 2) if donate else (2,),
            mirrored_argnums=(1,),
            mirrored_outputs=(True, False, False),
        )
        self.eval_step = trainer.distributor.map_with_state(eval_step, static_argnums=(2,), mirrored_argnums=(1,))

    def flatten(self, state: TrainState) -> list[jax.Array]:
        """The array fields of `state` as the list `train_step` takes."""
        return jax.tree.leaves(_dynamic_fields(state))

    def as_state(self, leaves: list[jax.Array]) -> TrainState:
        """The `TrainState` whose array fields are `leaves` (as `train_step` returns them); the
        same object again for the same list, so the loop can ask for it wherever it needs it."""
        if leaves is not self._last_leaves:
            self._last_state = self.state_type(**self.static, **jax.tree.unflatten(self.treedef, leaves))
            self._last_leaves = leaves
        return self._last_state


class _LossSum:
    """On the device: the training loss and the engine's step metrics (``grad_norm``) summed
    since the last log, and the first step whose loss was not finite (-1 while there is none),
    all carried through the compiled step; on the host: the number of steps since the last log."""

    def __init__(self, distributor: BaseDistributor, names: Sequence[str] = ()) -> None:
        self.distributor = distributor
        self.names = ("loss", *(name for name in names if name != "loss"))
        self.count = 0
        self.total = {
            "sums": self._zeros(),
            "first_nonfinite_step": distributor.replicate(jnp.full((), -1, dtype=jnp.int32)),
        }

    def _zeros(self) -> dict[str, jax.Array]:
        return self.distributor.replicate({name: jnp.zeros((), dtype=jnp.float32) for name in self.names})

    def first_nonfinite_step(self) -> int | None:
        """The first step whose loss was not finite, or None (one scalar transfer)."""
        steps = np.asarray(jax.device_get(self.distributor.gather(self.total["first_nonfinite_step"]))).reshape(-1)
        bad = steps[steps >= 0]
        return int(bad.min()) if bad.size else None

    def read_and_reset(self, has_loss: bool = True) -> tuple[dict[str, float], int | None]:
        """The means (``loss``, ``grad_norm``, ...) over the steps since the last call, or ``{}``,
        and the first step whose loss was not finite, or None (one transfer). Without
        `has_loss` (the model output has none), the loss is left out."""
        # `gather`: with several processes, the per-device values live on all of them.
        sums, steps = jax.device_get(
            self.distributor.gather((self.distributor.unshard(self.total["sums"]), self.total["first_nonfinite_step"]))
        )
        steps = np.asarray(steps).reshape(-1)
        bad = steps[steps >= 0]
        first = int(bad.min()) if bad.size else None
        if self.count == 0:
            return {}, first
        metrics = {name: float(sums[name]) / self.count for name in self.names if has_loss or name != "loss"}
        self.count = 0
        self.total = {**self.total, "sums": self._zeros()}
        return metrics, first
