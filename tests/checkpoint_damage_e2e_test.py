"""End to end (issue 12, items 3 and 4): damaged checkpoints are never trusted silently.

One tiny run of one epoch (checkpoints every 2 steps, the last two and the best kept) gives a
work directory; its metrics.json is removed so that a rerun resumes it. Copies of it are damaged
(64 flipped bytes in the newest checkpoint; a truncated file in every checkpoint; a truncated
checksum file) and rerun; a work directory of the layout before orbax's `CheckpointManager`
(with ``checkpoints/index.json``) is refused with what to do.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

import saved_checkpoints
import train_binary

FLAGS = ("--config.trainer.max_epochs=1",)


def _largest_file(directory: str) -> str:
    """The largest of orbax's files (not formed's checksums.json)."""
    files = [os.path.join(root, name) for root, _, names in os.walk(directory) for name in names if name != "checksums.json"]
    return max(files, key=os.path.getsize)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> str:
    workdir = str(tmp_path_factory.mktemp("damage") / "trained")
    train_binary.run_train(*train_binary.tiny_flags(workdir, *FLAGS))
    os.remove(os.path.join(workdir, "metrics.json"))
    return workdir


def _copy(trained: str, tmp_path) -> tuple[str, str, list[int]]:
    workdir = str(tmp_path / "run")
    shutil.copytree(trained, workdir)
    checkpoints = os.path.join(workdir, "checkpoints")
    return workdir, checkpoints, saved_checkpoints.committed_steps(checkpoints)


def test_a_damaged_checkpoint_is_reported_and_the_newest_intact_one_resumed(trained, tmp_path) -> None:
    workdir, checkpoints, steps = _copy(trained, tmp_path)
    newest, previous = steps[-1], steps[-2]
    with open(_largest_file(os.path.join(checkpoints, f"step_{newest:08d}")), "r+b") as file:
        data = bytearray(file.read())
        for i in range(64):
            data[len(data) // 2 + i] ^= 0xFF
        file.seek(0)
        file.write(data)
    result = train_binary.run_train(*train_binary.tiny_flags(workdir, *FLAGS))
    assert f"checkpoint step_{newest:08d} (step {newest}) is damaged" in result.stderr
    assert "checksum mismatch" in result.stderr
    assert f"resuming from {checkpoints}/step_{previous:08d}" in result.stdout
    with open(os.path.join(workdir, "metrics.json"), encoding="utf-8") as file:
        assert json.load(file)["step"] == 8


def test_no_intact_checkpoint_stops_and_says_which_directory_to_remove(trained, tmp_path) -> None:
    workdir, checkpoints, steps = _copy(trained, tmp_path)
    for step in steps:
        with open(_largest_file(os.path.join(checkpoints, f"step_{step:08d}")), "r+b") as file:
            file.truncate(16)
    result = train_binary.run_train(*train_binary.tiny_flags(workdir, *FLAGS), check=False)
    assert result.returncode == 1
    last = train_binary.last_line(result.stderr)
    assert last.startswith(f"error: no intact checkpoint in {checkpoints}: ") and last.endswith(
        f"Remove {checkpoints} to train from scratch."
    ), result.stderr
    for step in steps:
        assert f"step_{step:08d} (step {step}) is damaged" in last
    assert "Traceback" not in result.stderr and not os.path.exists(os.path.join(workdir, "metrics.json"))


def test_a_truncated_checksum_file_makes_its_step_damaged(trained, tmp_path) -> None:
    workdir, checkpoints, steps = _copy(trained, tmp_path)
    newest, previous = steps[-1], steps[-2]
    checksums = os.path.join(checkpoints, f"step_{newest:08d}", "checksums.json")
    with open(checksums, encoding="utf-8") as file:
        text = file.read()
    with open(checksums, "w", encoding="utf-8") as file:
        file.write(text[: len(text) // 3])
    result = train_binary.run_train(*train_binary.tiny_flags(workdir, *FLAGS))
    assert f"checkpoint step_{newest:08d} (step {newest}) is damaged: {checksums} is unreadable (" in result.stderr
    assert f"resuming from {checkpoints}/step_{previous:08d}" in result.stdout


def test_a_work_directory_of_the_previous_layout_is_refused_saying_what_to_do(trained, tmp_path) -> None:
    """Checkpoints written before orbax's CheckpointManager (an index.json beside the steps) are
    not resumed: the run stops with one line, nothing deleted or trained."""
    workdir, checkpoints, steps = _copy(trained, tmp_path)
    index = os.path.join(checkpoints, "index.json")
    with open(index, "w", encoding="utf-8") as file:
        json.dump({"checkpoints": [{"step": step, "metrics": {}} for step in steps], "best": steps[-1]}, file)
    result = train_binary.run_train(*train_binary.tiny_flags(workdir, *FLAGS), check=False)
    assert result.returncode == 1
    last = train_binary.last_line(result.stderr)
    assert last.startswith(f"error: {checkpoints} holds checkpoints of an older formed version ({index}), "), result.stderr
    assert f"remove {checkpoints} to train from scratch" in last
    assert "Traceback" not in result.stderr
    # Nothing was deleted or trained: the checkpoints are as they were.
    assert sorted(name for name in os.listdir(checkpoints)) == ["index.json", *(f"step_{step:08d}" for step in steps)]
    assert not os.path.exists(os.path.join(workdir, "metrics.json"))
