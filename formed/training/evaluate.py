"""The `evaluate` binary: a trained model's metrics on a labelled file.

    tools/bazel run //formed/training:evaluate -- --run=/tmp/runs/a --input=test.jsonl [--output=metrics.json]

``--run`` is a run's work directory (``--checkpoint=best|latest|<step>``) or an exported model.
The metrics are those of the run's own evaluators (its config's evaluation callbacks) and the
mean loss, computed as the run computed its validation metrics; they are printed as a table and,
with ``--output``, written as JSON (under a temporary name, then renamed).
"""

from __future__ import annotations

import os

from absl import flags

from formed.training import cli
from formed.training._json_files import write_json_atomically
from formed.training._records import SkipCounter, read_records
from formed.training._report import metrics_table

_MODEL = cli.ModelFlags(
    "A run's work directory or an exported model directory.",
    batch_size_help="Records per forward pass (when the run's config has no val_dataloader).",
)
_RECORDS = cli.RecordFlags("Labelled JSONL, CSV or TSV records.")
_INPUT = _RECORDS.input
_OUTPUT = flags.DEFINE_string("output", None, "Also write the metrics to this JSON file.")
flags.mark_flag_as_required("input")


def main(argv: list[str]) -> None:
    del argv
    source = _INPUT.value
    if source is None:  # absl has checked it is given (a required flag)
        raise ValueError("--input is required")
    predictor = _MODEL.load()
    skipped = SkipCounter() if _RECORDS.skip_malformed.value else None
    records = read_records(source, _RECORDS.format.value, skipped)
    metrics = predictor.evaluate(records, source=source)
    step = predictor.info.get("step")
    print(f"{predictor.info.get('source')}" + (f" (step {step})" if step is not None else "") + f" on {source}: {len(records)} records")
    if skipped is not None and skipped.count:
        print(f"skipped {skipped.count} malformed line(s)")
    print(metrics_table({os.path.basename(source): metrics}), flush=True)
    if _OUTPUT.value:
        write_json_atomically(
            os.path.abspath(_OUTPUT.value),
            {"metrics": metrics, "input": os.path.abspath(source), "records": len(records),
             "skipped": skipped.count if skipped else 0, "model": predictor.info.get("source"), "step": step},
        )


if __name__ == "__main__":
    cli.main(main)
