"""End to end: a `train` run killed twice (SIGKILL) and rerun on the same work directory finishes
exactly as an uninterrupted run of the same command.

The tiny config (shipped schedule, callbacks and early stopping; see `configs/tiny_classifier.py`)
checkpoints every 2 steps and at every epoch end; here it runs 4 epochs of 8 steps. Run B is
killed as soon as its first checkpoint exists (in epoch 1), then, after a rerun, as soon as a
checkpoint at or past the end of epoch 2 exists: by then two evaluations have happened, which the
best checkpoint and early stopping (its best state, its patience count) depend on. Wherever the
kills land, the final rerun must end where run A ended. Compared with run A: every kept checkpoint
(all arrays: parameters, optimizer state, RNG state, step, callback states), the steps' metadata
(kept steps, best step and its metric, callback states), `metrics.json` (final validation and test metrics of the
state early stopping restores) and the validation curves TensorBoard reads.
"""

from __future__ import annotations

import json
import os
import re
import signal
from typing import Callable

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator

import saved_checkpoints
import train_binary

STEPS_PER_EPOCH = 8
EPOCHS = 4
FLAGS = (f"--config.trainer.max_epochs={EPOCHS}",)
_STEP_DIR = re.compile(r"step_(\d+)")


def checkpoint_steps(workdir: str) -> list[int]:
    """Steps with a complete checkpoint (orbax renames it to step_N when done) on disk."""
    directory = os.path.join(workdir, "checkpoints")
    if not os.path.isdir(directory):
        return []
    return sorted(int(m.group(1)) for name in os.listdir(directory) if (m := _STEP_DIR.fullmatch(name)))


def resumable_steps(workdir: str) -> list[int]:
    """Complete checkpoints: those a rerun may resume from (orbax renames a step directory into
    place once it is whole, its checksums included)."""
    return saved_checkpoints.committed_steps(os.path.join(workdir, "checkpoints"))


def read_json(path: str) -> object:
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def flatten(tree: object, prefix: str = "") -> dict[str, object]:
    """``{"a/b/c": leaf}`` of nested dicts and lists (orbax trees, JSON)."""
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, list):
        items = enumerate(tree)
    else:
        return {prefix: tree}
    flat: dict[str, object] = {}
    for key, value in items:
        flat.update(flatten(value, f"{prefix}/{key}"))
    return flat


def assert_trees_close(actual: object, expected: object, what: str) -> None:
    """Same keys; numbers and arrays equal within float tolerance, anything else equal."""
    actual, expected = flatten(actual), flatten(expected)
    assert actual.keys() == expected.keys(), what
    for key, value in expected.items():
        if isinstance(value, (str, bool, type(None))):
            assert actual[key] == value, f"{what}: {key}"
        else:
            np.testing.assert_allclose(
                np.asarray(actual[key]), np.asarray(value), rtol=1e-5, atol=1e-6, err_msg=f"{what}: {key}"
            )


def restore_checkpoint(workdir: str, step: int) -> object:
    """Everything orbax saved for `step`: the train state's arrays and the callbacks' states."""
    return saved_checkpoints.read_arrays(os.path.join(workdir, "checkpoints"), step)


def validation_curves(workdir: str) -> dict[str, dict[int, float]]:
    """``{tag: {step: value}}`` of the val/ scalars, as TensorBoard shows them (a resumed run's
    restart marker discards the points the killed run wrote after its checkpoint)."""
    events = event_accumulator.EventAccumulator(workdir, size_guidance={event_accumulator.SCALARS: 0})
    events.Reload()
    return {
        tag: {event.step: event.value for event in events.Scalars(tag)}
        for tag in events.Tags()[event_accumulator.SCALARS]
        if tag.startswith("val/")
    }


def kill_when(workdir: str, log_path: str, condition_what: str, condition: Callable[[], object]) -> None:
    """Starts run B on `workdir` and SIGKILLs it as soon as `condition()` holds; fails if the run
    ends by itself first (it would not have been interrupted)."""
    process = train_binary.start_train(*train_binary.tiny_flags(workdir, *FLAGS), log_path=log_path)
    train_binary.kill_when(process, log_path, condition, condition_what)
    assert process.returncode == -signal.SIGKILL


def test_killed_twice_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path) -> None:
    workdir_a = str(tmp_path / "a")
    workdir_b = str(tmp_path / "b")
    run_a = train_binary.run_train(*train_binary.tiny_flags(workdir_a, *FLAGS))
    assert "resuming" not in run_a.stdout

    # First interruption: at the first checkpoint, somewhere in epoch 1.
    kill_when(workdir_b, str(tmp_path / "b1.log"), "run B's first checkpoint", lambda: resumable_steps(workdir_b))
    first = resumable_steps(workdir_b)
    assert first and max(first) < EPOCHS * STEPS_PER_EPOCH
    assert not os.path.exists(os.path.join(workdir_b, "metrics.json"))

    # Second interruption: the rerun resumes, and dies once the end of epoch 2 is saved.
    epoch2_end = 2 * STEPS_PER_EPOCH
    kill_when(
        workdir_b,
        str(tmp_path / "b2.log"),
        f"a checkpoint at step {epoch2_end} or later",
        lambda: max(resumable_steps(workdir_b), default=0) >= epoch2_end,
    )
    with open(tmp_path / "b2.log", encoding="utf-8", errors="replace") as log:
        assert f"resuming from {os.path.join(workdir_b, 'checkpoints')}/step_" in log.read()
    assert not os.path.exists(os.path.join(workdir_b, "metrics.json"))

    run_b = train_binary.run_train(*train_binary.tiny_flags(workdir_b, *FLAGS))
    resumed = re.search(r"resuming from \S+/step_(\d+)", run_b.stdout)
    assert resumed, run_b.stdout
    assert int(resumed.group(1)) >= epoch2_end
    # What this test is about: run A's best state came before the last interruption, so only the
    # early stopping state saved in the checkpoint can bring it back at the end.
    best_a = saved_checkpoints.read_index(os.path.join(workdir_a, "checkpoints"))["best"]
    assert best_a <= int(resumed.group(1)), f"run A's best step {best_a} is after the resumed step"

    # The work directory is whole: valid JSON, every step_N a complete checkpoint with its metadata.
    metrics_a = read_json(os.path.join(workdir_a, "metrics.json"))
    metrics_b = read_json(os.path.join(workdir_b, "metrics.json"))
    index_a = saved_checkpoints.read_index(os.path.join(workdir_a, "checkpoints"))
    index_b = saved_checkpoints.read_index(os.path.join(workdir_b, "checkpoints"))
    steps = checkpoint_steps(workdir_b)
    assert steps == [entry["step"] for entry in index_b["checkpoints"]]
    for step in steps:
        assert os.path.isfile(os.path.join(workdir_b, "checkpoints", f"step_{step:08d}", "_CHECKPOINT_METADATA"))

    # The same result as the uninterrupted run.
    assert steps == checkpoint_steps(workdir_a)
    # Steps, best step, its metric and what the callbacks remembered (early stopping's best score).
    assert_trees_close(index_b, index_a, "checkpoints/step_*/formed/metadata")
    for step in steps:
        checkpoint_a, checkpoint_b = restore_checkpoint(workdir_a, step), restore_checkpoint(workdir_b, step)
        assert_trees_close(checkpoint_b, checkpoint_a, f"checkpoint {step}")
    assert metrics_b["step"] == metrics_a["step"]
    for split in ("validation", "test"):
        assert metrics_b[split] == pytest.approx(metrics_a[split], rel=1e-5), split

    curves_a, curves_b = validation_curves(workdir_a), validation_curves(workdir_b)
    assert set(curves_a) == {"val/loss", "val/accuracy", "val/macro_f1"}
    assert curves_b.keys() == curves_a.keys()
    for tag in curves_a:
        assert sorted(curves_b[tag]) == sorted(curves_a[tag]), tag
        assert curves_b[tag] == pytest.approx(curves_a[tag], rel=1e-5), tag
