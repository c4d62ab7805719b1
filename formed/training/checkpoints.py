"""Checkpoints: saving and restoring a `TrainState` with orbax, and `CheckpointCallback`.

Layout of a checkpoint directory (``<workdir>/checkpoints``)::

    step_00000120/     one orbax checkpoint per saved step (written to a temporary name, then
    step_00000180/     renamed by orbax: a crash never leaves a half-written step_* directory)
    index.json         {"checkpoints": [{"step": 120, "metrics": {...}}, ...], "best": 120}
                       (written to a temporary file, then renamed)

A run may be killed between any two of these writes. The index is written (empty) before the
first step, so a missing index beside step directories means it was lost, which is an error
(`CheckpointError`: it held the callbacks' states, the best mark and the checksums). A step
counts once the index records it (its entry, with a SHA-256 checksum of every file of the step,
and, if it is the new best, the best mark are one write); pruning removes index entries before
directories; what a killed save leaves behind is cleared by the next one.

Nothing damaged is trusted silently: restoring checks the recorded checksums (truncated, missing
or altered files) and that every restored float is finite, and resuming falls back, with a
warning naming each damaged step, to the newest intact checkpoint (forgetting the damaged ones,
so that training writes them again). If none is intact, it stops and says which directory to
remove. A state with a NaN or infinite value is never saved (`NonFiniteLossError`): the latest
checkpoint of a run that diverged is its last finite one.

A checkpoint holds every leaf of the state (parameters, optimizer state, non-parameter model
states such as dropout RNG streams, and the step), so a run resumed from it continues exactly;
`FlaxTrainer.train` derives the epoch and the batch offset from the step. It also holds what the
trainer's callbacks remember (their ``state_dict()``: e.g. early stopping's best score and
patience count, and its best state only when it has no directory of its own to save it in), so
that they too continue where they were. `CheckpointCallback` writes a step only after every
callback has run its hooks for that step (at the next ``on_batch_start``, ``on_epoch_start`` or
``on_training_end``), so those callback states belong to the saved step.

With several processes (``jax.distributed``), every process calls `CheckpointDirectory.save`
(orbax's save is collective) and only the first writes ``index.json`` and deletes old steps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from formed.training._callbacks import FlaxTrainingCallback, improvement, parse_metric
from formed.training._exceptions import NonFiniteLossError
from formed.training._json_files import write_json_atomically
from formed.training._state import TrainState

if TYPE_CHECKING:
    from flax import nnx

    from formed.training._trainer import FlaxTrainer

_STEP_DIR = re.compile(r"^step_(\d+)$")
# What a killed save leaves: orbax's temporary step directory, or our temporary index file.
_LEFTOVER = re.compile(r"^(step_\d+\..*orbax-checkpoint-tmp.*|\.tmp-.*\.json)$")
INDEX_FILE = "index.json"
# In index.json, stands for a callback state value of type TrainState saved in the orbax tree.
_SAVED_AS_ARRAYS = {"$saved_as_arrays": True}

CallbackStates = dict[str, dict[str, Any]]

_logger = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """A checkpoint directory that cannot be trusted or written; the message names the file or
    step, says what is lost and what to do."""


# How tensorstore (orbax's writer) names the OS error behind a failed write.
_OS_ERROR_CODE = re.compile(r"\[os_error_code='(\d+)'\]")


def _root_cause(error: BaseException) -> str:
    """The innermost OS error's message (``No space left on device``), also when tensorstore
    gives it only as a code (``... [os_error_code='28']``), else the error's first line."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        code = _OS_ERROR_CODE.search(str(seen))
        if code is not None:
            return os.strerror(int(code.group(1)))
        seen = seen.__cause__ or seen.__context__
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def file_checksums(directory: str) -> dict[str, str]:
    """``{relative path: SHA-256 hex digest}`` of every file under `directory`."""
    checksums: dict[str, str] = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            digest = hashlib.sha256()
            with open(path, "rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
            checksums[os.path.relpath(path, directory)] = digest.hexdigest()
    return dict(sorted(checksums.items()))


def nonfinite_arrays(arrays: Any) -> list[str]:
    """The keys (``"state/00012"``) of the float arrays in a nested dict that hold NaN or inf."""
    found: list[str] = []

    def visit(node: Any, key: str) -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                visit(value, f"{key}/{name}" if key else str(name))
            return
        value = np.asarray(node)
        if np.issubdtype(value.dtype, np.inexact) and not np.all(np.isfinite(value)):
            found.append(key)

    visit(arrays, "")
    return found


def callback_key(position: int, callback: Any) -> str:
    """How a callback's state is filed: its position in the list and its class name, so that
    a changed callback list restores nothing into the wrong callback."""
    return f"{position}:{type(callback).__name__}"


def _split_callback_states(states: CallbackStates) -> tuple[CallbackStates, dict[str, dict[str, TrainState]]]:
    """Separates `TrainState` values (saved as arrays) from JSON values (saved in the index)."""
    as_json: CallbackStates = {}
    as_arrays: dict[str, dict[str, TrainState]] = {}
    for key, values in states.items():
        as_json[key] = {}
        for name, value in values.items():
            if isinstance(value, TrainState):
                as_arrays.setdefault(key, {})[name] = value
                as_json[key][name] = dict(_SAVED_AS_ARRAYS)
            else:
                try:
                    json.dumps(value)
                except (TypeError, ValueError) as error:
                    raise TypeError(
                        f"callback {key}: state_dict()[{name!r}] is neither JSON-compatible nor a TrainState ({error})"
                    ) from None
                as_json[key][name] = value
    return as_json, as_arrays


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def state_to_arrays(state: TrainState) -> dict[str, np.ndarray]:
    """The leaves of `state` as host arrays keyed by position (PRNG keys as their raw data)."""
    leaves = jax.tree.leaves(state)
    leaves = [jax.random.key_data(x) if _is_key(x) else x for x in leaves]
    return {f"{i:05d}": np.asarray(x) for i, x in enumerate(jax.device_get(leaves))}


def arrays_to_state(arrays: dict[str, Any], template: TrainState) -> TrainState:
    """Puts saved leaves into the structure of `template` (e.g. a fresh state of the same model).

    Raises:
        ValueError: if the number or shapes of the leaves differ from the template's, i.e. the
            checkpoint belongs to another model or optimizer configuration.
    """
    leaves, treedef = jax.tree.flatten(template)
    if len(arrays) != len(leaves):
        raise ValueError(
            f"the checkpoint has {len(arrays)} arrays but the state has {len(leaves)}: it was written "
            "for a different model or optimizer configuration"
        )
    restored = []
    for i, leaf in enumerate(leaves):
        value = np.asarray(arrays[f"{i:05d}"])
        if _is_key(leaf):
            restored.append(jax.random.wrap_key_data(jax.numpy.asarray(value), impl=jax.random.key_impl(leaf)))
            continue
        if np.shape(value) != np.shape(leaf):
            raise ValueError(f"checkpoint array {i} has shape {np.shape(value)}, the state expects {np.shape(leaf)}")
        restored.append(jax.numpy.asarray(value, dtype=getattr(leaf, "dtype", None)))
    return jax.tree.unflatten(treedef, restored)


def _sync_processes(name: str) -> None:
    """Waits for every process of a multi-process run to get here (nothing on one process)."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)


def _write_json_atomically(path: str, data: Any) -> None:
    try:
        write_json_atomically(path, data, indent=1, sort_keys=False)
    except OSError as error:
        raise CheckpointError(f"cannot write {path}: {_root_cause(error)}") from None


class CheckpointDirectory:
    """The saved steps of one run, with retention of the last N and of the best."""

    def __init__(self, directory: str) -> None:
        self.directory = os.path.abspath(directory)
        self._checkpointer: ocp.PyTreeCheckpointer | None = None

    @property
    def checkpointer(self) -> ocp.PyTreeCheckpointer:
        if self._checkpointer is None:
            self._checkpointer = ocp.PyTreeCheckpointer()
        return self._checkpointer

    def path(self, step: int) -> str:
        return os.path.join(self.directory, f"step_{step:08d}")

    def _lost_index_error(self, problem: str) -> CheckpointError:
        steps = ", ".join(os.path.basename(self.path(step)) for step in self.steps()) or "none"
        return CheckpointError(
            f"{os.path.join(self.directory, INDEX_FILE)} {problem}. It records which checkpoints are complete, "
            "their checksums, the best checkpoint and the callbacks' states (e.g. early stopping's best model "
            f"and patience); without it these are lost and resuming would change the run (checkpoints on disk: "
            f"{steps}). Restore the file, or remove {self.directory} to train from scratch."
        )

    def read_index(self) -> dict[str, Any]:
        """The parsed ``index.json``; an empty index where there is neither it nor a step.

        Raises:
            CheckpointError: if the index is missing beside step directories, unreadable, or not
                the structure this module writes.
        """
        path = os.path.join(self.directory, INDEX_FILE)
        if not os.path.exists(path):
            if self.steps():
                raise self._lost_index_error("is missing")
            return {"checkpoints": [], "best": None}
        try:
            with open(path, encoding="utf-8") as file:
                index = json.load(file)
        except json.JSONDecodeError as error:
            raise self._lost_index_error(f"is unreadable (line {error.lineno}, column {error.colno}: {error.msg})") from None
        except (OSError, UnicodeDecodeError) as error:
            raise self._lost_index_error(f"is unreadable ({_root_cause(error)})") from None
        if (
            not isinstance(index, dict)
            or not isinstance(index.get("checkpoints"), list)
            or not all(isinstance(e, dict) and isinstance(e.get("step"), int) for e in index["checkpoints"])
        ):
            raise self._lost_index_error("is not a checkpoint index (expected {\"checkpoints\": [{\"step\": ...}, ...]})")
        index.setdefault("best", None)
        return index

    def steps(self) -> list[int]:
        """Steps with a complete checkpoint on disk, ascending."""
        if not os.path.isdir(self.directory):
            return []
        found = (_STEP_DIR.match(name) for name in os.listdir(self.directory))
        return sorted(int(m.group(1)) for m in found if m is not None)

    def recorded_steps(self) -> list[int]:
        """Steps complete on disk and recorded in the index, ascending: those a run may resume from
        (a step directory the index does not know was left by a crash and is never trusted)."""
        recorded = {entry["step"] for entry in self.read_index()["checkpoints"]}
        return [step for step in self.steps() if step in recorded]

    def latest_step(self) -> int | None:
        """The newest step that is complete on disk and recorded in the index (not yet verified:
        `restore_with_callbacks` does that)."""
        steps = self.recorded_steps()
        return steps[-1] if steps else None

    def save(
        self,
        state: TrainState,
        step: int,
        metrics: dict[str, float] | None = None,
        callback_states: CallbackStates | None = None,
        best: bool = False,
    ) -> str:
        """Writes `state` (single-device layout) as ``step_<step>`` and records it in the index.

        `callback_states` maps `callback_key` to a callback's ``state_dict()``. Saving a step
        that exists already only updates its metrics in the index. With `best`, the same index
        write also makes this step the best one: a crash can never leave an index whose latest
        step is recorded but whose best is not yet the one that step's evaluation found.

        Raises:
            NonFiniteLossError: if the state holds a NaN or infinite value (nothing is written).
            CheckpointError: if the checkpoint cannot be written (disk full, permission denied).
        """
        name = os.path.basename(self.path(step))
        try:
            os.makedirs(self.directory, exist_ok=True)
        except OSError as error:
            raise CheckpointError(f"cannot write checkpoint {name} in {self.directory}: {_root_cause(error)}") from None
        path = self.path(step)
        as_json, as_arrays = _split_callback_states(callback_states or {})
        index_path = os.path.join(self.directory, INDEX_FILE)
        primary = jax.process_index() == 0  # with several processes, the first one writes the index
        if primary and not os.path.exists(index_path) and not self.steps():
            # Before the first step: from now on a missing index means a lost one.
            _write_json_atomically(index_path, {"checkpoints": [], "best": None})
        index = self.read_index()
        previous = next((entry for entry in index["checkpoints"] if entry["step"] == step), None)
        if primary and previous is None and os.path.exists(path):
            # Written by a run killed before it could record it: not trusted, written again.
            shutil.rmtree(path)
        _sync_processes(f"formed-checkpoint-{step}-cleared")
        checksums = (previous or {}).get("files")
        if not os.path.exists(path):
            tree: dict[str, Any] = {"state": state_to_arrays(state)}
            if as_arrays:
                tree["callbacks"] = {
                    key: {name: state_to_arrays(value) for name, value in values.items()} for key, values in as_arrays.items()
                }
            bad = nonfinite_arrays(tree)
            if bad:
                raise NonFiniteLossError(step=step, epoch=0, what=f"the training state ({len(bad)} arrays, e.g. {bad[0]})")
            try:
                self.checkpointer.save(path, tree)
                checksums = file_checksums(path)
            except Exception as error:  # orbax wraps OS errors in its own and in thread failures
                raise CheckpointError(f"cannot write checkpoint {name} in {self.directory}: {_root_cause(error)}") from None
        else:
            as_json = (previous or {}).get("callbacks", {})  # the arrays on disk belong to the first save
        entry = {
            "step": step,
            "metrics": {**(previous or {}).get("metrics", {}), **(metrics or {})},
            "callbacks": as_json,
            "files": checksums,
        }
        entries = [e for e in index["checkpoints"] if e["step"] != step] + [entry]
        index["checkpoints"] = sorted(entries, key=lambda e: e["step"])
        if best:
            index["best"] = step
        if primary:
            _write_json_atomically(index_path, index)
        _sync_processes(f"formed-checkpoint-{step}-indexed")  # every process now reads this index
        return path

    def damage(self, step: int) -> str | None:
        """Why the files of `step` cannot be trusted (missing, truncated or altered since they were
        saved, by the checksums the index records), or None if they match."""
        entry = next((e for e in self.read_index()["checkpoints"] if e["step"] == step), None)
        path = self.path(step)
        if entry is None:
            return "the index does not record it"
        if not os.path.isdir(path):
            return f"{path} is missing"
        recorded = entry.get("files")
        if recorded is None:
            return None  # written before checksums were recorded: only the finite check applies
        try:
            actual = file_checksums(path)
        except OSError as error:
            return f"cannot read its files ({_root_cause(error)})"
        missing = sorted(set(recorded) - set(actual))
        if missing:
            return f"{len(missing)} file(s) missing, e.g. {missing[0]}"
        altered = sorted(name for name in recorded if actual[name] != recorded[name])
        if altered:
            return f"{len(altered)} file(s) truncated or altered (checksum mismatch), e.g. {altered[0]}"
        return None

    def restore(self, template: TrainState, step: int | None = None) -> TrainState:
        """The state saved at `step` (the latest intact one by default), shaped like `template`."""
        return self.restore_with_callbacks(template, step)[0]

    def _restore_step(self, template: TrainState, step: int) -> tuple[TrainState, CallbackStates]:
        """Restores one step, verified: raises `CheckpointError` naming what is damaged."""
        name = os.path.basename(self.path(step))
        problem = self.damage(step)
        if problem is not None:
            raise CheckpointError(f"checkpoint {name} (step {step}) is damaged: {problem}")
        try:
            tree = self.checkpointer.restore(self.path(step))
        except Exception as error:  # orbax and tensorstore errors of unreadable files
            raise CheckpointError(f"checkpoint {name} (step {step}) is damaged: orbax cannot read it ({_root_cause(error)})") from None
        bad = nonfinite_arrays(tree)
        if bad:
            raise CheckpointError(f"checkpoint {name} (step {step}) is damaged: {len(bad)} array(s) hold NaN or inf, e.g. {bad[0]}")
        state = arrays_to_state(tree["state"], template)
        entry: dict[str, Any] = next((e for e in self.read_index()["checkpoints"] if e["step"] == step), {})
        callbacks: CallbackStates = {}
        for key, values in entry.get("callbacks", {}).items():
            callbacks[key] = {
                name: arrays_to_state(tree["callbacks"][key][name], template) if value == _SAVED_AS_ARRAYS else value
                for name, value in values.items()
            }
        return state, callbacks

    def restore_with_callbacks(self, template: TrainState, step: int | None = None) -> tuple[TrainState, CallbackStates]:
        """The state saved at `step` and the callback states saved with it, verified.

        Without `step`, the newest intact checkpoint: each newer damaged one is reported with a
        warning and forgotten (its index entry and directory go, so training writes it again).

        Raises:
            FileNotFoundError: if there is no checkpoint.
            CheckpointError: if `step` (or, without it, every checkpoint) is damaged, or the index is lost.
            ValueError: if the checkpoint was written for another model or optimizer.
        """
        if step is not None:
            return self._restore_step(template, step)
        steps = self.recorded_steps()
        if not steps:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        damaged: list[tuple[int, str]] = []
        for candidate in reversed(steps):
            try:
                restored = self._restore_step(template, candidate)
            except CheckpointError as error:
                _logger.warning("%s", error)
                damaged.append((candidate, str(error)))
                continue
            if damaged:
                _logger.warning(
                    "resuming from the newest intact checkpoint, step %d, instead of step %d; the damaged "
                    "checkpoint(s) are removed and training from step %d writes them again",
                    candidate, damaged[0][0], candidate,
                )
                self._forget([s for s, _ in damaged])
            return restored
        reasons = "; ".join(reason for _, reason in damaged)
        raise CheckpointError(
            f"no intact checkpoint in {self.directory}: {reasons}. Remove {self.directory} to train from scratch."
        )

    def _forget(self, steps: list[int]) -> None:
        """Drops damaged `steps` from the index (first) and the disk (then)."""
        index = self.read_index()
        index["checkpoints"] = [e for e in index["checkpoints"] if e["step"] not in steps]
        if index.get("best") in steps:
            _logger.warning("the best checkpoint (step %d) was damaged: the next evaluation sets a new best", index["best"])
            index["best"] = None
        _write_json_atomically(os.path.join(self.directory, INDEX_FILE), index)
        for step in steps:
            shutil.rmtree(self.path(step), ignore_errors=True)

    def resume(self, trainer: FlaxTrainer, template: TrainState) -> TrainState:
        """The latest intact saved state, after giving each of `trainer`'s callbacks the state it
        saved with that step: what a rerun needs before ``trainer.train(..., state=...)``."""
        state, callback_states = self.restore_with_callbacks(template)
        for position, callback in enumerate(trainer.callbacks):
            saved = callback_states.get(callback_key(position, callback))
            if saved:
                callback.load_state_dict(saved)
        return state

    def prune(self, keep_last: int) -> None:
        """Keeps the last `keep_last` recorded steps and the best one; deletes the rest.

        The index drops the steps first and the directories go after, so a crash in between
        leaves only directories the index no longer names: never an index entry without its
        checkpoint. What a killed save left (a step directory the index never recorded, a
        temporary directory or file) goes too. With several processes, the first one deletes.
        """
        if jax.process_index() != 0:
            return
        index = self.read_index()
        recorded = sorted(entry["step"] for entry in index["checkpoints"])
        keep = set(recorded[-keep_last:]) if keep_last > 0 else set()
        if index.get("best") is not None:
            keep.add(index["best"])
        if len(keep) < len(recorded):
            index["checkpoints"] = [entry for entry in index["checkpoints"] if entry["step"] in keep]
            _write_json_atomically(os.path.join(self.directory, INDEX_FILE), index)
        for step in self.steps():
            if step not in keep:
                shutil.rmtree(self.path(step), ignore_errors=True)
        for name in os.listdir(self.directory):
            if _LEFTOVER.match(name):
                path = os.path.join(self.directory, name)
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.remove(path)


@FlaxTrainingCallback.register("checkpoint")
class CheckpointCallback(FlaxTrainingCallback):
    """Saves the training state with orbax; keeps the last `keep_last` and the best.

    Args:
        directory: where checkpoints go; the `train` binary sets ``<workdir>/checkpoints``.
        interval: also save every `interval` steps (besides the end of every epoch).
        keep_last: how many of the most recent checkpoints to keep.
        metric: a validation metric with its sign, as in `EarlyStoppingCallback` (``"-loss"``,
            ``"+accuracy"``); the state at the best evaluation is saved and kept.

    A step is written once all callbacks have run their hooks for it: at the next
    ``on_batch_start`` or ``on_epoch_start``, or at ``on_training_end``. Each checkpoint also
    holds every callback's ``state_dict()``.

    Resume with ``CheckpointDirectory(directory).resume(trainer, template_state)`` and pass the
    state it returns to ``FlaxTrainer.train(..., state=...)``; the `train` binary does this on
    its own.
    """

    keeps_states = False

    def __init__(
        self,
        directory: str | None = None,
        interval: int | None = None,
        keep_last: int = 2,
        metric: str | None = None,
    ) -> None:
        if interval is not None and interval < 1:
            raise ValueError(f"interval must be at least 1, got {interval}")
        if keep_last < 1:
            raise ValueError(f"keep_last must be at least 1, got {keep_last}")
        self.directory = directory
        self.interval = interval
        self.keep_last = keep_last
        self.metric = metric
        self.best_score: float | None = None
        self._saved_step: int | None = None
        self._pending: dict[str, Any] | None = None

    def set_workdir(self, workdir: str) -> None:
        if self.directory is None:
            self.directory = os.path.join(workdir, "checkpoints")

    @property
    def checkpoints(self) -> CheckpointDirectory:
        if self.directory is None:
            raise ValueError("CheckpointCallback needs directory= (the train binary sets <workdir>/checkpoints)")
        return CheckpointDirectory(self.directory)

    def _request(self, trainer: FlaxTrainer, state: TrainState, metrics: dict[str, float] | None = None, best: bool = False) -> None:
        """Marks the current step for saving (written by `_flush`, once its hooks are done)."""
        step = trainer.global_step
        if self._pending is None or self._pending["step"] != step:
            if step == self._saved_step and not metrics:
                return
            self._pending = {"step": step, "metrics": {}, "best": False}
        self._pending["metrics"].update(metrics or {})
        self._pending["best"] = self._pending["best"] or best
        self._pending["state"] = state  # valid until the next step donates its buffers

    def _flush(self, trainer: FlaxTrainer) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        check_finite = getattr(trainer, "check_finite", None)
        if callable(check_finite):
            check_finite()  # the latest checkpoint of a diverged run stays its last finite one
        states = {callback_key(i, callback): callback.state_dict() for i, callback in enumerate(trainer.callbacks)}
        checkpoints = self.checkpoints
        checkpoints.save(
            trainer.distributor.unreplicate(pending["state"]),
            pending["step"],
            pending["metrics"],
            {key: value for key, value in states.items() if value},
            best=pending["best"],
        )
        self._saved_step = pending["step"]
        checkpoints.prune(self.keep_last)

    def on_training_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> None:
        self._saved_step = trainer.global_step
        self._pending = None
        index = self.checkpoints.read_index()
        self.best_score = None
        if self.metric is not None and index.get("best") is not None:
            name, sign = parse_metric(self.metric)
            for entry in index["checkpoints"]:
                if entry["step"] == index["best"] and name in entry["metrics"]:
                    self.best_score = sign * entry["metrics"][name]

    def on_epoch_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, epoch: int) -> None:
        self._flush(trainer)

    def on_batch_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, epoch: int) -> None:
        self._flush(trainer)

    def on_batch_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, epoch: int, output: Any) -> None:
        if self.interval is not None and trainer.global_step % self.interval == 0:
            self._request(trainer, state)

    def on_eval_end(
        self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, metrics: dict[str, float], prefix: str = ""
    ) -> None:
        if self.metric is None:
            return
        improved = improvement(metrics, self.metric, prefix, self.best_score, "CheckpointCallback")
        if improved is not None:
            value, self.best_score = improved
            self._request(trainer, state, {parse_metric(self.metric)[0]: value}, best=True)

    def on_epoch_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, epoch: int) -> None:
        self._request(trainer, state)

    def on_training_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> TrainState | None:
        self._flush(trainer)
        return None
