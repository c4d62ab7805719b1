"""Checkpoints: saving and restoring a `TrainState` with orbax, and `CheckpointCallback`.

Layout of a checkpoint directory (``<workdir>/checkpoints``)::

    step_00000120/     one orbax checkpoint per saved step (written to a temporary name, then
    step_00000180/     renamed by orbax: a crash never leaves a half-written step_* directory)
    index.json         {"checkpoints": [{"step": 120, "metrics": {...}}, ...], "best": 120}
                       (written to a temporary file, then renamed)

A checkpoint holds every leaf of the state (parameters, optimizer state, non-parameter model
states such as dropout RNG streams, and the step), so a run resumed from it continues exactly;
`FlaxTrainer.train` derives the epoch and the batch offset from the step.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from formed.training.callbacks import FlaxTrainingCallback, lookup_metric, parse_metric
from formed.training.state import TrainState

if TYPE_CHECKING:
    from flax import nnx

    from formed.training.trainer import FlaxTrainer

_STEP_DIR = re.compile(r"^step_(\d+)$")
INDEX_FILE = "index.json"


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
            restored.append(jax.random.wrap_key_data(value, impl=jax.random.key_impl(leaf)))
            continue
        if np.shape(value) != np.shape(leaf):
            raise ValueError(f"checkpoint array {i} has shape {np.shape(value)}, the state expects {np.shape(leaf)}")
        restored.append(jax.numpy.asarray(value, dtype=getattr(leaf, "dtype", None)))
    return jax.tree.unflatten(treedef, restored)


def _write_json_atomically(path: str, data: Any) -> None:
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=directory, prefix=".tmp-", suffix=".json", delete=False) as file:
        json.dump(data, file, indent=1)
        file.flush()
        os.fsync(file.fileno())
    os.chmod(file.name, 0o644)
    os.replace(file.name, path)


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

    def read_index(self) -> dict[str, Any]:
        path = os.path.join(self.directory, INDEX_FILE)
        if not os.path.exists(path):
            return {"checkpoints": [], "best": None}
        with open(path, encoding="utf-8") as file:
            return json.load(file)

    def steps(self) -> list[int]:
        """Steps with a complete checkpoint on disk, ascending."""
        if not os.path.isdir(self.directory):
            return []
        found = (_STEP_DIR.match(name) for name in os.listdir(self.directory))
        return sorted(int(m.group(1)) for m in found if m is not None)

    def latest_step(self) -> int | None:
        steps = self.steps()
        return steps[-1] if steps else None

    def save(self, state: TrainState, step: int, metrics: dict[str, float] | None = None) -> str:
        """Writes `state` (single-device layout) as ``step_<step>`` and records it in the index."""
        os.makedirs(self.directory, exist_ok=True)
        path = self.path(step)
        if not os.path.exists(path):
            self.checkpointer.save(path, state_to_arrays(state))
        index = self.read_index()
        entries = [entry for entry in index["checkpoints"] if entry["step"] != step]
        entries.append({"step": step, "metrics": metrics or {}})
        index["checkpoints"] = sorted(entries, key=lambda entry: entry["step"])
        _write_json_atomically(os.path.join(self.directory, INDEX_FILE), index)
        return path

    def set_best(self, step: int) -> None:
        index = self.read_index()
        index["best"] = step
        _write_json_atomically(os.path.join(self.directory, INDEX_FILE), index)

    def restore(self, template: TrainState, step: int | None = None) -> TrainState:
        """The state saved at `step` (the latest by default), shaped like `template`."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        arrays = self.checkpointer.restore(self.path(step))
        return arrays_to_state(arrays, template)

    def prune(self, keep_last: int) -> None:
        """Deletes all but the last `keep_last` steps and the best one."""
        steps = self.steps()
        keep = set(steps[-keep_last:]) if keep_last > 0 else set()
        best = self.read_index().get("best")
        if best is not None:
            keep.add(best)
        for step in steps:
            if step not in keep:
                shutil.rmtree(self.path(step), ignore_errors=True)
        index = self.read_index()
        index["checkpoints"] = [entry for entry in index["checkpoints"] if entry["step"] in keep]
        _write_json_atomically(os.path.join(self.directory, INDEX_FILE), index)


@FlaxTrainingCallback.register("checkpoint")
class CheckpointCallback(FlaxTrainingCallback):
    """Saves the training state with orbax; keeps the last `keep_last` and the best.

    Args:
        directory: where checkpoints go; the `train` binary sets ``<workdir>/checkpoints``.
        interval: also save every `interval` steps (besides the end of every epoch).
        keep_last: how many of the most recent checkpoints to keep.
        metric: a validation metric with its sign, as in `EarlyStoppingCallback` (``"-loss"``,
            ``"+accuracy"``); the state at the best evaluation is saved and kept.

    Resume with ``CheckpointDirectory(directory).restore(template_state)`` and pass the state to
    ``FlaxTrainer.train(..., state=...)`` (the `train` binary does this on its own).
    """

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

    def set_workdir(self, workdir: str) -> None:
        if self.directory is None:
            self.directory = os.path.join(workdir, "checkpoints")

    @property
    def checkpoints(self) -> CheckpointDirectory:
        if self.directory is None:
            raise ValueError("CheckpointCallback needs directory= (the train binary sets <workdir>/checkpoints)")
        return CheckpointDirectory(self.directory)

    def save(self, trainer: FlaxTrainer, state: TrainState, metrics: dict[str, float] | None = None, best: bool = False) -> None:
        """Saves the current step (once), optionally as the new best, then prunes old steps."""
        step = trainer.global_step
        checkpoints = self.checkpoints
        if self._saved_step != step or metrics:
            checkpoints.save(trainer.distributor.unreplicate(state), step, metrics)
            self._saved_step = step
        if best:
            checkpoints.set_best(step)
        checkpoints.prune(self.keep_last)

    def on_training_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> None:
        self._saved_step = trainer.global_step
        index = self.checkpoints.read_index()
        self.best_score = None
        if self.metric is not None and index.get("best") is not None:
            name, sign = parse_metric(self.metric)
            for entry in index["checkpoints"]:
                if entry["step"] == index["best"] and name in entry["metrics"]:
                    self.best_score = sign * entry["metrics"][name]

    def on_batch_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, epoch: int, output: Any) -> None:
        if self.interval is not None and trainer.global_step % self.interval == 0:
            self.save(trainer, state)

    def on_eval_end(
        self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, metrics: dict[str, float], prefix: str = ""
    ) -> None:
        if self.metric is None:
            return
        name, sign = parse_metric(self.metric)
        value = lookup_metric(metrics, name, prefix)
        if value is None:
            raise KeyError(f"CheckpointCallback watches {name!r}, but the evaluation reported only {sorted(metrics)}")
        score = sign * value
        if self.best_score is None or score > self.best_score:
            self.best_score = score
            self.save(trainer, state, {name: value}, best=True)

    def on_epoch_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, epoch: int) -> None:
        self.save(trainer, state)
