"""Runs any of formed's binaries (`train`, `evaluate`, `predict`, `export`) in a subprocess, as a
user does, for the end-to-end tests: under `bazel test` the binary target from the test's
runfiles (a `data` dependency of the test), otherwise ``python -m formed.training.<name>`` with
the repository root on ``PYTHONPATH`` (see `train_binary` for the same for `train`)."""

from __future__ import annotations

import os
import subprocess
import sys

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
USER_CODE = os.path.join(TESTS_DIR, "user_code")
TIMEOUT_S = 240


def _runfiles_binary(name: str) -> str | None:
    srcdir, workspace = os.environ.get("TEST_SRCDIR"), os.environ.get("TEST_WORKSPACE")
    if not srcdir or not workspace:
        return None
    path = os.path.join(srcdir, workspace, "formed", "training", name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing: add //formed/training:{name} to the test's data")
    return path


def command(name: str, *flags: str) -> list[str]:
    binary = _runfiles_binary(name)
    if binary is not None:
        return [sys.executable, binary, *flags]
    return [sys.executable, "-m", f"formed.training.{name}", *flags]


def env() -> dict[str, str]:
    result = dict(os.environ)
    result.setdefault("JAX_PLATFORMS", "cpu")
    result["PYTHONUNBUFFERED"] = "1"
    if _runfiles_binary("train") is None:
        result["PYTHONPATH"] = os.pathsep.join(p for p in (REPO_ROOT, result.get("PYTHONPATH")) if p)
    return result


def run(name: str, *flags: str, stdin: str | None = None, check: bool = True, cwd: str = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    """Runs binary `name` to completion; with `check`, fails the test (showing its output) on error."""
    result = subprocess.run(
        command(name, *flags), env=env(), input=stdin, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=cwd
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{name} exited with {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}")
    return result
