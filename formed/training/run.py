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
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from typing import Any, Mapping

import jax

from formed.core import ConfigurationError, from_config, use_rngs
from formed.data import BaseDataset, DataModule, PaddedCollator, resolve_data_values
from formed.modules import BaseFlaxModel
from formed.training.checkpoints import CheckpointDirectory
from formed.training.report import training_summary
from formed.training.tensorboard_callback import TensorBoardCallback, write_final_summaries
from formed.training.trainer import FlaxTrainer

# Imported for their registrations (the Equinox engine, the optimizer builder).
import formed.training.equinox_engine  # noqa: F401  isort: skip
import formed.training.optimizers  # noqa: F401  isort: skip

REQUIRED_KEYS = ("dataset", "datamodule", "model", "trainer")
# Sections built before the data module is fitted: they cannot take "$data." values.
DATA_SECTIONS = ("dataset", "datamodule")


def _plain(config: Any) -> Any:
    to_dict = getattr(config, "to_dict", None)
    return to_dict() if callable(to_dict) else copy.deepcopy(config)


def write_json_atomically(path: str, data: Any) -> None:
    """Writes JSON to a temporary file beside `path`, then renames it over `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=directory, prefix=".tmp-", suffix=".json", delete=False) as file:
        json.dump(data, file, indent=2, sort_keys=True, default=str)
        file.flush()
        os.fsync(file.fileno())
    os.chmod(file.name, 0o644)
    os.replace(file.name, path)


def _prepare_datamodule(config: Mapping[str, Any], train_records: list[Any], directory: str) -> DataModule:
    """Loads the saved data module of a resumed run, or fits a new one (saved by `_save_datamodule`
    once the whole config has been built)."""
    if os.path.exists(os.path.join(directory, "datamodule.json")):
        return DataModule.load(directory)
    return from_config(DataModule, config["datamodule"], path="datamodule").build(train_records)


def _save_datamodule(datamodule: DataModule, directory: str) -> None:
    """Saves `datamodule` as `directory`, atomically, unless a saved one is there already."""
    if os.path.exists(os.path.join(directory, "datamodule.json")):
        return
    staging = tempfile.mkdtemp(prefix=".tmp-data-", dir=os.path.dirname(directory))
    datamodule.save(staging)
    os.chmod(staging, 0o755)
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(staging, directory)


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
    from formed.training.engine import FlaxTrainingEngine

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
    dataset = from_config(BaseDataset, config["dataset"], path="dataset")
    splits = dataset.load()
    datamodule = _prepare_datamodule(config, splits["train"], os.path.join(workdir, "data"))
    resolved = resolve_config(config, datamodule)
    trainer = build_trainer(resolved, datamodule)
    # The engine says which registry the model comes from (BaseEquinoxModel for "equinox").
    model = build_model(resolved, model_base_of(trainer))
    return splits, datamodule, model, trainer, resolved


def run(config: Any, workdir: str, config_path: str = "<config>") -> dict[str, dict[str, float]]:
    """Trains as `config` says, writing into `workdir`; returns the final metrics.

    Raises:
        ConfigurationError: naming the config file and the key, for any mistake in the config.
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
    try:
        splits, datamodule, model, trainer, resolved = _build(config, workdir)
    except ConfigurationError as error:
        raise ConfigurationError(f"{config_path}: {error.path}", error.reason) from None
    # Only now that every object is built: a config with a mistake leaves no work directory behind
    # (nor vocabularies that a corrected rerun would load as those of a resumed run).
    os.makedirs(workdir, exist_ok=True)
    # With several processes (one per host) the first one writes; every process fits the same
    # data module from the same records, so they agree without reading each other's files.
    primary = trainer.distributor.process_index == 0
    if primary:
        _save_datamodule(datamodule, os.path.join(workdir, "data"))
        write_json_atomically(os.path.join(workdir, "config.json"), resolved)
    for callback in trainer.callbacks:
        set_workdir = getattr(callback, "set_workdir", None)
        if callable(set_workdir):
            set_workdir(workdir)
        if isinstance(callback, TensorBoardCallback) and callback.run_config is None:
            callback.run_config = json.dumps(resolved, indent=2, sort_keys=True, default=str)

    state = trainer.engine.create_state(int(config.get("seed", 0)), trainer, model)
    checkpoints = CheckpointDirectory(os.path.join(workdir, "checkpoints"))
    if checkpoints.latest_step() is not None:
        state = checkpoints.resume(trainer, state)
        print(f"resuming from {checkpoints.path(checkpoints.latest_step())}", flush=True)
    state = trainer.train(model, splits["train"], splits.get("validation"), state=state)

    evaluators = [e for cb in trainer.callbacks if (e := cb.on_eval_start(trainer, model, state)) is not None]
    metrics: dict[str, dict[str, float]] = {}
    for split in ("validation", "test"):
        if splits.get(split):
            for evaluator in evaluators:
                evaluator.reset()
            metrics[split] = trainer.evaluate(model, state, splits[split], evaluators=evaluators)
    metrics["step"] = int(jax.device_get(state.step))  # type: ignore[assignment]
    if primary:
        for callback in trainer.callbacks:
            if isinstance(callback, TensorBoardCallback) and callback.directory is not None:
                write_final_summaries(callback.directory, metrics, trainer.global_step, resolved, trial=os.path.basename(workdir))
        write_json_atomically(metrics_path, metrics)
    best_steps = [cb.best_step for cb in trainer.callbacks if getattr(cb, "best_state", None) is not None]
    print(training_summary(metrics, trainer.stop_reason, best_steps[0] if best_steps else None), flush=True)
    return metrics
