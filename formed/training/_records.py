"""Reading the records a binary predicts on or evaluates: JSONL, CSV or TSV files (by extension
or an explicit format), or JSONL on standard input, streamed line by line.

A malformed line is a `formed.data.DataFormatError` naming the file (``<stdin>`` for standard
input) and its 1-based line; with ``skip_malformed`` it is dropped and counted instead.
"""

from __future__ import annotations

import json
import logging
import os
from typing import IO, Any, Iterator

from formed.data import DataFormatError, read_csv, read_jsonl, read_tsv

FORMATS = ("jsonl", "csv", "tsv")
_EXTENSIONS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}


def format_of_path(path: str, given: str | None = None) -> str:
    """`given` if set, else the format the extension of `path` names.

    Raises:
        ValueError: for an unknown format or extension.
    """
    if given:
        if given not in FORMATS:
            raise ValueError(f"--format={given}: expected one of {', '.join(FORMATS)}")
        return given
    extension = os.path.splitext(path)[1].lower()
    if extension not in _EXTENSIONS:
        raise ValueError(
            f"{path}: cannot tell the format from the extension {extension or '(none)'!r}; "
            f"name the file .jsonl, .csv or .tsv, or give --format"
        )
    return _EXTENSIONS[extension]


class SkipCounter:
    """Counts the malformed lines skipped, and remembers the first."""

    def __init__(self) -> None:
        self.count = 0
        self.first: DataFormatError | None = None

    def __call__(self, error: DataFormatError) -> None:
        self.count += 1
        self.first = self.first or error


def read_records(path: str, fmt: str | None = None, skipped: SkipCounter | None = None) -> list[dict[str, Any]]:
    """Every record of the file at `path`; with `skipped`, malformed lines are counted there
    instead of raising.

    Raises:
        FileNotFoundError: naming `path`.
        DataFormatError: at the first malformed line (without `skipped`).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    fmt = format_of_path(path, fmt)
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as file:
            return list(stream_jsonl(file, path, skipped))
    reader = read_csv if fmt == "csv" else read_tsv
    if skipped is None:
        return reader(path)
    # The reader reports what it skips as one warning (count and first error): read it there.
    report = _SkipReport()
    logger = logging.getLogger(reader.__module__)
    logger.addHandler(report)
    try:
        records = reader(path, skip_malformed=True)
    finally:
        logger.removeHandler(report)
    for _ in range(report.count):
        skipped.count += 1
    return records


class _SkipReport(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("skipped %d malformed") and isinstance(record.args, tuple):
            count = record.args[0]
            if isinstance(count, int):
                self.count += count


def stream_jsonl(stream: IO[str], name: str = "<stdin>", skipped: SkipCounter | None = None) -> Iterator[dict[str, Any]]:
    """The JSON objects of `stream`, one per non-blank line, as they are read."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataFormatError(name, number, error.colno, f"invalid JSON: {error.msg}") from None
            if not isinstance(record, dict):
                raise DataFormatError(name, number, 1, f"expected a JSON object, got {type(record).__name__}")
        except DataFormatError as error:
            if skipped is None:
                raise
            skipped(error)
            continue
        yield record
