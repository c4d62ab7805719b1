"""End to end: the `train` binary over 2 processes x 2 CPU devices (jax.distributed on loopback).

* It trains the tiny data-parallel recipe to the result of 1 process x 4 devices and of 1
  device, with one work directory written by process 0.
* Killing one process mid-training makes the other stop with JAX's error naming the dead task
  (within the heartbeat timeout, not a hang), and a rerun of both resumes to the uninterrupted
  result.
* A process that cannot reach its coordinator stops with a message saying so, within the
  timeout it was given.

Every process has a timeout (`process_group`). One uninterrupted 2-process run, shared by the
tests, is the reference.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess

import numpy as np
import pytest

import saved_checkpoints
import train_binary
from process_group import HEARTBEAT_TIMEOUT_S, ProcessGroup, device_env, free_port

STEPS = 8  # 1 epoch; checkpoints every 2 steps
KILL_AT_STEP = 3  # after the checkpoint of step 2


def read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def resumable_steps(workdir: str) -> list[int]:
    """Complete checkpoints (step_N directories: orbax renames one into place once every process
    has written its part)."""
    return saved_checkpoints.committed_steps(os.path.join(workdir, "checkpoints"))


def saved_state(workdir: str, step: int | None = None) -> dict[str, np.ndarray]:
    """The train state's arrays saved at `step` (the latest by default), by path."""
    step = max(resumable_steps(workdir)) if step is None else step
    return saved_checkpoints.state_arrays(os.path.join(workdir, "checkpoints"), step)


def assert_states_close(actual: dict, expected: dict, what: str, rtol: float, atol: float) -> None:
    assert actual.keys() == expected.keys(), what
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], rtol=rtol, atol=atol, err_msg=f"{what}: array {key}")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[str, ProcessGroup]:
    """The uninterrupted 2 processes x 2 devices run: its work directory and its processes."""
    root = tmp_path_factory.mktemp("reference")
    workdir = str(root / "work")
    with ProcessGroup(workdir, str(root), processes=2, devices=2) as group:
        group.wait()
    return workdir, group


def test_two_processes_write_one_work_directory_from_process_zero(reference):
    workdir, group = reference
    assert read_json(os.path.join(workdir, "metrics.json"))["step"] <= STEPS
    assert max(resumable_steps(workdir)) == STEPS
    # Process 0's curves only (the final metrics are a file of their own, *.final).
    curves = [path for path in glob.glob(os.path.join(workdir, "events.out.tfevents.*")) if not path.endswith(".final")]
    assert len(curves) == 1
    assert {"checkpoints", "config.json", "data", "metrics.json"} <= set(os.listdir(workdir))
    assert "steps/s" in group.log(0) and "steps/s" not in group.log(1)  # the progress bar
    assert "final metrics" in group.log(1)


def test_two_processes_of_two_devices_train_like_four_devices_and_like_one(reference, tmp_path):
    workdir, _ = reference
    four, one = str(tmp_path / "four"), str(tmp_path / "one")
    single = ("--config.trainer.distributor.type=single",)
    # Side by side: each is one process, and the machine may have a core for each.
    with ProcessGroup(four, str(tmp_path), processes=1, devices=4, name="four") as four_group, ProcessGroup(
        one, str(tmp_path), processes=1, devices=1, flags=single, name="one"
    ) as one_group:
        four_group.wait()
        one_group.wait()
    expected = saved_state(workdir, STEPS)
    # The same 4 devices each on 8 rows: equal up to the order of float sums in the all-reduce.
    assert_states_close(saved_state(four, STEPS), expected, "1 process x 4 devices", rtol=1e-5, atol=1e-6)
    # One device takes the mean of 32 rows at once instead of the mean of 4 means of 8.
    assert_states_close(saved_state(one, STEPS), expected, "1 device", rtol=1e-4, atol=1e-5)
    metrics = read_json(os.path.join(workdir, "metrics.json"))
    for other in (four, one):
        got = read_json(os.path.join(other, "metrics.json"))
        for split in ("validation", "test"):
            assert got[split] == pytest.approx(metrics[split], rel=1e-4, abs=1e-5), (other, split)


def test_killing_one_process_stops_the_other_and_a_rerun_resumes_to_the_uninterrupted_result(reference, tmp_path):
    workdir = str(tmp_path / "work")
    crash = {1: {"FORMED_TEST_KILL_AT_STEP": str(KILL_AT_STEP)}}
    with ProcessGroup(workdir, str(tmp_path), extra_env=crash, name="killed") as group:
        group.processes[1].wait(timeout=train_binary.RUN_TIMEOUT_S)
        assert group.processes[1].returncode == -9, group.log(1)
        # Process 0 waits in its next collective until the dead process misses its heartbeats;
        # a generous margin over the heartbeat timeout, for a loaded machine.
        group.processes[0].wait(timeout=HEARTBEAT_TIMEOUT_S + 60)
        log = group.log(0)
    assert group.processes[0].returncode != 0, log
    assert re.search(r"another task died|stopped sending heartbeats", log), log
    assert "final metrics" not in log
    assert max(resumable_steps(workdir)) == KILL_AT_STEP - 1
    assert not os.path.exists(os.path.join(workdir, "metrics.json"))

    with ProcessGroup(workdir, str(tmp_path), name="resumed") as group:
        group.wait()
    assert f"step_{KILL_AT_STEP - 1:08d}" in group.log(0)  # "resuming from .../step_00000004"
    expected_dir, _ = reference
    assert resumable_steps(workdir) == resumable_steps(expected_dir)
    for step in resumable_steps(expected_dir):
        assert_states_close(saved_state(workdir, step), saved_state(expected_dir, step), f"step {step}", rtol=1e-5, atol=1e-6)
    index, expected_index = (saved_checkpoints.read_index(os.path.join(w, "checkpoints")) for w in (workdir, expected_dir))
    assert index["best"] == expected_index["best"]
    metrics, expected = (read_json(os.path.join(w, "metrics.json")) for w in (workdir, expected_dir))
    for split in ("validation", "test"):
        assert metrics[split] == pytest.approx(expected[split], rel=1e-5), split


def test_a_process_that_cannot_reach_its_coordinator_stops_with_a_clear_error(tmp_path):
    port = free_port()  # nothing listens there: process 0 was never started
    command = train_binary.train_command(
        *train_binary.tiny_flags(str(tmp_path / "work")),
        f"--coordinator_address=127.0.0.1:{port}",
        "--num_processes=2",
        "--process_id=1",
        "--initialization_timeout=2",
    )
    result = subprocess.run(
        command, env=device_env(1), capture_output=True, text=True, timeout=train_binary.RUN_TIMEOUT_S, cwd=train_binary.REPO_ROOT
    )
    assert result.returncode == 1, result.stderr
    assert f"process 1 of 2 could not join the run through the coordinator at 127.0.0.1:{port} within 2 s" in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "work")
