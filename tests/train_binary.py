"""Runs the `train` binary in a subprocess, as a user does, for the end-to-end tests.

Under `bazel test` the binary is `//formed/training:train` itself, a `data` dependency of each test
target, found in the test's runfiles and run through its own launcher (which sets up the module
path from those runfiles). Outside Bazel (``.venv/bin/python -m pytest tests/...``, the fast dev
loop) there are no runfiles, so the same module is run as ``python -m formed.training.train`` with
the repository root on ``PYTHONPATH``; both run `formed/training/train.py` with the same flags.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from typing import Callable

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
TINY_CONFIG = os.path.join(TESTS_DIR, "configs", "tiny_classifier.py")
JSONL_CONFIG = os.path.join(TESTS_DIR, "configs", "jsonl_classifier.py")

# A run of the tiny config takes 10-20 s (importing JAX, compiling, a few dozen steps).
RUN_TIMEOUT_S = 240


def _runfiles_binary() -> str | None:
    srcdir = os.environ.get("TEST_SRCDIR")
    workspace = os.environ.get("TEST_WORKSPACE")
    if not srcdir or not workspace:
        return None
    path = os.path.join(srcdir, workspace, "formed", "training", "train")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing: add //formed/training:train to the test's data")
    return path


def train_command(*flags: str) -> list[str]:
    """The command line of the `train` binary with `flags` (``--config=...``, ``--workdir=...``)."""
    binary = _runfiles_binary()
    if binary is not None:
        # The launcher is a Python script; run it with this interpreter (the project's venv)
        # rather than whatever `python` its shebang would find on PATH.
        return [sys.executable, binary, *flags]
    return [sys.executable, "-m", "formed.training.train", *flags]


def train_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("JAX_PLATFORMS", "cpu")
    env["PYTHONUNBUFFERED"] = "1"
    if _runfiles_binary() is None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO_ROOT, env.get("PYTHONPATH")) if p)
    return env


def tiny_flags(workdir: str, *overrides: str, config: str = TINY_CONFIG) -> list[str]:
    return [f"--config={config}", f"--workdir={workdir}", *overrides]


def run_train(*flags: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs the binary to completion; with `check`, fails the test (showing its output) on error."""
    result = subprocess.run(
        train_command(*flags), env=train_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=REPO_ROOT
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"train exited with {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


def start_train(*flags: str, log_path: str) -> subprocess.Popen[bytes]:
    """Starts the binary in the background, its stdout and stderr going to `log_path`."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            train_command(*flags), env=train_env(), stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )


def poll(
    condition: Callable[[], object], timeout_s: float, interval_s: float = 0.02, what: str = "condition"
) -> object:
    """Returns the first truthy value of `condition()`, checking every `interval_s` for at most
    `timeout_s`; raises AssertionError naming `what` when time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def wait_while_running(
    process: subprocess.Popen[bytes], log_path: str, condition: Callable[[], object], what: str, timeout_s: float = RUN_TIMEOUT_S
) -> object:
    """Waits until `condition()` holds, as `poll` does, for a run started with its output in
    `log_path`; fails at once, showing the log, if the run ends first."""

    def ready() -> object:
        if process.poll() is not None:
            with open(log_path, encoding="utf-8", errors="replace") as log:
                raise AssertionError(f"the run ended ({process.returncode}) before {what}:\n{log.read()}")
        return condition()

    return poll(ready, timeout_s, what=what)


def kill_when(
    process: subprocess.Popen[bytes], log_path: str, condition: Callable[[], object], what: str, timeout_s: float = RUN_TIMEOUT_S
) -> None:
    """SIGKILLs `process` (a run started with its output in `log_path`) as soon as `condition()`
    holds; fails, showing the log, if the run ends by itself first (it would not have been
    interrupted). The process is reaped either way."""
    try:
        wait_while_running(process, log_path, condition, what, timeout_s)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


COLOURS = ("red", "blue", "green")


def make_records(n: int, seed: int = 0) -> list[dict[str, str]]:
    """``{"text": "the red ball is east of the blue box", "label": "red"}``: the label is the colour
    of the object on the left, so the word order decides it (as in the built-in dataset)."""
    rng = random.Random(seed)
    records = []
    for _ in range(n):
        a, b = rng.sample(COLOURS, 2)
        x, y = rng.choice(("ball", "box", "cup")), rng.choice(("ball", "box", "cup"))
        if rng.random() < 0.5:
            records.append({"text": f"the {a} {x} is west of the {b} {y}", "label": a})
        else:
            records.append({"text": f"the {a} {x} is east of the {b} {y}", "label": b})
    return records


def write_records(path: str, records: list[object], raw_lines: dict[int, str] | None = None) -> str:
    """Writes `records` as JSONL to `path`; `raw_lines` replaces given (1-based) lines verbatim."""
    lines = [json.dumps(record) for record in records]
    for number, text in (raw_lines or {}).items():
        lines[number - 1] = text
    with open(path, "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
    return path


def jsonl_flags(workdir: str, train: str, validation: str, test: str, *overrides: str) -> list[str]:
    """Flags of a tiny run on JSONL files (`configs/jsonl_classifier.py`)."""
    return [
        f"--config={JSONL_CONFIG}",
        f"--workdir={workdir}",
        f"--config.dataset.train={train}",
        f"--config.dataset.validation={validation}",
        f"--config.dataset.test={test}",
        *overrides,
    ]


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
