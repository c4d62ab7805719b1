import logging
from typing import Any

import pytest

from formed.data import DataFormatError, SourcedRecord, read_csv, read_jsonl, read_tsv


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_reads_objects_and_skips_blank_lines(tmp_path):
    path = _write(tmp_path, "a.jsonl", '{"text": "hi", "label": 1}\n\n{"text": "ho", "label": 0}\n')
    assert read_jsonl(path) == [{"text": "hi", "label": 1}, {"text": "ho", "label": 0}]


@pytest.mark.parametrize(
    "body, where, message",
    [
        ('{"a": 1}\n{"a": 2,}\n', ":2:9:", "invalid JSON"),
        ('{"a": 1}\n[1, 2]\n', ":2:1:", "expected a JSON object, got list"),
    ],
)
def test_jsonl_errors_name_file_line_and_column(tmp_path, body, where, message):
    path = _write(tmp_path, "bad.jsonl", body)
    with pytest.raises(DataFormatError, match=message) as error:
        read_jsonl(path)
    assert f"bad.jsonl{where}" in str(error.value)


def test_csv_and_tsv(tmp_path):
    path = _write(tmp_path, "a.csv", 'text,label\n"hello, you",pos\n"two\nlines",neg\n')
    assert read_csv(path) == [{"text": "hello, you", "label": "pos"}, {"text": "two\nlines", "label": "neg"}]
    path = _write(tmp_path, "a.tsv", "text\tlabel\nhi there\tpos\n")
    assert read_tsv(path) == [{"text": "hi there", "label": "pos"}]


@pytest.mark.parametrize(
    "body, line, column, message",
    [
        ("text,label\nok,pos\na,b,c\n", 3, 3, "unexpected field"),
        ("text,label\nok,pos\nlonely\n", 3, 2, "missing 'label'"),
        ('text,label\nok,pos\n"bad"x,neg\n', 3, 1, "malformed row"),
    ],
)
def test_csv_errors_name_file_line_and_column(tmp_path, body, line, column, message):
    path = _write(tmp_path, "bad.csv", body)
    with pytest.raises(DataFormatError, match=message) as error:
        read_csv(path)
    assert (error.value.line, error.value.column) == (line, column)
    assert str(error.value).startswith(f"{path}:{line}:{column}:")


def test_skip_malformed_logs_the_count(tmp_path, caplog):
    path = _write(tmp_path, "bad.csv", 'text,label\nok,pos\na,b,c\n"x"y,neg\nfine,neg\n')
    with caplog.at_level(logging.WARNING, logger="formed.data._readers"):
        records = read_csv(path, skip_malformed=True)
    assert records == [{"text": "ok", "label": "pos"}, {"text": "fine", "label": "neg"}]
    assert "skipped 2 malformed row(s)" in caplog.text
    path = _write(tmp_path, "bad.jsonl", '{"a": 1}\nnope\n')
    with caplog.at_level(logging.WARNING, logger="formed.data._readers"):
        assert read_jsonl(path, skip_malformed=True) == [{"a": 1}]
    assert "skipped 1 malformed row(s)" in caplog.text


def _text_and_line(records: list[dict[str, Any]]) -> list[tuple[Any, int]]:
    assert all(isinstance(r, SourcedRecord) for r in records)
    return [(r["text"], r.line) for r in records if isinstance(r, SourcedRecord)]


def test_bytes_that_are_not_utf8_name_the_file_line_and_column(tmp_path, caplog):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"text": "ok", "label": "a"}\n{"text": "caf\xe9", "label": "b"}\n{"text": "fine", "label": "a"}\n')
    with pytest.raises(DataFormatError, match=r"latin1.jsonl:2:14: byte 0xe9 is not valid UTF-8"):
        read_jsonl(path)
    with caplog.at_level(logging.WARNING):
        records = read_jsonl(path, skip_malformed=True)
    assert _text_and_line(records) == [("ok", 1), ("fine", 3)]
    assert "skipped 1 malformed row(s) of" in caplog.text and "latin1.jsonl" in caplog.text
    csv_path = tmp_path / "latin1.csv"
    csv_path.write_bytes(b"text,label\ncaf\xe9,b\nfine,a\n")
    with pytest.raises(DataFormatError, match=r"latin1.csv:2:4: byte 0xe9"):
        read_csv(csv_path)
    assert _text_and_line(read_csv(csv_path, skip_malformed=True)) == [("fine", 3)]
