"""Readers of JSONL, CSV and TSV files into lists of records (dicts).

A malformed row is a `DataFormatError` naming the file, the line and the column. With
``skip_malformed=True`` such rows are dropped instead, and their count is logged as a warning;
nothing is ever dropped silently. Blank lines are not rows and are ignored.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from typing import Any

_logger = logging.getLogger(__name__)

Record = dict[str, Any]


class DataFormatError(ValueError):
    """A row of a data file could not be read; the message starts with ``path:line:column``."""

    def __init__(self, path: str | os.PathLike[str], line: int, column: int | str, message: str) -> None:
        self.path, self.line, self.column = os.fspath(path), line, column
        super().__init__(f"{self.path}:{line}:{column}: {message}")


def _report_skipped(path: str | os.PathLike[str], errors: list[DataFormatError]) -> None:
    if errors:
        _logger.warning(
            "skipped %d malformed row(s) of %s (skip_malformed=True); the first: %s", len(errors), path, errors[0]
        )


def read_jsonl(path: str | os.PathLike[str], skip_malformed: bool = False) -> list[Record]:
    """One JSON object per line."""
    records: list[Record] = []
    skipped: list[DataFormatError] = []
    with open(path, encoding="utf-8") as file:
        for line_number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise DataFormatError(path, line_number, error.colno, f"invalid JSON: {error.msg}") from None
                if not isinstance(record, dict):
                    raise DataFormatError(path, line_number, 1, f"expected a JSON object, got {type(record).__name__}")
            except DataFormatError as error:
                if not skip_malformed:
                    raise
                skipped.append(error)
                continue
            records.append(record)
    _report_skipped(path, skipped)
    return records


def _bad_quote_column(raw: str, delimiter: str) -> int:
    """The 1-based column of the first field with a quote out of place (best effort)."""
    for index, piece in enumerate(raw.rstrip("\r\n").split(delimiter), start=1):
        stripped = piece.strip()
        if '"' in stripped and not (stripped.startswith('"') and stripped.endswith('"') and len(stripped) > 1):
            return index
    return 1


def read_csv(path: str | os.PathLike[str], delimiter: str = ",", skip_malformed: bool = False) -> list[Record]:
    """Rows of a delimited file whose first row names the columns; values are str."""
    records: list[Record] = []
    skipped: list[DataFormatError] = []
    with open(path, encoding="utf-8", newline="") as file:
        lines = file.readlines()
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    header: list[str] | None = None
    start = 1
    while True:
        start = reader.line_num + 1
        try:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                raw = lines[start - 1] if start - 1 < len(lines) else ""
                raise DataFormatError(path, start, _bad_quote_column(raw, delimiter), f"malformed row: {error}") from None
            if not row:
                continue
            if header is None:
                if len(set(row)) != len(row):
                    raise DataFormatError(path, start, 1, f"the header repeats a column name: {row}")
                header = row
                continue
            if len(row) != len(header):
                column = min(len(row), len(header)) + 1
                if len(row) > len(header):
                    problem = f"row has {len(row)} fields but the header has {len(header)}: unexpected field"
                else:
                    problem = f"row has {len(row)} fields but the header has {len(header)}: missing {header[column - 1]!r}"
                raise DataFormatError(path, start, column, problem)
        except DataFormatError as error:
            if not skip_malformed or header is None:
                raise
            skipped.append(error)
            continue
        records.append(dict(zip(header, row)))
    _report_skipped(path, skipped)
    return records


def read_tsv(path: str | os.PathLike[str], skip_malformed: bool = False) -> list[Record]:
    """`read_csv` with tabs between the fields."""
    return read_csv(path, delimiter="\t", skip_malformed=skip_malformed)
