"""End to end (issue 12, items 2 and 9): one process per work directory, and Ctrl-C.

A run A trains in the background; a second run B on the same --workdir exits at once naming A's
pid and host. A is then killed (SIGKILL: its lock file stays behind); a rerun C is not blocked by
it, resumes, and a Ctrl-C (SIGINT) stops it with "interrupted at step N; rerun the same command
to resume" and exit status 130.
"""

from __future__ import annotations

import os
import signal
import socket

import pytest

import saved_checkpoints
import train_binary

# Runs A and C are stopped from outside (A killed, C interrupted): they must not finish first.
FLAGS = ("--config.trainer.max_epochs=100000",)


def _recorded_steps(workdir: str) -> list[int]:
    return saved_checkpoints.committed_steps(os.path.join(workdir, "checkpoints"))


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as file:
        return file.read()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("workdir")
    workdir = str(tmp / "run")
    flags = train_binary.tiny_flags(workdir, *FLAGS)
    a = train_binary.start_train(*flags, log_path=str(tmp / "a.log"))
    try:
        train_binary.wait_while_running(a, str(tmp / "a.log"), lambda: _recorded_steps(workdir), what="A's first checkpoint")
        b = train_binary.run_train(*flags, check=False)
    finally:
        a.kill()
        a.wait(timeout=60)
    lock_left = os.path.exists(os.path.join(workdir, ".lock"))
    killed_at = max(_recorded_steps(workdir))
    c = train_binary.start_train(*flags, log_path=str(tmp / "c.log"))
    try:
        train_binary.wait_while_running(
            c, str(tmp / "c.log"), lambda: max(_recorded_steps(workdir)) > killed_at, what="C's first checkpoint"
        )
        c.send_signal(signal.SIGINT)
        c_status = c.wait(timeout=120)
    except BaseException:
        c.kill()
        raise
    return {
        "workdir": workdir, "a": a, "b": b, "lock_left": lock_left, "c_status": c_status,
        "c_log": _read(str(tmp / "c.log")), "killed_at": killed_at,
    }


def test_a_second_process_on_a_work_directory_exits_at_once_naming_the_first(runs) -> None:
    b = runs["b"]
    assert b.returncode == 1, b.stdout + b.stderr
    assert train_binary.last_line(b.stderr) == (
        f"error: {runs['workdir']} is in use by pid {runs['a'].pid} (host {socket.gethostname()}); "
        "wait for it or choose another --workdir"
    )
    assert "resuming" not in b.stdout and "Traceback" not in b.stderr
    # The lock of the killed run A stayed behind and did not block the rerun C.
    assert runs["lock_left"]
    assert f"resuming from {runs['workdir']}/checkpoints/step_{runs['killed_at']:08d}" in runs["c_log"]


def test_ctrl_c_says_where_it_stopped_and_how_to_resume(runs) -> None:
    assert runs["c_status"] == 130, runs["c_log"]
    last = train_binary.last_line(runs["c_log"])
    prefix, _, suffix = last.partition(" at step ")
    assert prefix == "interrupted" and suffix.endswith("; rerun the same command to resume"), runs["c_log"]
    assert int(suffix.split(";")[0]) > runs["killed_at"]
    assert "Traceback" not in runs["c_log"]
    assert not os.path.exists(os.path.join(runs["workdir"], ".lock"))  # released on the way out
