"""`bazel run` starts a binary in its runfiles tree and says where the user was in
``$BUILD_WORKING_DIRECTORY``: the binary works there, so relative flags and the data files a config
names mean what they mean in the user's shell."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import train_binary


def test_relative_paths_are_taken_from_the_build_working_directory(tmp_path) -> None:
    project = tmp_path / "project"  # where the user ran `tools/bazel run`
    (project / "data").mkdir(parents=True)
    (project / "configs").mkdir()
    for name in ("jsonl_classifier.py", "tiny_classifier.py"):  # the config next to what it loads
        shutil.copy(os.path.join(train_binary.TESTS_DIR, "configs", name), project / "configs" / name)
    for split, seed, count in (("train", 1, 256), ("dev", 2, 64), ("test", 3, 64)):
        train_binary.write_records(str(project / "data" / f"{split}.jsonl"), train_binary.make_records(count, seed=seed))
    elsewhere = tmp_path / "runfiles"  # the binary's own directory: relative paths must not land here
    elsewhere.mkdir()
    env = {**train_binary.train_env(), "BUILD_WORKING_DIRECTORY": str(project)}
    flags = train_binary.jsonl_flags(
        "runs/a", "data/train.jsonl", "data/dev.jsonl", "data/test.jsonl", "--config.trainer.max_epochs=1"
    )
    flags[0] = "--config=configs/jsonl_classifier.py"
    result = subprocess.run(
        train_binary.train_command(*flags),
        env=env,
        cwd=str(elsewhere),
        capture_output=True,
        text=True,
        timeout=train_binary.RUN_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr
    with open(project / "runs" / "a" / "config.json", encoding="utf-8") as file:
        config = json.load(file)
    assert config["dataset"]["train"] == "data/train.jsonl"  # the user's words, read from their directory
    assert os.path.isfile(project / "runs" / "a" / "metrics.json")
    assert os.listdir(elsewhere) == []
