"""What the `train` binary does: build everything from a config, train, write the work directory.

    run(get_config(), workdir="/tmp/formed/run1", config_path="formed/training/configs/text_classifier.py")

Config keys (see `configs/text_classifier.py` for a complete example):

* ``seed``: model initialisation (and dropout) seed;
* ``dataset``: a registered `formed.data.BaseDataset` giving ``train`` / ``validation`` / ``test``;
* ``datamodule``: the `formed.data.DataModule` fields, fitted on the training split; a text
  field's ``max_length`` is also the length its batches are padded to (so the step compiles
  once, see `formed.data.PaddedCollator`);
* ``model``: a registered `BaseFlaxModel` (a `formed.equinox.BaseEquinoxModel` when
  ``trainer.engine`` is ``equinox``); any value may be ``"$data.<field>.<value>"``
  (``"$data.text.vocab_size"``, ``"$data.label.num_labels"``), taken from the fitted data
  module (see `formed.data.resolve_data_values`: one mechanism for every model);
* ``trainer``: `FlaxTrainer` arguments; ``train_dataloader`` / ``val_dataloader`` give the
  sampler (the collator is the data module's, padded).

The work directory receives ``config.json`` (the resolved config), ``data/`` (vocabularies),
TensorBoard event files, ``checkpoints/`` and ``metrics.json``. Every file is written to a
temporary name and renamed, so a crash never leaves a half-written file; running again with the
same work directory resumes from the latest checkpoint (with the callbacks' saved states, e.g.
early stopping's best state and patience count); running again after ``metrics.json`` exists
only reports the finished run's metrics.

Over several processes (``jax.distributed``; see the `train` binary's flags) every process runs
this same function on the same work directory (a shared file system across hosts); the first
process writes ``config.json``, ``data/``, the TensorBoard events and ``metrics.json``, and
all of them take part in writing the checkpoints.

Reliability (what a run checks, in order, before it writes anything but its lock):

1. one process per work directory (`WorkdirLock`: a second one fails at once, naming the first);
2. the config's top-level keys and the values whose range is part of their meaning
   (`formed.training._preflight`);
3. every split, read and checked against the data module's fields: a bad record is named by
   file, line and column (dropped and counted per file with the dataset's ``skip_malformed``);
4. a saved data module still matches the training data and the datamodule config (its
   fingerprint): if not, it is refitted when no checkpoint exists yet, else the run is refused;
5. a resumed run's config is the one it was trained with (``config.json``): a change is refused,
   listing each changed key, unless `accept_config_change` (then the old config is kept as
   ``config.previous-N.json``);
6. the metrics that callbacks watch are among those the evaluation reports (one validation
   batch is evaluated to find out);
7. the checkpoints to resume from are intact (checksums, finite arrays; see
   `formed.training._checkpoints`).

Then training, which stops on a non-finite loss (`NonFiniteLossError`) with the last finite
checkpoint as the latest, and on Ctrl-C (`TrainingInterrupted`) naming the step to resume from.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from typing import Any, Mapping

import jax

from formed.core import ConfigurationError, from_config, use_rngs
from formed.data import BaseDataset, DataModule, PaddedCollator, data_fingerprint, resolve_data_values
from formed.modules import BaseFlaxModel
from formed.training import _json_files as json_files
from formed.training._callbacks import evaluators_of
from formed.training._config_changes import as_json, config_changes, describe_changes
from formed.training._preflight import check_config_values, check_metric_names, watched_metrics
from formed.training._report import training_summary
from formed.training._tensorboard_callback import TensorBoardCallback, write_final_summaries
from formed.training._workdir_lock import WorkdirLock
from formed.training._checkpoints import CheckpointDirectory
from formed.training._trainer import FlaxTrainer

# Imported for their registrations (the Equinox engine, the optimizer builder).
import formed.training._equinox_engine  # noqa: F401  isort: skip
import formed.training._optimizers  # noqa: F401  isort: skip

REQUIRED_KEYS = ("dataset", "datamodule", "model", "trainer")
# Sections built before the data module is fitted: they cannot take "$data." values.
DATA_SECTIONS = ("dataset", "datamodule")
# pad_length is known so that resolve_config can say what replaced it.
KNOWN_KEYS = (*REQUIRED_KEYS, "seed", "pad_length")
FINGERPRINT_FILE = "fingerprint.json"

_logger = logging.getLogger(__name__)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says at which step and how to resume."""

    def __init__(self, step: int) -> None:
        self.step = step
        super().__init__(f"interrupted at step {step}; rerun the same command to resume")


def _plain(config: Any) -> Any:
    to_dict = getattr(config, "to_dict", None)
    return to_dict() if callable(to_dict) else copy.deepcopy(config)


write_json_atomically = json_files.write_json_atomically


def _saved_fingerprint(directory: str) -> str | None:
    try:
        with open(os.path.join(directory, FINGERPRINT_FILE), encoding="utf-8") as file:
            return json.load(file).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


def _has_checkpoints(workdir: str) -> bool:
    """Whether the work directory has checkpoints, the training ones or early stopping's best
    model (reading their index: a lost one stops here)."""
    return any(CheckpointDirectory(os.path.join(workdir, name)).recorded_steps() for name in ("checkpoints", "best"))


def _prepare_datamodule(
    config: Mapping[str, Any], train_records: list[Any], directory: str, has_checkpoints: bool, skip_malformed: bool
) -> tuple[DataModule, list[Any], str | None]:
    """The data module, the training records it accepts, and the fingerprint to save it with
    (None: the saved one is the one to use).

    A saved data module (a resumed run) is used if it was fitted on these training records
    with this datamodule config (its fingerprint); otherwise it is refitted when no checkpoint
    exists yet, and the run is refused when one does (the checkpoints use its vocabularies).
    """
    fresh = from_config(DataModule, config["datamodule"], path="datamodule")
    train_records = fresh.check(train_records, split="train", skip_malformed=skip_malformed)
    fingerprint = data_fingerprint(train_records, config["datamodule"])
    if os.path.exists(os.path.join(directory, "datamodule.json")):
        if _saved_fingerprint(directory) == fingerprint:
            return DataModule.load(directory), train_records, None
        if has_checkpoints:
            raise ValueError(
                f"the training data or the datamodule config changed since {directory} was fitted, and the "
                f"checkpoints in {os.path.join(os.path.dirname(directory), 'checkpoints')} were trained with its "
                "vocabularies; train in a new --workdir (or restore the old data)"
            )
        _logger.warning("the training data or the datamodule config changed since %s was fitted; refitting it", directory)
    return fresh.build(train_records), train_records, fingerprint


def _save_datamodule(datamodule: DataModule, fingerprint: str, directory: str) -> None:
    """Saves `datamodule` and its fingerprint as `directory`, atomically (replacing a stale one)."""
    with json_files.directory_written_atomically(directory) as staging:
        datamodule.save(staging)
        write_json_atomically(os.path.join(staging, FINGERPRINT_FILE), {"fingerprint": fingerprint})


def resolve_config(config: dict[str, Any], datamodule: DataModule) -> dict[str, Any]:
    """`config` with every ``"$data.<field>.<value>"`` outside the data sections replaced by the
    fitted data module's value (the resolved config is the one ``config.json`` records)."""
    if "pad_length" in config:
        raise ConfigurationError(
            "pad_length",
            "is no longer a setting: batches are padded to the text field's max_length "
            "(datamodule.fields.<name>.max_length), the one length setting; remove pad_length",
        )
    return {
        key: value if key in DATA_SECTIONS else resolve_data_values(value, datamodule, path=key)
        for key, value in config.items()
    }


def model_base_of(trainer: FlaxTrainer) -> type:
    """The registry the trainer's engine builds models from (`BaseFlaxModel`, or
    `formed.equinox.BaseEquinoxModel` for the ``equinox`` engine)."""
    return getattr(trainer.engine, "model_base", BaseFlaxModel)


def model_base_for(config: Mapping[str, Any]) -> type:
    """The registry of a resolved config's model, from its ``trainer.engine`` (without building
    the rest of the trainer)."""
    from formed.training._engine import FlaxTrainingEngine

    engine_config = config.get("trainer", {}).get("engine") if isinstance(config.get("trainer"), Mapping) else None
    if engine_config is None:
        return BaseFlaxModel
    engine = from_config(FlaxTrainingEngine, engine_config, path="trainer.engine")
    return getattr(engine, "model_base", BaseFlaxModel)


def build_model(config: Mapping[str, Any], model_base: type = BaseFlaxModel) -> Any:
    """The model of a resolved config, a registered `model_base`, initialised with its ``seed``."""
    with use_rngs(int(config.get("seed", 0))):
        return from_config(model_base, config["model"], path="model")


def build_trainer(config: Mapping[str, Any], datamodule: DataModule) -> FlaxTrainer:
    """The trainer of a resolved config; its dataloaders batch with `datamodule`, padded."""
    collator = PaddedCollator(datamodule)
    trainer_config = copy.deepcopy(config["trainer"])
    for key in ("train_dataloader", "val_dataloader"):
        if isinstance(trainer_config.get(key), dict):
            trainer_config[key] = {**trainer_config[key], "collator": collator}
    return from_config(FlaxTrainer, trainer_config, path="trainer")


def _build(config: dict[str, Any], workdir: str) -> tuple[Any, ...]:
    missing = [key for key in REQUIRED_KEYS if key not in config]
    if missing:
        raise ConfigurationError(missing[0], f"missing config section {missing[0]!r} (required: {', '.join(REQUIRED_KEYS)})")
    check_config_values(config, KNOWN_KEYS)
    dataset = from_config(BaseDataset, config["dataset"], path="dataset")
    splits = dataset.load()
    skip_malformed = bool(getattr(dataset, "skip_malformed", False))
    datamodule, splits["train"], fingerprint = _prepare_datamodule(
        config, splits["train"], os.path.join(workdir, "data"), _has_checkpoints(workdir), skip_malformed
    )
    for split in ("validation", "test"):
        if splits.get(split):
            splits[split] = datamodule.check(splits[split], split=split, skip_malformed=skip_malformed)
    resolved = resolve_config(config, datamodule)
    trainer = build_trainer(resolved, datamodule)
    # The engine says which registry the model comes from (BaseEquinoxModel for "equinox").
    model = build_model(resolved, model_base_of(trainer))
    return splits, datamodule, fingerprint, model, trainer, resolved


def _check_watched_metrics(trainer: FlaxTrainer, model: Any, state: Any, validation: list[Any]) -> None:
    """Evaluates one validation batch to learn the metric names, and checks those callbacks watch."""
    if not watched_metrics(trainer.callbacks) or not validation or trainer.val_dataloader is None:
        return
    batch_size = getattr(getattr(trainer.val_dataloader, "sampler", None), "batch_size", len(validation))
    evaluators = evaluators_of(trainer.callbacks, trainer, model, state)
    reported = trainer.evaluate(model, state, validation[:batch_size], evaluators=evaluators)
    for evaluator in evaluators:
        evaluator.reset()
    check_metric_names(trainer.callbacks, reported, trainer.val_prefix)


def _config_changes(workdir: str, resolved: dict[str, Any], accept_config_change: bool) -> list[tuple[str, Any, Any]]:
    """How `resolved` differs from the config the work directory's checkpoints were trained with
    (none if there are no checkpoints yet); a change is refused unless accepted."""
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path) or not _has_checkpoints(workdir):
        return []
    with open(path, encoding="utf-8") as file:
        try:
            saved = json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{error.lineno}:{error.colno}: unreadable ({error.msg})") from None
    changes = config_changes(saved, as_json(resolved))
    if changes and not accept_config_change:
        raise ValueError(
            f"{workdir} was trained with another config ({path}); resuming with this one would mix two runs. "
            f"Changed keys (old -> new):\n{describe_changes(changes)}\n"
            "Use the same config, a new --workdir, or --accept_config_change to resume with the new config"
        )
    return changes


def _keep_previous_config(workdir: str, changes: list[tuple[str, Any, Any]]) -> None:
    """Renames config.json to the next free ``config.previous-N.json`` (an accepted change)."""
    number = 1
    while os.path.exists(os.path.join(workdir, f"config.previous-{number}.json")):
        number += 1
    os.replace(os.path.join(workdir, "config.json"), os.path.join(workdir, f"config.previous-{number}.json"))
    print(f"resuming with a changed config; the old one is kept as config.previous-{number}.json:", flush=True)
    print(describe_changes(changes), flush=True)


def run(
    config: Any, workdir: str, config_path: str = "<config>", accept_config_change: bool = False
) -> dict[str, Any]:
    """Trains as `config` says, writing into `workdir`; returns the final metrics
    (``{"validation": {...}, "test": {...}, "step": N}``).

    Args:
        config: the run's config (a ``ConfigDict`` or dict).
        workdir: the work directory (created if missing).
        config_path: named in error messages.
        accept_config_change: resume a work directory trained with another config (the old one
            is kept as ``config.previous-N.json``) instead of refusing.

    Raises:
        ConfigurationError: naming the config file and the key, for any mistake in the config.
        WorkdirInUseError: if another process is training in `workdir`.
        ValueError: for data that the fields cannot use (naming file, line and column), a config
            or data that changed since the work directory was trained.
        CheckpointError: if no checkpoint is intact, or the checkpoints are of an older formed
            version (an index.json beside them).
        NonFiniteLossError: if the training loss becomes NaN or infinite.
        TrainingInterrupted: on Ctrl-C, naming the step to resume from.
    """
    config = _plain(config)
    workdir = os.path.abspath(workdir)
    metrics_path = os.path.join(workdir, "metrics.json")
    if os.path.exists(metrics_path):
        # metrics.json is written last: this run is complete. Training on would change a
        # finished result; a new run needs a new work directory.
        print(f"{workdir} holds a finished run (metrics.json); use a new --workdir to train again", flush=True)
        with open(metrics_path, encoding="utf-8") as file:
            finished = json.load(file)
        print(training_summary(finished, None, None).split("\n", 1)[-1], flush=True)
        return finished
    if jax.process_index() != 0:  # the processes of one run share the work directory: one lock
        return _run_locked(config, workdir, config_path, accept_config_change)
    with WorkdirLock(workdir):
        return _run_locked(config, workdir, config_path, accept_config_change)


def _run_locked(config: dict[str, Any], workdir: str, config_path: str, accept_config_change: bool) -> dict[str, Any]:
    metrics_path = os.path.join(workdir, "metrics.json")
    try:
        splits, datamodule, fingerprint, model, trainer, resolved = _build(config, workdir)
        changes = _config_changes(workdir, resolved, accept_config_change)
        state = trainer.engine.create_state(int(config.get("seed", 0)), trainer, model)
        _check_watched_metrics(trainer, model, state, splits.get("validation") or [])
    except ConfigurationError as error:
        raise ConfigurationError(f"{config_path}: {error.path}", error.reason) from None
    checkpoints = CheckpointDirectory(os.path.join(workdir, "checkpoints"))
    if checkpoints.latest_step() is not None:  # verified: damaged checkpoints fall back or stop here
        state = checkpoints.resume(trainer, state)
        print(f"resuming from {checkpoints.path(int(jax.device_get(state.step)))}", flush=True)
    # Only now that everything is checked: a mistake leaves no work directory behind (nor
    # vocabularies that a corrected rerun would load as those of a resumed run). With several
    # processes (one per host) the first one writes; every process fits the same data module
    # from the same records, so they agree without reading each other's files.
    primary = trainer.distributor.process_index == 0
    if primary:
        if changes:
            _keep_previous_config(workdir, changes)
        if fingerprint is not None:
            _save_datamodule(datamodule, fingerprint, os.path.join(workdir, "data"))
        write_json_atomically(os.path.join(workdir, "config.json"), resolved)
    for callback in trainer.callbacks:
        set_workdir = getattr(callback, "set_workdir", None)
        if callable(set_workdir):
            set_workdir(workdir)
        if isinstance(callback, TensorBoardCallback) and callback.run_config is None:
            callback.run_config = json.dumps(resolved, indent=2, sort_keys=True, default=str)

    try:
        state = trainer.train(model, splits["train"], splits.get("validation"), state=state)
    except KeyboardInterrupt:
        raise TrainingInterrupted(trainer.global_step) from None

    evaluators = evaluators_of(trainer.callbacks, trainer, model, state)
    metrics: dict[str, Any] = {}
    for split in ("validation", "test"):
        if splits.get(split):
            for evaluator in evaluators:
                evaluator.reset()
            metrics[split] = trainer.evaluate(model, state, splits[split], evaluators=evaluators)
    metrics["step"] = int(jax.device_get(state.step))
    if primary:
        for callback in trainer.callbacks:
            if isinstance(callback, TensorBoardCallback) and callback.directory is not None:
                write_final_summaries(callback.directory, metrics, trainer.global_step, resolved, trial=os.path.basename(workdir))
        write_json_atomically(metrics_path, metrics)
    best_steps = [cb.best_step for cb in trainer.callbacks if getattr(cb, "best_state", None) is not None]
    print(training_summary(metrics, trainer.stop_reason, best_steps[0] if best_steps else None), flush=True)
    return metrics
