"""Loading a trained model from a run or an exported model directory, and exporting one.

    predictor = load_model("/tmp/runs/a")                       # the best checkpoint of a run
    predictor = load_model("/tmp/runs/a", checkpoint="latest")  # or a step: checkpoint=120
    export_model(predictor, "/tmp/models/a")                    # self-contained
    predictor = load_model("/tmp/models/a")                     # without the run

An exported model directory holds::

    formed_model.json   what it is: {"layout": 1, "model_format": "flax_nnx", "formed_version", "created",
                        "source", "step"}
    config.json         the run's resolved config (data-decided values as numbers)
    data/               the fitted data module (vocabularies, label set)
    params/             the parameters only (no optimizer state), an orbax checkpoint of nested
                        dicts keyed by the parameter paths: params["head"]["kernel"], ...
    metrics.json        the run's final metrics (when the run had finished)
    MODEL_CARD.md       a short summary: model, data, metrics, version, date

It is written under a temporary name and renamed, so a crash never leaves half an export.
`FlaxModelFormat` and `EquinoxModelFormat` (workflow) write and read this same layout: a
workflow's cached model is such a directory, with only the ``model`` section of a config and no
``data/`` (``load_model(directory, datamodule=...)`` gives it the data module to batch with).
"""

from __future__ import annotations

import datetime
import json
import os
import pickle
from typing import Any, Callable, Mapping

import orbax.checkpoint as ocp

import formed
from formed.core import dump_pickle
from formed.data import DataModule
from formed.training._json_files import directory_written_atomically, write_json_atomically
from formed.training._model_formats import format_named, format_of
from formed.training._predictor import Predictor
from formed.training._run import build_model, build_trainer, model_base_for, model_base_of
from formed.training._checkpoints import CheckpointDirectory

MODEL_FILE = "formed_model.json"
LAYOUT = 1
Checkpoint = str | int


def _read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def is_exported_model(path: str) -> bool:
    return os.path.isfile(os.path.join(path, MODEL_FILE))


def is_run_directory(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "config.json")) and os.path.isdir(os.path.join(path, "data"))


def params_for_export(state: Any) -> Any:
    """The parameters a trained state is used with: its exponential moving average when the
    run kept one (a state with ``ema_params``), otherwise its parameters."""
    ema = getattr(state, "ema_params", None)
    return ema if ema is not None else state.params


def choose_step(checkpoints: CheckpointDirectory, checkpoint: Checkpoint, run: str) -> int:
    """The step ``"best"`` (the index's best, else the latest), ``"latest"`` or a step number
    names among the run's checkpoints.

    Raises:
        ValueError: if the run has no checkpoint, or not the one asked for.
    """
    steps = [entry["step"] for entry in checkpoints.read_index()["checkpoints"] if entry["step"] in set(checkpoints.steps())]
    if not steps and checkpoints.latest_step() is not None:
        steps = [checkpoints.latest_step()]
    if not steps:
        raise ValueError(f"{run}: the run has no checkpoint yet (checkpoints/ is empty)")
    if checkpoint == "latest":
        return max(steps)
    if checkpoint == "best":
        best = checkpoints.read_index().get("best")
        return best if isinstance(best, int) and best in steps else max(steps)
    try:
        step = int(checkpoint)
    except (TypeError, ValueError):
        raise ValueError(f"checkpoint must be 'best', 'latest' or a step number, got {checkpoint!r}") from None
    if step not in steps:
        raise ValueError(f"{run}: no checkpoint of step {step}; saved steps: {', '.join(map(str, sorted(steps)))}")
    return step


def _load_run(run: str, checkpoint: Checkpoint, batch_size: int) -> Predictor:
    config = _read_json(os.path.join(run, "config.json"))
    datamodule = DataModule.load(os.path.join(run, "data"))
    checkpoints = CheckpointDirectory(os.path.join(run, "checkpoints"))
    step = choose_step(checkpoints, checkpoint, run)
    trainer = build_trainer(config, datamodule)
    model = build_model(config, model_base_of(trainer))
    template = trainer.engine.create_state(int(config.get("seed", 0)), trainer, model)
    state = checkpoints.restore(template, step)
    model = state.replace(params=params_for_export(state)).to_model()
    metrics_path = os.path.join(run, "metrics.json")
    metrics = _read_json(metrics_path) if os.path.exists(metrics_path) else None
    info = {"source": run, "step": step, "checkpoint": checkpoint, "metrics": metrics}
    return Predictor(model, datamodule, config=config, batch_size=batch_size, info=info)


def _load_exported(directory: str, batch_size: int, datamodule: DataModule | None) -> Predictor:
    model, config, saved, about = read_model_files(directory)
    datamodule = datamodule if datamodule is not None else saved
    metrics_path = os.path.join(directory, "metrics.json")
    metrics = _read_json(metrics_path) if os.path.exists(metrics_path) else None
    info = {**about, "source": directory, "exported_from": about.get("source"), "metrics": metrics}
    return Predictor(model, datamodule, config=config, batch_size=batch_size, info=info)


def load_model(
    path: str | os.PathLike[str],
    checkpoint: Checkpoint = "best",
    batch_size: int = 64,
    datamodule: DataModule | None = None,
) -> Predictor:
    """A `Predictor` of the model in `path`: a run's work directory (its checkpoint ``"best"``,
    ``"latest"`` or a step number) or an exported model directory (`checkpoint` is ignored),
    such as a workflow's cached model (`FlaxModelFormat`, `EquinoxModelFormat`).

    Modules that register the model's classes (``--import``) must be imported first.
    `datamodule`, when given, batches records in place of the one saved with the model; a
    directory saved without one (a workflow's cached model) needs it to predict or evaluate,
    and without it gives a `Predictor` whose ``model`` is ready and whose ``predict`` says so.

    For example ``load_model("<cache_dir>/steps/<fingerprint>/artifact", datamodule=fitted)``
    predicts with a workflow's cached model.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: if it is neither a run nor an exported model, or lacks the checkpoint.
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such directory (expected a run's work directory or an exported model)")
    if is_exported_model(path):
        return _load_exported(path, batch_size, datamodule)
    if is_run_directory(path):
        predictor = _load_run(path, checkpoint, batch_size)
        if datamodule is not None:
            predictor = Predictor(predictor.model, datamodule, predictor.config, batch_size, predictor.info)
        return predictor
    raise ValueError(
        f"{path} is neither a run directory (config.json, data/, checkpoints/ written by train) "
        f"nor an exported model ({MODEL_FILE} written by export)"
    )


def _summarise(config: Mapping[str, Any], datamodule: DataModule) -> list[str]:
    model = config.get("model", {})
    lines = [f"- model: `{model.get('type', '?')}`"]
    for key, value in model.items():
        if isinstance(value, dict) and "type" in value:
            lines.append(f"  - {key}: `{value['type']}`")
    for name, field in datamodule.fields.items():
        values = ", ".join(f"{k}={v}" for k, v in field.data_values().items())
        lines.append(f"- field `{name}` ({type(field).__name__}{': ' + values if values else ''})")
    dataset = config.get("dataset", {})
    if dataset:
        lines.append(f"- trained on: `{dataset.get('type', '?')}` dataset")
    return lines


def model_card(
    config: Mapping[str, Any], datamodule: DataModule, info: Mapping[str, Any], created: datetime.datetime
) -> str:
    """The text of ``MODEL_CARD.md``: the model and data, the run's metrics, version and date."""
    lines = ["# Model card", "", f"Exported by formed {formed.__version__} on {created.isoformat()}."]
    source = info.get("source")
    if source:
        lines.append(f"From `{source}`" + (f", step {info['step']}." if info.get("step") is not None else "."))
    lines += ["", "## Model and data", "", *_summarise(config, datamodule), "", "## Metrics", ""]
    metrics = info.get("metrics") or {}
    splits = {split: values for split, values in metrics.items() if isinstance(values, dict)}
    if splits:
        names = sorted({name for values in splits.values() for name in values})
        lines.append("| split | " + " | ".join(names) + " |")
        lines.append("| --- |" + " --- |" * len(names))
        for split, values in splits.items():
            lines.append(f"| {split} | " + " | ".join(f"{values[n]:.4f}" if n in values else "" for n in names) + " |")
    else:
        lines.append("No final metrics (the run had not finished).")
    lines += ["", "Load it with `formed.training.load_model(directory)`.", ""]
    return "\n".join(lines)


def write_model_files(
    directory: str,
    model: Any,
    config: Mapping[str, Any] | None,
    datamodule: DataModule | None = None,
    info: Mapping[str, Any] | None = None,
    created: datetime.datetime | None = None,
) -> None:
    """Writes the exported layout (see the module docs) into the existing, empty `directory`.

    `config` is the resolved run config (at least its ``model`` section). A model built in code
    has none: its structure is then pickled (``structure.pkl``, the one case that needs the
    model's classes importable under the same names); its parameters are named all the same.
    """
    info = dict(info or {})
    created = created or datetime.datetime.now(datetime.timezone.utc)
    fmt = format_of(model)
    ocp.PyTreeCheckpointer().save(os.path.join(directory, "params"), fmt.named_params(model))
    if datamodule is not None:
        datamodule.save(os.path.join(directory, "data"))
    if config is not None:
        write_json_atomically(os.path.join(directory, "config.json"), dict(config))
    else:
        with open(os.path.join(directory, "structure.pkl"), "wb") as file:
            dump_pickle(fmt.structure(model), file)  # jitted JAX functions (an LSTM's tanh) too
    metrics = info.get("metrics")
    if metrics:
        write_json_atomically(os.path.join(directory, "metrics.json"), metrics)
    if config is not None and datamodule is not None:
        with open(os.path.join(directory, "MODEL_CARD.md"), "w", encoding="utf-8") as file:
            file.write(model_card(config, datamodule, info, created))
    about = {
        "layout": LAYOUT,
        "model_format": type(fmt).name_of(type(fmt)),
        "model_type": (config or {}).get("model", {}).get("type") if config else type(model).__name__,
        "formed_version": formed.__version__,
        "created": created.isoformat(),
        "source": info.get("source"),
        "step": info.get("step"),
    }
    # Written last: a directory with formed_model.json is complete.
    write_json_atomically(os.path.join(directory, MODEL_FILE), about)


def read_model_files(directory: str) -> tuple[Any, dict[str, Any] | None, DataModule | None, dict[str, Any]]:
    """``(model, config, datamodule, about)`` of a directory `write_model_files` wrote; the
    data module is None when none was saved.

    Raises:
        FileNotFoundError: if `directory` holds no ``formed_model.json``.
        ValueError: if its layout is not this version's, or a parameter does not fit the model.
    """
    path = os.path.join(directory, MODEL_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no model saved here ({MODEL_FILE} is missing)")
    about = _read_json(path)
    if about.get("layout") != LAYOUT:
        raise ValueError(f"{directory}: exported with layout {about.get('layout')!r}; this formed reads layout {LAYOUT}")
    fmt = format_named(about["model_format"])
    config_path = os.path.join(directory, "config.json")
    config = _read_json(config_path) if os.path.exists(config_path) else None
    if config is not None:
        # A run's config names its engine, whose registry builds the model; a workflow's
        # cached model saves only its ``model`` section, built from the format's registry.
        model_base = model_base_for(config) if isinstance(config.get("trainer"), dict) else fmt.model_base
        model = build_model(config, model_base)
    else:
        with open(os.path.join(directory, "structure.pkl"), "rb") as file:
            model = fmt.from_structure(pickle.load(file))
    named = ocp.PyTreeCheckpointer().restore(os.path.join(directory, "params"))
    model = fmt.load_params(model, named)
    data = os.path.join(directory, "data")
    datamodule = DataModule.load(data) if os.path.isdir(data) else None
    return model, config, datamodule, about


def export_model(
    predictor: Predictor,
    output: str | os.PathLike[str],
    now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.timezone.utc),
) -> str:
    """Writes `predictor`'s model as a self-contained model directory at `output` (see the
    module docs) and returns its path. A previous export at `output` is replaced whole.

    Raises:
        ValueError: if `output` exists and is not an exported model (nothing is overwritten), or
            the predictor has no config to rebuild the model from.
    """
    output = os.path.abspath(os.fspath(output))
    if "model" not in predictor.config:
        raise ValueError("export needs the model's config (a Predictor from load_model has it)")
    if os.path.exists(output) and not is_exported_model(output) and (not os.path.isdir(output) or os.listdir(output)):
        raise ValueError(f"{output} exists and is not an exported model; choose a new --output")
    with directory_written_atomically(output) as staging:
        write_model_files(staging, predictor.model, predictor.config, predictor.datamodule, predictor.info, now())
    return output
