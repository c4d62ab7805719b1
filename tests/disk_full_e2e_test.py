"""End to end: the disk fills up while the `train` binary writes a checkpoint (issue 12, item 9).

A real write failure, not a simulated one: the run (`configs/tiny_disk_full.py`, a checkpoint
every 2 steps) lowers its own file size limit (``RLIMIT_FSIZE``) at the end of step
`FULL_AFTER_STEP`, after the checkpoints before it were written, so the kernel refuses the
next checkpoint's writes (``EFBIG``, "File too large") as it would refuse them on a full disk.
The binary must stop with one ``error:`` line naming the checkpoint and the cause, without a
traceback, and the same command without the limit must resume from a checkpoint written
before the failure and finish the run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import train_binary

CONFIG = os.path.join(train_binary.TESTS_DIR, "configs", "tiny_disk_full.py")
FULL_AFTER_STEP = 5  # checkpoints of steps 2 and 4 are written (or being written); 6 is not
LIMIT_BYTES = 8192  # above the run's small files (logs, events, index), below a checkpoint's arrays
TOTAL_STEPS = 8  # one epoch of 8 steps


def _train(workdir: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs the binary on `workdir` (its output in pipes: the file size limit is the run's own)."""
    command = train_binary.train_command(*train_binary.tiny_flags(workdir, config=CONFIG))
    return subprocess.run(
        command, env={**train_binary.train_env(), **(env or {})}, capture_output=True, text=True,
        timeout=train_binary.RUN_TIMEOUT_S, cwd=train_binary.REPO_ROOT,
    )


def test_a_full_disk_during_a_checkpoint_is_one_line_and_the_run_resumes(tmp_path) -> None:
    workdir = str(tmp_path / "run")
    full = _train(workdir, {
        "FORMED_TEST_FILE_SIZE_LIMIT": str(LIMIT_BYTES),
        "FORMED_TEST_FILE_SIZE_LIMIT_AFTER_STEP": str(FULL_AFTER_STEP),
    })
    output = full.stdout + full.stderr
    assert full.returncode == 1, output
    last = train_binary.last_line(full.stderr)
    failed = re.fullmatch(r"error: cannot write checkpoint step_0*(\d+) in \S+: File too large", last)
    assert failed, output
    assert "Traceback" not in output and "Event loop is closed" not in output, output
    assert not os.path.exists(os.path.join(workdir, "metrics.json"))

    resumed = _train(workdir)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    match = re.search(r"resuming from \S+/step_0*(\d+)", resumed.stdout)
    assert match, resumed.stdout
    assert 0 < int(match.group(1)) <= FULL_AFTER_STEP and int(match.group(1)) < int(failed.group(1))
    with open(os.path.join(workdir, "metrics.json"), encoding="utf-8") as file:
        metrics = json.load(file)
    assert 0 < metrics["step"] <= TOTAL_STEPS and set(metrics) >= {"validation", "test"}
