"""Runs the workflow `run` binary in a subprocess, as a user does, for the end-to-end tests.

Under `bazel test` the binary is `//formed/workflow:run`, a `data` dependency of each test target,
found in the runfiles; outside Bazel it is ``python -m formed.workflow.run`` with the repository
root on ``PYTHONPATH`` (see `train_binary`, whose environment and polling this shares).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import train_binary

TESTS_DIR = train_binary.TESTS_DIR
TINY_WORKFLOW = os.path.join(TESTS_DIR, "configs", "tiny_workflow.py")
RUN_TIMEOUT_S = train_binary.RUN_TIMEOUT_S
_LINE = re.compile(r"^\[\d+/\d+\] (\S+)\s+(ran|cached|skipped|running)\b", re.MULTILINE)


def run_command(*flags: str) -> list[str]:
    srcdir, workspace = os.environ.get("TEST_SRCDIR"), os.environ.get("TEST_WORKSPACE")
    if srcdir and workspace:
        path = os.path.join(srcdir, workspace, "formed", "workflow", "run")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} is missing: add //formed/workflow:run to the test's data")
        return [sys.executable, path, *flags]
    return [sys.executable, "-m", "formed.workflow.run", *flags]


def write_spatial_relations(directory: str, train: int, validation: int, test: int) -> None:
    """The built-in dataset's splits as ``<split>.jsonl`` files in `directory`."""
    from formed.data import SpatialRelationsDataset

    os.makedirs(directory, exist_ok=True)
    splits = SpatialRelationsDataset(seed=0, train_size=train, validation_size=validation, test_size=test).load()
    for split, records in splits.items():
        with open(os.path.join(directory, f"{split}.jsonl"), "w", encoding="utf-8") as file:
            file.writelines(json.dumps(record) + "\n" for record in records)


def tiny_flags(cache_dir: str, data_dir: str, *overrides: str, config: str = TINY_WORKFLOW) -> list[str]:
    return [f"--config={config}:{data_dir}", f"--cache_dir={cache_dir}", *overrides]


def run_workflow(*flags: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs the binary to completion; with `check`, fails the test (showing its output) on error."""
    result = subprocess.run(
        run_command(*flags),
        env=train_binary.train_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=train_binary.REPO_ROOT,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"run exited with {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}")
    return result


def start_workflow(*flags: str, log_path: str) -> subprocess.Popen[bytes]:
    """Starts the binary in the background, its output going to `log_path`."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            run_command(*flags), env=train_binary.train_env(), stdout=log, stderr=subprocess.STDOUT, cwd=train_binary.REPO_ROOT
        )


def statuses(output: str) -> dict[str, str]:
    """``{step: final status}`` from the binary's progress lines (``ran``, ``cached``, ``skipped``)."""
    found: dict[str, str] = {}
    for name, status in _LINE.findall(output):
        if status != "running":
            found[name] = status
    return found


def tree(directory: str) -> dict[str, tuple[int, float]]:
    """``{relative path: (size, mtime)}`` of every file under `directory`, lock files aside."""
    files = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            if not name.endswith(".lock"):
                stat = os.stat(path)
                files[os.path.relpath(path, directory)] = (stat.st_size, stat.st_mtime)
    return files
