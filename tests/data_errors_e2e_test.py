"""End to end (issue 12, item 8): data errors name the file, the 1-based line and the column, before
anything is trained or written; with ``skip_malformed=True`` the bad rows are dropped and their
number is reported per file."""

from __future__ import annotations

import json
import os

import train_binary


def _files(tmp_path) -> tuple[str, str, str]:
    return (
        train_binary.write_records(str(tmp_path / "train.jsonl"), train_binary.make_records(256, seed=1)),
        train_binary.write_records(str(tmp_path / "dev.jsonl"), train_binary.make_records(64, seed=2)),
        train_binary.write_records(str(tmp_path / "test.jsonl"), train_binary.make_records(64, seed=3)),
    )


def test_a_bad_record_is_named_by_file_line_and_column_and_skipped_on_request(tmp_path) -> None:
    train, dev, test = _files(tmp_path)
    records = train_binary.make_records(256, seed=1)
    records[2]["text"] = 42  # line 3: not a string
    train_binary.write_records(train, records)
    workdir = str(tmp_path / "run")
    result = train_binary.run_train(*train_binary.jsonl_flags(workdir, train, dev, test), check=False)
    assert result.returncode == 1
    assert train_binary.last_line(result.stderr) == (
        f"error: {train}:3:10: field 'text': has 42 (an int) in column 'text'; expected a string or a list of strings"
    ), result.stderr
    assert "Traceback" not in result.stderr and not os.path.exists(workdir)

    # The test file: a record without text (line 5), a byte that is not UTF-8 (line 9), a label
    # the training data never had (line 12); skipped with skip_malformed=True.
    train_binary.write_records(train, train_binary.make_records(256, seed=1))
    test_records = train_binary.make_records(64, seed=3)
    del test_records[4]["text"]
    test_records[11]["label"] = "purple"
    train_binary.write_records(test, test_records)
    with open(test, "rb") as file:
        lines = file.read().split(b"\n")
    lines[8] = lines[8].replace(b"the ", b"th\xe9 ", 1)
    with open(test, "wb") as file:
        file.write(b"\n".join(lines))
    result = train_binary.run_train(*train_binary.jsonl_flags(workdir, train, dev, test), check=False)
    assert result.returncode == 1
    assert train_binary.last_line(result.stderr).startswith(f"error: {test}:9:13: byte 0xe9 is not valid UTF-8"), result.stderr
    assert not os.path.exists(workdir)

    flags = train_binary.jsonl_flags(
        workdir, train, dev, test, "--config.dataset.skip_malformed=True", "--config.trainer.max_epochs=1"
    )
    result = train_binary.run_train(*flags)
    assert f"skipped 1 malformed row(s) of {test} (skip_malformed=True); the first: {test}:9:13: byte 0xe9" in result.stderr
    assert f"skipped 2 unusable row(s) of {test} (skip_malformed=True); the first: {test}:5: field 'text': has no column 'text'" in result.stderr
    assert f"of {train}" not in result.stderr and f"of {dev}" not in result.stderr
    with open(os.path.join(workdir, "metrics.json"), encoding="utf-8") as file:
        assert 0.0 <= json.load(file)["test"]["accuracy"] <= 1.0
