"""The `predict` binary: a trained model's predictions on new records, one JSON line each.

    tools/bazel run //formed/training:predict -- --run=/tmp/runs/a --input=new.jsonl --output=predictions.jsonl
    echo '{"text": "the red box is east of the blue ball"}' | tools/bazel run //formed/training:predict -- --run=/tmp/runs/a

``--run`` is a run's work directory (``--checkpoint=best|latest|<step>``) or an exported model.
The input is JSONL, CSV or TSV (by extension, or ``--format``), or JSONL on standard input
(no ``--input``, or ``--input=-``); records need no label. Each output line is the model's
`readable_output` for one input record, in input order (for the text classifier:
``{"label": ..., "probabilities": {...}}``), on standard output or in ``--output``.

A malformed input line stops with its file and line number (``--skip_malformed`` skips and
counts such lines instead). An ``--output`` file is written under a temporary name and renamed:
it is never half-written, and the predictions made before a malformed line of standard input
are kept.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import IO, Any, Iterable

from absl import flags

from formed.training import cli
from formed.training._records import SkipCounter, read_records, stream_jsonl

_MODEL = cli.ModelFlags("A run's work directory or an exported model directory.", batch_size_help="Records per forward pass.")
_RECORDS = cli.RecordFlags("JSONL, CSV or TSV records; standard input (JSONL) when absent or '-'.")
_INPUT = _RECORDS.input
_OUTPUT = flags.DEFINE_string("output", None, "Where the JSON lines go; standard output when absent.")


def write_predictions(predictions: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Writes one JSON line per prediction (each line whole, flushed per line); returns the count."""
    count = 0
    for prediction in predictions:
        out.write(json.dumps(prediction, ensure_ascii=False) + "\n")
        out.flush()
        count += 1
    return count


def main(argv: list[str]) -> None:
    del argv
    predictor = _MODEL.load()
    skipped = SkipCounter() if _RECORDS.skip_malformed.value else None
    source = _INPUT.value
    if source in (None, "-"):
        records: Iterable[dict[str, Any]] = stream_jsonl(sys.stdin, "<stdin>", skipped)
        source = "<stdin>"
    else:
        records = read_records(source, _RECORDS.format.value, skipped)  # a malformed line stops here, before any output
    predictions = predictor.iter_predict(records)
    count = 0
    if _OUTPUT.value is None:
        count = write_predictions(predictions, sys.stdout)
    else:
        output = os.path.abspath(_OUTPUT.value)
        os.makedirs(os.path.dirname(output), exist_ok=True)
        out = tempfile.NamedTemporaryFile(
            "w", dir=os.path.dirname(output), prefix=".tmp-", suffix=".jsonl", delete=False, encoding="utf-8"
        )
        try:
            count = write_predictions(predictions, out)
        except BaseException:
            out.close()
            _finish(out.name, output, partial=True)
            raise
        out.flush()
        os.fsync(out.fileno())
        out.close()
        _finish(out.name, output, partial=False)
    if skipped is not None and skipped.count:
        first = f" (the first: {skipped.first})" if skipped.first is not None else ""
        sys.stderr.write(f"skipped {skipped.count} malformed line(s) of {source}{first}\n")
    sys.stderr.write(f"{count} prediction(s) of {predictor.info.get('source')}"
                     + (f" step {predictor.info['step']}" if predictor.info.get("step") is not None else "")
                     + (f" written to {_OUTPUT.value}" if _OUTPUT.value else "") + "\n")


def _finish(temporary: str, output: str, partial: bool) -> None:
    """Renames the finished file into place; after an error, keeps a partial file only if it
    holds predictions (complete lines, made before the error)."""
    os.chmod(temporary, 0o644)
    if partial and os.path.getsize(temporary) == 0:
        os.remove(temporary)
        return
    os.replace(temporary, output)
    if partial:
        sys.stderr.write(f"the predictions made before the error are in {output}\n")


if __name__ == "__main__":
    cli.main(main)
