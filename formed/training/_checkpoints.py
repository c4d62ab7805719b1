"""Checkpoints: saving and restoring a `TrainState` with orbax's `CheckpointManager`, and
`CheckpointCallback`.

Layout of a checkpoint directory (``<workdir>/checkpoints``), one orbax step directory per
saved step, nothing else::

    step_00000120/
        params/             the parameters, by their paths ({"encoder": {"kernel": ...}})
        opt_state/          the optimizer state, by its paths ({"0": {"mu": {...}}, ...})
        model_state/        the model's other states: RNG streams (key data), batch statistics
        ema_params/         the moving average of the parameters, when the engine keeps one
        callback_states/    arrays the callbacks remember (a `TrainState` in a state_dict())
        formed/metadata     JSON: the step, its metrics, whether it is the best so far, the
                            callbacks' JSON states
        metrics/metrics     orbax's copy of the metrics its best-by-metric policy ranks
        _CHECKPOINT_METADATA orbax's own (its commit time is written at the commit)
        checksums.json      SHA-256 of every other file of the step
    step_00000180/

Each array item is an orbax `StandardSave` tree, so a checkpoint is readable with orbax alone
(``ocp.StandardCheckpointer().restore(".../step_00000120/params")``). `CheckpointManager` keeps
the latest `keep_last` steps and the best one by the callback's metric (an
`AnyPreservationPolicy` of `LatestN` and `BestN`) and deletes the others; it saves
asynchronously: `CheckpointDirectory.save` returns once the arrays are copied off the devices,
and the files are written in the background. The next save, `wait`, every read and the end of
training wait for it.

Crash safety: orbax writes a step into ``step_<N>.orbax-checkpoint-tmp`` and renames it once
every file (on every process) is written; ``checksums.json`` is written into it just before
that rename, so a step directory is complete with its checksums or absent. What a killed save
leaves (the temporary directory) is removed when the directory is next opened for saving, and
deletion of old steps is redone by the next save. A step is the best one when its metadata says
so (the callback marks each improvement) and no later step says so.

Nothing damaged is trusted silently: restoring checks the checksums (truncated, missing or
altered files) and that every restored float is finite, and resuming falls back, with a warning
naming each damaged step, to the newest intact checkpoint (deleting the damaged ones, so that
training writes them again). If none is intact, it stops and says which directory to remove. A
state with a NaN or infinite value is never saved (`NonFiniteLossError`): the latest checkpoint
of a run that diverged is its last finite one.

A checkpoint holds every leaf of the state, so a run resumed from it continues exactly;
`FlaxTrainer.train` derives the epoch and the batch offset from the step. It also holds what the
trainer's callbacks remember (their ``state_dict()``: e.g. early stopping's best score and
patience count, and its best state only when it has no directory of its own to save it in), so
that they too continue where they were. `CheckpointCallback` writes a step only after every
callback has run its hooks for that step (at the next ``on_batch_start``, ``on_epoch_start`` or
``on_training_end``), so those callback states belong to the saved step.

With several processes (``jax.distributed``), every process calls `CheckpointDirectory.save`
(orbax's save is collective: each process writes the shards it holds, so arrays split by
``DataParallelDistributor(shard_params=True)`` are never gathered; orbax's primary process
renames, writes the metadata and deletes old steps). Work directories written by formed before
this layout (with ``checkpoints/index.json``) cannot be resumed or loaded: `CheckpointError`
says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import pathlib
import re
import signal
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers

from formed.training._callbacks import FlaxTrainingCallback, improvement, parse_metric
from formed.training._exceptions import NonFiniteLossError
from formed.training._state import TrainState

if TYPE_CHECKING:
    from flax import nnx

    from formed.training._distributors import BaseDistributor
    from formed.training._trainer import FlaxTrainer

_STEP_DIR = re.compile(r"^step_(\d+)$")
CHECKSUMS_FILE = "checksums.json"
# Orbax's step metadata: it gets the commit time at the commit itself, after the checksums.
_UNCHECKED = ("_CHECKPOINT_METADATA",)
METADATA_ITEM = "formed"
CALLBACKS_ITEM = "callback_states"
# The item of the state's top-level leaves (the step counter), which are not trees of their own.
STEP_ITEM = "step"
# What the state's fields are called on disk (the rest keep their names: params, opt_state, ema_params).
_ITEM_NAMES = {"additional_states": "model_state"}
LAYOUT = "formed-checkpoint-2"
# The file the previous layout kept beside its step directories (see `CheckpointDirectory.check_layout`).
OLD_INDEX_FILE = "index.json"
# In the metadata, stands for a callback state value of type TrainState saved in the arrays.
_SAVED_AS_ARRAYS = {"$saved_as_arrays": True}

CallbackStates = dict[str, dict[str, Any]]
Arrays = dict[str, Any]

_logger = logging.getLogger(__name__)

# The directory objects of this process with a save in progress, by directory: another object
# reading the same directory waits for them (a crashed training's last save, then a resume).
_WRITERS: weakref.WeakValueDictionary[str, CheckpointDirectory] = weakref.WeakValueDictionary()


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


@contextlib.contextmanager
def _ctrl_c_after() -> Iterator[None]:
    """Holds a Ctrl-C (SIGINT) that arrives inside the block until the block is done.

    Orbax's save starts background threads that wait for what the calling thread does next; a
    KeyboardInterrupt between the two would leave them waiting (and the process, which waits
    for them at exit, hanging). The interrupt is delivered right after instead. Only in the main
    thread (where Python handles signals), and only over Python's own SIGINT handler.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt


def file_checksums(directory: str, exclude: Iterable[str] = ()) -> dict[str, str]:
    """``{relative path: SHA-256 hex digest}`` of every file under `directory` but `exclude`."""
    skipped = set(exclude)
    checksums: dict[str, str] = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, directory)
            if relative in skipped:
                continue
            digest = hashlib.sha256()
            with open(path, "rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
            checksums[relative] = digest.hexdigest()
    return dict(sorted(checksums.items()))


def _flat(arrays: Any, key: str = "") -> list[tuple[str, Any]]:
    """``[("params/encoder/kernel", leaf), ...]`` of a nested dict."""
    if isinstance(arrays, dict):
        return [pair for name, value in arrays.items() for pair in _flat(value, f"{key}/{name}" if key else str(name))]
    return [(key, arrays)]


def nonfinite_arrays(arrays: Any) -> list[str]:
    """The keys (``"params/encoder/kernel"``) of the float arrays in a nested dict that hold NaN
    or inf. Device arrays are checked where they are (one transfer of one flag per array)."""
    floats = [
        (key, value)
        for key, value in _flat(arrays)
        if hasattr(value, "dtype") and jnp.issubdtype(value.dtype, jnp.inexact) or isinstance(value, float)
    ]
    finite = jax.device_get([jnp.isfinite(v).all() if isinstance(v, jax.Array) else np.isfinite(v).all() for _, v in floats])
    return [key for (key, _), ok in zip(floats, finite) if not bool(ok)]


def callback_key(position: int, callback: Any) -> str:
    """How a callback's state is filed: its position in the list and its class name, so that
    a changed callback list restores nothing into the wrong callback."""
    return f"{position}:{type(callback).__name__}"


def _split_callback_states(states: CallbackStates) -> tuple[CallbackStates, dict[str, dict[str, TrainState]]]:
    """Separates `TrainState` values (saved as arrays) from JSON values (saved in the metadata)."""
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


def _key_name(key: Any) -> str:
    for attribute in ("key", "name", "idx"):  # DictKey / FlattenedIndexKey, GetAttrKey, SequenceKey
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    return str(key)


def _leaf_paths(tree: Any) -> list[tuple[tuple[str, ...], Any]]:
    """Each leaf of `tree` with its path as names: the state's field first (``additional_states``
    renamed ``model_state``), then dict keys, attribute names and sequence positions; an NNX
    variable's ``.value`` is left out, so ``params/encoder/kernel`` names a kernel."""
    pairs = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        names = tuple(_key_name(key) for key in path)
        if names and isinstance(path[-1], jax.tree_util.GetAttrKey) and names[-1] == "value":
            names = names[:-1]
        if names:
            names = (_ITEM_NAMES.get(names[0], names[0]), *names[1:])
        pairs.append((names, leaf))
    return pairs


def state_to_arrays(state: TrainState) -> Arrays:
    """The leaves of `state` as a nested dict by their paths (PRNG keys as their raw data),
    left where they are (device arrays are not copied to the host)::

        {"params": {"encoder": {"kernel": (d, h) array, ...}}, "opt_state": {"0": {"mu": ...}},
         "model_state": {"0": {"dropout": {"rngs": {"key": (2,) uint32, "count": ()}}}}, "step": ()}
    """
    arrays: Arrays = {}
    for names, leaf in _leaf_paths(state):
        node = arrays
        for name in names[:-1]:
            node = node.setdefault(name, {})
        node[names[-1]] = jax.random.key_data(leaf) if _is_key(leaf) else leaf
    return arrays


def arrays_to_state(arrays: Arrays, template: TrainState) -> TrainState:
    """Puts saved arrays into the structure of `template` (e.g. a fresh state of the same model),
    each leaf found by its path.

    Raises:
        ValueError: if the paths or shapes of the arrays differ from the template's, i.e. the
            checkpoint belongs to another model or optimizer configuration.
    """
    pairs = _leaf_paths(template)
    saved = dict(_flat(arrays))
    expected = {"/".join(names) for names, _ in pairs}
    unknown = sorted(set(saved) - expected)
    missing = sorted(expected - set(saved))
    if missing or unknown:
        example = f"e.g. the state has {missing[0]} and the checkpoint does not" if missing else f"e.g. {unknown[0]}"
        raise ValueError(
            f"the checkpoint has {len(saved)} arrays but the state has {len(expected)} ({example}): it was written "
            "for a different model or optimizer configuration"
        )
    restored = []
    for names, leaf in pairs:
        key = "/".join(names)
        value = np.asarray(saved[key])
        if _is_key(leaf):
            restored.append(jax.random.wrap_key_data(jnp.asarray(value), impl=jax.random.key_impl(leaf)))
            continue
        if np.shape(value) != np.shape(leaf):
            raise ValueError(f"checkpoint array {key} has shape {np.shape(value)}, the state expects {np.shape(leaf)}")
        restored.append(jnp.asarray(value, dtype=getattr(leaf, "dtype", None)))
    return jax.tree.unflatten(jax.tree.structure(template), restored)


def saveable_state(distributor: BaseDistributor, state: TrainState) -> TrainState:
    """`state` as a checkpoint saves it: an array placed as one global array over the
    distributor's devices (mirrored, or split by ``shard_params``) as it is, so that each process
    writes the shards it holds and nothing is gathered; anything else as the first device's copy
    (``distributor.unreplicate``)."""
    is_mirrored = getattr(distributor, "is_mirrored", None)
    split_dim_of = getattr(distributor, "split_dim_of", None)
    if is_mirrored is None or split_dim_of is None:
        return distributor.unreplicate(state)

    def leaf(x: Any) -> Any:
        if is_mirrored(x) or split_dim_of(x) is not None:
            return x
        return distributor.unreplicate(x)

    return jax.tree.map(leaf, state)


def _array_items(arrays: Arrays) -> dict[str, Any]:
    """The state's arrays as orbax items: one per field with leaves, the top-level leaves (the
    step counter) together in `STEP_ITEM`."""
    items = {name: value for name, value in arrays.items() if isinstance(value, dict) and value}
    scalars = {name: value for name, value in arrays.items() if not isinstance(value, dict)}
    if scalars:
        items[STEP_ITEM] = scalars
    return items


def _restore_tree(path: str) -> Any:
    """An orbax tree item read as host (numpy) arrays, whatever devices wrote it."""
    directory = pathlib.Path(path)
    metadata = ocp.PyTreeCheckpointHandler().metadata(directory)  # any path object (epath.Path or pathlib.Path)
    tree = getattr(metadata, "tree", metadata)
    restore_args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
    with ocp.PyTreeCheckpointer() as checkpointer:
        return checkpointer.restore(directory, args=ocp.args.PyTreeRestore(restore_args=restore_args))


def _state_arrays(tree: dict[str, Any]) -> Arrays:
    """The inverse of `_array_items`."""
    arrays = {name: value for name, value in tree.items() if name != STEP_ITEM}
    arrays.update(tree.get(STEP_ITEM, {}))
    return arrays


class CheckpointDirectory:
    """The saved steps of one run, through orbax's `CheckpointManager`.

    Args:
        directory: where the step directories go.
        keep_last: how many of the latest steps each save keeps (None: all).
        metric: a metric with its sign (``"-loss"``, ``"+accuracy"``): the best step by it is kept
            too (orbax's `BestN` over the steps saved with ``best=True``).

    Example::

        directory = CheckpointDirectory("/tmp/run/checkpoints", keep_last=2, metric="+accuracy")
        directory.save(state, 120, {"accuracy": 0.91}, best=True)  # returns before the files are written
        directory.wait()  # the files are written, the checksums too; older steps are deleted
        directory.steps(), directory.best_step()  # ([60, 120], 120)
    """

    def __init__(self, directory: str, keep_last: int | None = None, metric: str | None = None) -> None:
        self.directory = os.path.abspath(directory)
        self.keep_last = keep_last
        self.metric = metric
        self._manager: ocp.CheckpointManager | None = None
        self._saving = False  # whether `_manager` was opened for saving
        self._writing: int | None = None  # the step whose files are being written in the background

    def path(self, step: int) -> str:
        return os.path.join(self.directory, f"step_{step:08d}")

    def check_layout(self) -> None:
        """Refuses a directory written by formed before checkpoints were orbax-managed steps.

        Raises:
            CheckpointError: if the directory holds the previous layout's ``index.json``.
        """
        old = os.path.join(self.directory, OLD_INDEX_FILE)
        if os.path.exists(old):
            raise CheckpointError(
                f"{self.directory} holds checkpoints of an older formed version ({old}), which this version "
                f"cannot resume or load; train in a new work directory, or remove {self.directory} to train from scratch."
            )

    def _options(self, saving: bool) -> ocp.CheckpointManagerOptions:
        policies: list[Any] = [checkpoint_managers.LatestN(self.keep_last)]
        best_fn: Callable[[Any], float] | None = None
        if self.metric is not None:
            name, sign = parse_metric(self.metric)

            def score(metrics: Any) -> float:
                if isinstance(metrics, dict) and isinstance(metrics.get(name), (int, float)):
                    return sign * float(metrics[name])
                return -math.inf  # a step not saved as the best

            best_fn = score
            policies.append(checkpoint_managers.BestN(get_metric_fn=score, n=1, keep_checkpoints_without_metrics=False))
        return ocp.CheckpointManagerOptions(
            step_prefix="step",
            step_format_fixed_length=8,
            create=saving,
            cleanup_tmp_directories=saving,  # what a killed save left (never while only reading: a live run may be saving)
            save_root_metadata=False,
            best_fn=best_fn,
            best_mode="max",
            preservation_policy=checkpoint_managers.AnyPreservationPolicy(policies),
            enable_async_checkpointing=True,
            async_options=ocp.AsyncOptions(post_finalization_callback=self._write_checksums),
        )

    def _open(self, saving: bool = False) -> ocp.CheckpointManager:
        """The manager of this directory; opened anew for saving (which clears leftovers)."""
        self.check_layout()
        if self._manager is not None and (self._saving or not saving):
            return self._manager
        self.wait()
        if self._manager is not None:
            self._manager.close()
        with _ctrl_c_after():
            self._manager = ocp.CheckpointManager(self.directory, options=self._options(saving))
        self._saving = saving
        return self._manager

    def _write_checksums(self) -> None:
        """Orbax's post-finalization callback (its primary process, before the temporary step
        directory is renamed): records the SHA-256 of every file of the step being written."""
        prefix = f"{os.path.basename(self.path(self._writing or 0))}.orbax-checkpoint-tmp"
        written = [name for name in os.listdir(self.directory) if name.startswith(prefix)]
        if len(written) != 1:
            raise CheckpointError(f"cannot find the step orbax is writing in {self.directory} (expected {prefix}*, found {written})")
        path = os.path.join(self.directory, written[0])
        checksums = file_checksums(path, exclude=_UNCHECKED)
        with open(os.path.join(path, CHECKSUMS_FILE), "w", encoding="utf-8") as file:
            json.dump(checksums, file, indent=1)
            file.flush()
            os.fsync(file.fileno())

    def wait(self) -> None:
        """Waits for the save in progress (if any) to be written, checksummed and committed, and
        for the steps it replaces to be deleted.

        Raises:
            CheckpointError: if the background write failed (disk full, permission denied).
        """
        writer = _WRITERS.get(self.directory)
        if writer is not None and writer is not self:
            try:
                writer.wait()
            except CheckpointError as error:
                _logger.warning("%s", error)
        if self._manager is None:
            return
        try:
            self._manager.wait_until_finished()
        except Exception as error:  # orbax re-raises the background thread's error here
            name = os.path.basename(self.path(self._writing)) if self._writing is not None else "in progress"
            raise CheckpointError(f"cannot write checkpoint {name} in {self.directory}: {_root_cause(error)}") from None
        finally:
            self._writing = None

    def steps(self) -> list[int]:
        """Steps with a committed checkpoint on disk, ascending (not yet verified:
        `restore_with_callbacks` does that)."""
        self.check_layout()
        if not os.path.isdir(self.directory):
            return []
        found = (_STEP_DIR.match(name) for name in os.listdir(self.directory))
        return sorted(int(m.group(1)) for m in found if m is not None)

    def recorded_steps(self) -> list[int]:
        """Steps a run may resume from: every committed step (orbax renames a step directory
        into place only once it is whole, checksums included)."""
        self.wait()
        return self.steps()

    def latest_step(self) -> int | None:
        """The newest committed step (not yet verified: `restore_with_callbacks` does that)."""
        steps = self.recorded_steps()
        return steps[-1] if steps else None

    def metadata(self, step: int) -> dict[str, Any]:
        """What formed saved beside the arrays of `step` (``formed/metadata``): ``{"step",
        "metrics", "best", "callbacks"}``.

        Raises:
            CheckpointError: if the file is missing or unreadable.
        """
        path = os.path.join(self.path(step), METADATA_ITEM, "metadata")
        try:
            with open(path, encoding="utf-8") as file:
                metadata = json.load(file)
        except FileNotFoundError:
            raise CheckpointError(f"{path} is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CheckpointError(f"{path} is unreadable ({_root_cause(error)})") from None
        if not isinstance(metadata, dict) or metadata.get("layout") != LAYOUT:
            raise CheckpointError(f"{path} is not formed's checkpoint metadata ({LAYOUT})")
        return metadata

    def read_index(self) -> dict[str, Any]:
        """The steps on disk with their metadata, and the best step: ``{"checkpoints": [{"step",
        "metrics", "callbacks"}, ...], "best": step or None}`` (a step whose metadata cannot be
        read is left out; restoring it reports why)."""
        self.wait()
        entries = []
        for step in self.steps():
            try:
                metadata = self.metadata(step)
            except CheckpointError:
                continue
            entries.append({"step": step, "metrics": metadata["metrics"], "callbacks": metadata["callbacks"], "best": metadata["best"]})
        best = max((entry["step"] for entry in entries if entry["best"]), default=None)
        return {"checkpoints": entries, "best": best}

    def best_step(self) -> int | None:
        """The latest step saved with ``best=True`` that is still on disk."""
        return self.read_index()["best"]

    def save(
        self,
        state: TrainState,
        step: int,
        metrics: dict[str, float] | None = None,
        callback_states: CallbackStates | None = None,
        best: bool = False,
    ) -> str:
        """Starts writing `state` as ``step_<step>`` and returns its path once the arrays are
        copied off the devices (the files are written in the background; `wait` waits for them).

        `callback_states` maps `callback_key` to a callback's ``state_dict()``. With `best`, the
        step is marked the best one (its `metrics` ranked by the directory's metric). A step
        already on disk is not written again. Every process of a multi-process run calls this.

        Raises:
            NonFiniteLossError: if the state holds a NaN or infinite value (nothing is written).
            CheckpointError: if the checkpoint cannot be written (disk full, permission denied),
                or the previous one could not.
        """
        name = os.path.basename(self.path(step))
        as_json, as_arrays = _split_callback_states(callback_states or {})
        arrays = state_to_arrays(state)
        callback_arrays = {
            key: {value_name: state_to_arrays(value) for value_name, value in values.items()} for key, values in as_arrays.items()
        }
        bad = nonfinite_arrays({**arrays, CALLBACKS_ITEM: callback_arrays})
        if bad:
            raise NonFiniteLossError(step=step, epoch=0, what=f"the training state ({len(bad)} arrays, e.g. {bad[0]})")
        self.wait()  # the previous save's failure is reported as its own
        try:
            manager = self._open(saving=True)
        except CheckpointError:
            raise
        except Exception as error:  # the directory cannot be created
            raise CheckpointError(f"cannot write checkpoint {name} in {self.directory}: {_root_cause(error)}") from None
        if step in manager.all_steps():
            _logger.info("checkpoint %s exists already: not written again", name)
            return self.path(step)
        items: dict[str, Any] = {item: ocp.args.StandardSave(tree) for item, tree in _array_items(arrays).items()}
        if callback_arrays:
            items[CALLBACKS_ITEM] = ocp.args.StandardSave(
                {key: {value_name: _array_items(a) for value_name, a in values.items()} for key, values in callback_arrays.items()}
            )
        metadata = {"layout": LAYOUT, "step": step, "metrics": dict(metrics or {}), "best": best, "callbacks": as_json}
        items[METADATA_ITEM] = ocp.args.JsonSave(metadata)
        self._writing = step
        _WRITERS[self.directory] = self
        try:
            with _ctrl_c_after():
                manager.save(step, args=ocp.args.Composite(**items), metrics=dict(metrics or {}) if best else {}, force=True)
        except Exception as error:  # orbax wraps OS errors in its own
            self._writing = None
            raise CheckpointError(f"cannot write checkpoint {name} in {self.directory}: {_root_cause(error)}") from None
        if jax.process_count() > 1:
            # Over several processes orbax's background commit waits at a barrier of every
            # process while their main threads go on to the training step's collectives; in
            # this orbax version the two can meet in a different order on each process and
            # deadlock (seen in 2-process runs). There the save waits for its commit.
            self.wait()
        return self.path(step)

    def damage(self, step: int) -> str | None:
        """Why the files of `step` cannot be trusted (missing, truncated or altered since they were
        saved, by the checksums saved with them), or None if they match."""
        path = self.path(step)
        if not os.path.isdir(path):
            return f"{path} is missing"
        checksums_path = os.path.join(path, CHECKSUMS_FILE)
        try:
            with open(checksums_path, encoding="utf-8") as file:
                recorded = json.load(file)
        except FileNotFoundError:
            return f"{checksums_path} is missing"
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            return f"{checksums_path} is unreadable ({_root_cause(error)})"
        if not isinstance(recorded, dict) or not recorded:
            return f"{checksums_path} is not a checksum file"
        try:
            actual = file_checksums(path, exclude=[CHECKSUMS_FILE, *_UNCHECKED])
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

    def read_arrays(self, step: int) -> dict[str, Any]:
        """Every array item of `step` as host arrays (``{"params": {...}, "opt_state": {...}, ...}``),
        not verified."""
        path = self.path(step)
        return {
            item: _restore_tree(os.path.join(path, item))
            for item in sorted(os.listdir(path))
            if item not in (METADATA_ITEM, "metrics") and os.path.isdir(os.path.join(path, item))
        }

    def _restore_step(self, template: TrainState, step: int) -> tuple[TrainState, CallbackStates]:
        """Restores one step, verified: raises `CheckpointError` naming what is damaged."""
        name = os.path.basename(self.path(step))
        problem = self.damage(step)
        if problem is not None:
            raise CheckpointError(f"checkpoint {name} (step {step}) is damaged: {problem}")
        try:
            metadata = self.metadata(step)
        except CheckpointError as error:
            raise CheckpointError(f"checkpoint {name} (step {step}) is damaged: {error}") from None
        try:
            tree = self.read_arrays(step)
        except Exception as error:  # orbax and tensorstore errors of unreadable files
            raise CheckpointError(f"checkpoint {name} (step {step}) is damaged: orbax cannot read it ({_root_cause(error)})") from None
        bad = nonfinite_arrays(tree)
        if bad:
            raise CheckpointError(f"checkpoint {name} (step {step}) is damaged: {len(bad)} array(s) hold NaN or inf, e.g. {bad[0]}")
        callback_arrays = tree.pop(CALLBACKS_ITEM, {})
        state = arrays_to_state(_state_arrays(tree), template)
        callbacks: CallbackStates = {}
        for key, values in metadata.get("callbacks", {}).items():
            callbacks[key] = {
                value_name: arrays_to_state(_state_arrays(callback_arrays[key][value_name]), template)
                if value == _SAVED_AS_ARRAYS
                else value
                for value_name, value in values.items()
            }
        return state, callbacks

    def restore_with_callbacks(self, template: TrainState, step: int | None = None) -> tuple[TrainState, CallbackStates]:
        """The state saved at `step` and the callback states saved with it, verified.

        Without `step`, the newest intact checkpoint: each newer damaged one is reported with a
        warning and deleted (so training writes it again).

        Raises:
            FileNotFoundError: if there is no checkpoint.
            CheckpointError: if `step` (or, without it, every checkpoint) is damaged, or the
                directory holds the previous layout.
            ValueError: if the checkpoint was written for another model or optimizer.
        """
        self.wait()
        if step is not None:
            return self._restore_step(template, step)
        steps = self.steps()
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
        """Deletes damaged `steps` (orbax's primary process deletes, the others wait for it)."""
        best = self.best_step()
        if best in steps:
            _logger.warning("the best checkpoint (step %d) was damaged: the next evaluation sets a new best", best)
        manager = self._open()
        manager.reload()
        for step in steps:
            if step in manager.all_steps():
                manager.delete(step)

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
        """Keeps the last `keep_last` steps and the best one; deletes the rest. (A directory made
        with ``keep_last=`` does this on every save through orbax's preservation policy; this is
        for one written without.)"""
        keep_best = self.best_step()
        manager = self._open(saving=True)
        manager.reload()
        steps = sorted(manager.all_steps())
        keep = set(steps[-keep_last:]) if keep_last > 0 else set()
        if keep_best is not None:
            keep.add(keep_best)
        for step in steps:
            if step not in keep:
                manager.delete(step)

    def close(self) -> None:
        """Waits for the save in progress and releases orbax's threads."""
        self.wait()
        if self._manager is not None:
            self._manager.close()
            self._manager = None


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
    holds every callback's ``state_dict()``. Saving is asynchronous (orbax's
    `CheckpointManager`): the step loop waits only for the arrays to leave the devices, and for
    the previous save to finish when the next one starts; ``on_training_end`` waits for the last.

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
        self._checkpoints: CheckpointDirectory | None = None

    def set_workdir(self, workdir: str) -> None:
        if self.directory is None:
            self.directory = os.path.join(workdir, "checkpoints")

    @property
    def checkpoints(self) -> CheckpointDirectory:
        """This callback's directory, kept open between saves (a save in progress is waited for
        by the next one)."""
        if self.directory is None:
            raise ValueError("CheckpointCallback needs directory= (the train binary sets <workdir>/checkpoints)")
        if self._checkpoints is None or self._checkpoints.directory != os.path.abspath(self.directory):
            self._checkpoints = CheckpointDirectory(self.directory, keep_last=self.keep_last, metric=self.metric)
        return self._checkpoints

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
        self.checkpoints.save(
            saveable_state(trainer.distributor, pending["state"]),
            pending["step"],
            pending["metrics"],
            {key: value for key, value in states.items() if value},
            best=pending["best"],
        )
        self._saved_step = pending["step"]

    def on_training_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> None:
        self._saved_step = trainer.global_step
        self._pending = None
        if self._checkpoints is not None:
            self._checkpoints.close()  # opened again: a resume may have deleted damaged steps
            self._checkpoints = None
        self.best_score = None
        if self.metric is not None:
            index = self.checkpoints.read_index()
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
        self.checkpoints.wait()
        return None
