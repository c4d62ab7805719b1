"""End to end: the ready Equinox config, run by the `train` binary as the README shows, learns
the built-in dataset, and a run killed (SIGKILL) after its first checkpoint and rerun ends with
the uninterrupted run's checkpoints and metrics.

Both runs are 2 epochs of `formed/training/configs/equinox_text_classifier.py` (250 steps;
checkpoints at each epoch end): the config reaches 1.0 validation accuracy in its first epoch,
so the accuracy asserted here is the config's, cut short only to keep the suite fast.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

import saved_checkpoints
import train_binary

CONFIG = os.path.join(train_binary.REPO_ROOT, "formed", "training", "configs", "equinox_text_classifier.py")
FLAGS = ("--config.trainer.max_epochs=2",)


def _flags(workdir: str) -> list[str]:
    return train_binary.tiny_flags(workdir, *FLAGS, config=CONFIG)


def _read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def _resumable_steps(workdir: str) -> list[int]:
    """Complete checkpoints: those a rerun may resume from."""
    return saved_checkpoints.committed_steps(os.path.join(workdir, "checkpoints"))


def _leaves(tree: object, prefix: str = "") -> dict[str, object]:
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() for k, v in _leaves(value, f"{prefix}/{key}").items()}
    return {prefix: tree}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> str:
    workdir = str(tmp_path_factory.mktemp("equinox") / "a")
    result = train_binary.run_train(*_flags(workdir))
    assert "resuming" not in result.stdout
    return workdir


def test_the_ready_config_reaches_0_9_validation_accuracy(uninterrupted: str) -> None:
    workdir = uninterrupted
    metrics = _read_json(os.path.join(workdir, "metrics.json"))
    assert metrics["validation"]["accuracy"] >= 0.9
    assert metrics["test"]["accuracy"] >= 0.9
    assert metrics["step"] >= 125
    config = _read_json(os.path.join(workdir, "config.json"))
    assert config["trainer"]["engine"]["type"] == "equinox" and config["model"]["num_classes"] >= 2
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(workdir))
    assert _resumable_steps(workdir)


def test_a_killed_equinox_run_resumes_to_the_uninterrupted_result(uninterrupted: str, tmp_path) -> None:
    workdir_a = uninterrupted
    workdir_b = str(tmp_path / "b")
    log_path = str(tmp_path / "b1.log")
    process = train_binary.start_train(*_flags(workdir_b), log_path=log_path)
    train_binary.kill_when(process, log_path, lambda: _resumable_steps(workdir_b), "run B's first checkpoint")
    assert not os.path.exists(os.path.join(workdir_b, "metrics.json"))

    rerun = train_binary.run_train(*_flags(workdir_b))
    assert re.search(r"resuming from \S+/step_\d+", rerun.stdout), rerun.stdout

    metrics_a = _read_json(os.path.join(workdir_a, "metrics.json"))
    metrics_b = _read_json(os.path.join(workdir_b, "metrics.json"))
    assert metrics_b["step"] == metrics_a["step"]
    for split in ("validation", "test"):
        assert metrics_b[split] == pytest.approx(metrics_a[split], rel=1e-5), split
    steps = _resumable_steps(workdir_b)
    assert steps == _resumable_steps(workdir_a)
    for step in steps:
        a, b = (
            _leaves(saved_checkpoints.read_arrays(os.path.join(w, "checkpoints"), step))
            for w in (workdir_a, workdir_b)
        )
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_allclose(np.asarray(b[key]), np.asarray(a[key]), rtol=1e-5, atol=1e-6, err_msg=f"step {step}: {key}")
