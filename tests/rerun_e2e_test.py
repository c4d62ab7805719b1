"""End to end (issue 12, items 5 and 6): a rerun on a work directory means the same run.

One tiny run of one epoch on JSONL files gives a work directory with checkpoints; its metrics.json
is removed so that a rerun resumes it. Copies of it are rerun with a changed config (refused,
listing each change; accepted with --accept_config_change, keeping both configs) and with changed
training data (refused while checkpoints exist; refitted when none does yet).
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

import train_binary


def _read_json(path: str) -> object:
    with open(path, encoding="utf-8") as file:
        return json.load(file)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rerun")
    files = (
        train_binary.write_records(str(tmp / "train.jsonl"), train_binary.make_records(256, seed=1)),
        train_binary.write_records(str(tmp / "dev.jsonl"), train_binary.make_records(64, seed=2)),
        train_binary.write_records(str(tmp / "test.jsonl"), train_binary.make_records(64, seed=3)),
    )
    workdir = str(tmp / "trained")
    train_binary.run_train(*train_binary.jsonl_flags(workdir, *files, "--config.trainer.max_epochs=1"))
    os.remove(os.path.join(workdir, "metrics.json"))
    return workdir, files


def _copy(trained, tmp_path) -> str:
    workdir = str(tmp_path / "run")
    shutil.copytree(trained[0], workdir)
    return workdir


def test_resuming_with_a_changed_config_is_refused_unless_accepted(trained, tmp_path) -> None:
    workdir = _copy(trained, tmp_path)
    config_before = _read_json(os.path.join(workdir, "config.json"))
    flags = train_binary.jsonl_flags(workdir, *trained[1], "--config.trainer.max_epochs=2", "--config.seed=1")
    result = train_binary.run_train(*flags, check=False)
    assert result.returncode == 1
    assert f"error: {workdir} was trained with another config ({workdir}/config.json)" in result.stderr
    assert "  seed: 0 -> 1\n  trainer.max_epochs: 1 -> 2\n" in result.stderr, result.stderr
    assert train_binary.last_line(result.stderr).endswith("or --accept_config_change to resume with the new config")
    assert _read_json(os.path.join(workdir, "config.json")) == config_before

    result = train_binary.run_train(*flags, "--accept_config_change")
    assert f"resuming from {workdir}/checkpoints/step_00000008" in result.stdout
    assert "config.previous-1.json" in result.stdout and "trainer.max_epochs: 1 -> 2" in result.stdout
    assert _read_json(os.path.join(workdir, "config.previous-1.json")) == config_before
    assert _read_json(os.path.join(workdir, "config.json"))["trainer"]["max_epochs"] == 2
    assert _read_json(os.path.join(workdir, "metrics.json"))["step"] == 16


def test_the_saved_data_module_is_tied_to_the_data_it_was_fitted_on(trained, tmp_path) -> None:
    workdir = _copy(trained, tmp_path)
    train = str(tmp_path / "train.jsonl")
    records = train_binary.make_records(256, seed=1)
    records[0]["text"] = "the violet ball is east of the red box"  # a word the saved vocabulary lacks
    train_binary.write_records(train, records)
    flags = train_binary.jsonl_flags(workdir, train, *trained[1][1:], "--config.trainer.max_epochs=1")
    result = train_binary.run_train(*flags, check=False)
    assert result.returncode == 1
    assert train_binary.last_line(result.stderr) == (
        f"error: the training data or the datamodule config changed since {workdir}/data was fitted, and the "
        f"checkpoints in {workdir}/checkpoints were trained with its vocabularies; train in a new --workdir "
        "(or restore the old data)"
    ), result.stderr

    # Before any checkpoint exists (e.g. a first run that failed), the data module is refitted.
    shutil.rmtree(os.path.join(workdir, "checkpoints"))
    shutil.rmtree(os.path.join(workdir, "best"), ignore_errors=True)  # early stopping's best model
    result = train_binary.run_train(*flags)
    assert "changed since" in result.stderr and "refitting it" in result.stderr
    datamodule = json.dumps(_read_json(os.path.join(workdir, "data", "datamodule.json")))
    assert "violet" in datamodule
