"""Workflow steps that use a trained model: predictions as a JSONL file, and an exported model.

    "predictions": {"type": "flax::predict", "model": {"type": "ref", "ref": "train"},
                    "datamodule": {"type": "ref", "ref": "datamodule"}, "input": "data/new.jsonl"},
    "export": {"type": "flax::export", "model": {"type": "ref", "ref": "train"},
               "datamodule": {"type": "ref", "ref": "datamodule"},
               "metrics": {"test": {"type": "ref", "ref": "test_metrics"}}},

Both run the model through `formed.training.Predictor` (records batched by the fitted data module
into a few padded shapes, a jitted forward pass, the model's readable output), the object that
`formed.training.load_model` returns. ``flax::predict`` reads a JSONL, CSV or TSV file (by its
extension; the file's content is part of the step's fingerprint, so editing it reruns the step)
or takes records from another step, and its result is cached as ``predictions.jsonl``: one line
per record, in input order. ``flax::export`` caches a self-contained model directory (config,
data module, parameters by name, model card), which ``load_model(<that directory>)`` reads back
without the workflow; the `run` binary prints where it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from formed.core import config_of
from formed.data import DataModule
from formed.modules import BaseFlaxModel
from formed.training import Predictor, export_model, load_model, read_records
from formed.workflow._context import current_step
from formed.workflow._format import Format
from formed.workflow._step import step

PREDICTIONS_FILE = "predictions.jsonl"


@Format.register("jsonl")
class JsonlFormat(Format[list[dict[str, Any]]]):
    """A list of records as ``predictions.jsonl``, one JSON object per line, in order."""

    def write(self, artifact: list[dict[str, Any]], directory: Path) -> None:
        with open(Path(directory) / PREDICTIONS_FILE, "w", encoding="utf-8") as file:
            for record in artifact:
                file.write(json.dumps(record, ensure_ascii=False) + "\n")

    def read(self, directory: Path) -> list[dict[str, Any]]:
        with open(Path(directory) / PREDICTIONS_FILE, encoding="utf-8") as file:
            return [json.loads(line) for line in file if line.strip()]


@Format.register("exported_model")
class ExportedModelFormat(Format[Predictor]):
    """A `Predictor` as an exported model directory (`formed.training.export_model`'s layout),
    read back with `formed.training.load_model`."""

    def write(self, artifact: Predictor, directory: Path) -> None:
        if not isinstance(artifact, Predictor):
            raise TypeError(f"ExportedModelFormat writes a Predictor, got {type(artifact).__name__}")
        export_model(artifact, directory)

    def read(self, directory: Path) -> Predictor:
        return load_model(directory)

    @classmethod
    def is_default_of(cls, obj: Any) -> bool:
        return isinstance(obj, Predictor)


@step("flax::predict", format=JsonlFormat())
def predict_flax_model(
    model: BaseFlaxModel,
    datamodule: DataModule,
    input: str | None = None,
    dataset: Sequence[Mapping[str, Any]] | None = None,
    batch_size: int = 64,
) -> list[dict[str, Any]]:
    """The model's readable prediction for each record of `input` or `dataset`, in order (for the
    text classifier: ``{"label": ..., "probabilities": {...}}``).

    Args:
        model: the trained model (e.g. a reference to a ``flax::train`` step).
        datamodule: the data module fitted with it; records to predict on need no label.
        input: a JSONL, CSV or TSV file (by extension); malformed lines are errors naming the
            file and line.
        dataset: records from another step instead (e.g. ``ref("dataset", "test")``).
        batch_size: records per forward pass.

    Raises:
        ValueError: unless exactly one of `input` and `dataset` is given.
    """
    if (input is None) == (dataset is None):
        raise ValueError("flax::predict needs exactly one of input (a file) and dataset (records)")
    records = read_records(input) if input is not None else list(dataset or ())
    return Predictor(model, datamodule, batch_size=batch_size).predict(records)


@step("flax::export", format=ExportedModelFormat())
def export_flax_model(
    model: BaseFlaxModel,
    datamodule: DataModule,
    metrics: Mapping[str, Mapping[str, float]] | None = None,
) -> Predictor:
    """The trained model with its data module, as an exported model directory once cached: its
    config (the one the workflow built the model from), the data module, the parameters by name
    and a model card listing `metrics`.

    Args:
        model: the trained model (a reference to a ``flax::train`` step).
        datamodule: the data module fitted with it.
        metrics: ``{split: {metric: value}}`` for the model card, e.g.
            ``{"test": ref("test_metrics")}``.

    Raises:
        ValueError: if `model` was not built from a config (the export rebuilds it from one).
    """
    config = config_of(model)
    if config is None:
        raise ValueError("flax::export needs a model built from a config (e.g. by a flax::train step's model key)")
    context = current_step()
    source = f"workflow step {context.name!r} ({context.fingerprint[:8]})" if context is not None else "a workflow step"
    return Predictor(model, datamodule, config={"model": config}, info={"source": source, "metrics": dict(metrics or {})})
