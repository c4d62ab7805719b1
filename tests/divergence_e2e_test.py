"""End to end (issue 12, item 1): a diverging run (learning rate 1e6) stops at the first non-finite
loss with the step, the epoch and a hint, exits non-zero, keeps its last finite checkpoint as the
latest, and writes no NaN or Infinity into any JSON file."""

from __future__ import annotations

import json
import os
import re

import numpy as np

import saved_checkpoints
import train_binary


def _strict_json(path: str) -> object:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{path} holds {constant}")

    with open(path, encoding="utf-8") as file:
        return json.load(file, parse_constant=refuse)


def test_a_diverging_run_stops_loudly_and_keeps_its_last_finite_checkpoint(tmp_path) -> None:
    workdir = str(tmp_path / "run")
    flags = train_binary.tiny_flags(
        workdir,
        "--config.trainer.engine.optimizer.learning_rate.peak_value=1e6",
        "--config.trainer.engine.optimizer.learning_rate.end_value=1e6",
    )
    result = train_binary.run_train(*flags, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    last = train_binary.last_line(result.stderr)
    match = re.fullmatch(
        r"error: the training loss is not finite \(NaN or infinite\) at step (\d+) \(epoch (\d+)\); "
        r"lower trainer\.engine\.optimizer\.learning_rate \(or clip the gradients\) and train again",
        last,
    )
    assert match, result.stderr
    step, epoch = int(match.group(1)), int(match.group(2))
    assert epoch == (step - 1) // 8 + 1  # 8 steps per epoch
    assert "Traceback" not in result.stderr and "final metrics" not in result.stdout
    assert not os.path.exists(os.path.join(workdir, "metrics.json"))

    json_files = [os.path.join(root, name) for root, _, names in os.walk(workdir) for name in names if name.endswith(".json")]
    assert any(path.endswith("checksums.json") for path in json_files)
    for path in json_files:
        _strict_json(path)
    latest = max(saved_checkpoints.committed_steps(os.path.join(workdir, "checkpoints")))
    assert latest < step
    for value in saved_checkpoints.state_arrays(os.path.join(workdir, "checkpoints"), latest).values():
        value = np.asarray(value)
        if np.issubdtype(value.dtype, np.floating):
            assert np.all(np.isfinite(value))
