"""Readers of JSONL, CSV and TSV files into lists of records (dicts).

A malformed row (invalid JSON, a wrong number of fields, bytes that are not UTF-8) is a
`DataFormatError` naming the file, the 1-based line and the column. With ``skip_malformed=True``
such rows are dropped instead, and their count per file is logged as a warning; nothing is ever
dropped silently. Blank lines are not rows and are ignored.

Every record read from a file is a `SourcedRecord`: a plain dict that also remembers its file and
line, so that a later check against the fields (a missing column, a text that is not a string, a
label the training data never had; see `DataModule.check`) names them too:

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "train.jsonl")
>>> _ = open(path, "w").write('{"text": "hi", "label": "a"}\\n\\n{"text": 7, "label": "b"}\\n')
>>> records = read_jsonl(path)
>>> records[1], records[1].line
({'text': 7, 'label': 'b'}, 3)
>>> locate(records[1], "text")[1:]
(3, 10)
"""

from __future__ import annotations

import csv
import json
import linecache
import logging
import os
import re
from collections.abc import Sequence
from typing import Any

_logger = logging.getLogger(__name__)

Record = dict[str, Any]


class SourcedRecord(dict):
    """A record (a dict) that remembers where it was read: `path`, the 1-based `line`, and
    `format` (``"jsonl"``, or ``"csv"`` whose columns are counted in fields)."""

    def __init__(self, data: Record, path: str, line: int, format: str) -> None:
        super().__init__(data)
        self.path, self.line, self.format = path, line, format

    def __reduce__(self) -> Any:
        return (SourcedRecord, (dict(self), self.path, self.line, self.format))


class DataFormatError(ValueError):
    """A row of a data file could not be read or used; the message starts with
    ``path:line:column:`` (or ``path:line:`` where no column applies, e.g. a missing key)."""

    def __init__(self, path: str | os.PathLike[str], line: int, column: int | str | None, message: str) -> None:
        self.path, self.line, self.column = os.fspath(path), line, column
        where = f"{self.path}:{line}" if column is None else f"{self.path}:{line}:{column}"
        super().__init__(f"{where}: {message}")


def locate(record: Any, column: str) -> tuple[str, int, int | None] | None:
    """``(path, line, column)`` of `column` in a `SourcedRecord`, or None for other records.

    The column is 1-based: for CSV and TSV the field's position, for JSONL the character where
    the key's value starts (None when the key is absent).
    """
    if not isinstance(record, SourcedRecord):
        return None
    if column not in record:
        return record.path, record.line, None
    if record.format == "csv":
        return record.path, record.line, list(record).index(column) + 1
    text = linecache.getline(record.path, record.line)
    match = re.search(r'"%s"\s*:\s*' % re.escape(json.dumps(column)[1:-1]), text)
    return record.path, record.line, (match.end() + 1 if match else None)


def report_skipped(path: str | os.PathLike[str], errors: Sequence[Exception], why: str = "malformed") -> None:
    """Logs how many rows of `path` were dropped, and the first reason (nothing if none)."""
    if errors:
        _logger.warning(
            "skipped %d %s row(s) of %s (skip_malformed=True); the first: %s", len(errors), why, os.fspath(path), errors[0]
        )


def _decoded_lines(path: str | os.PathLike[str]) -> list[str | DataFormatError]:
    """Each line of the file decoded as UTF-8 (line ends kept), or the error naming the byte."""
    with open(path, "rb") as file:
        raw_lines = file.read().splitlines(keepends=True)
    lines: list[str | DataFormatError] = []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            # The column of the first bad byte, counted in characters of the valid prefix.
            column = len(raw[: error.start].decode("utf-8")) + 1
            byte = raw[error.start]
            lines.append(DataFormatError(path, number, column, f"byte 0x{byte:02x} is not valid UTF-8 ({error.reason})"))
    return lines


def read_jsonl(path: str | os.PathLike[str], skip_malformed: bool = False) -> list[Record]:
    """One JSON object per line."""
    records: list[Record] = []
    skipped: list[DataFormatError] = []
    for line_number, line in enumerate(_decoded_lines(path), start=1):
        try:
            if isinstance(line, DataFormatError):
                raise line
            if not line.strip():
                continue
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
        records.append(SourcedRecord(record, os.fspath(path), line_number, "jsonl"))
    report_skipped(path, skipped)
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
    decoded = _decoded_lines(path)
    lines: list[str] = []
    for line in decoded:
        if isinstance(line, DataFormatError):
            if not skip_malformed:
                raise line
            skipped.append(line)
            line = "\n"  # an empty row, so that the following rows keep their line numbers
        lines.append(line)
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
        records.append(SourcedRecord(dict(zip(header, row)), os.fspath(path), start, "csv"))
    report_skipped(path, skipped)
    return records


def read_tsv(path: str | os.PathLike[str], skip_malformed: bool = False) -> list[Record]:
    """`read_csv` with tabs between the fields."""
    return read_csv(path, delimiter="\t", skip_malformed=skip_malformed)
