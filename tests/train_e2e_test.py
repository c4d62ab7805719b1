"""End to end: the `train` binary trains the tiny config into a work directory, and TensorBoard (its
event reader, then a real server over HTTP) shows the run's curves.

One training run (a module fixture) is shared by the tests below. The tiny config has 8 steps per
epoch, 3 epochs, training logs every 4 steps and after the first, and evaluation after every epoch.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
import urllib.error

import numpy as np
import optax
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

import saved_checkpoints
import train_binary
from formed.training.testing import TensorBoardServer

STEPS_PER_EPOCH = 8
EPOCHS = 3
LAST_STEP = STEPS_PER_EPOCH * EPOCHS
TRAIN_LOG_STEPS = [1, *range(4, LAST_STEP + 1, 4)]
EVAL_STEPS = [STEPS_PER_EPOCH * epoch for epoch in range(1, EPOCHS + 1)]
NUM_CLASSES = 8  # colours of the spatial_relations dataset


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    workdir = str(tmp_path_factory.mktemp("run") / "workdir")
    result = train_binary.run_train(*train_binary.tiny_flags(workdir))
    return {"workdir": workdir, "stdout": result.stdout, "stderr": result.stderr}


def _read_json(path: str) -> object:
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def scalar_series(accumulator: event_accumulator.EventAccumulator, tag: str) -> dict[int, float]:
    """``{step: value}`` of a scalar tag, whether it was written as a simple value or a tensor."""
    tags = accumulator.Tags()
    if tag in tags[event_accumulator.SCALARS]:
        return {event.step: event.value for event in accumulator.Scalars(tag)}
    if tag in tags[event_accumulator.TENSORS]:
        return {event.step: float(tensor_util.make_ndarray(event.tensor_proto)) for event in accumulator.Tensors(tag)}
    raise AssertionError(f"no scalar {tag!r} in the event files; tags: {tags}")


def load_events(workdir: str) -> event_accumulator.EventAccumulator:
    # Size guidance 0 keeps every point (the defaults sample scalars down to 10 000 and tensors to 10).
    accumulator = event_accumulator.EventAccumulator(
        workdir, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    return accumulator


def test_progress_off_a_terminal_is_logged_through_absl(run: dict[str, object]) -> None:
    # stderr is a pipe here: timestamped absl lines, one per evaluation and periodic ones,
    # and none of orbax's INFO lines about the files it writes.
    lines = str(run["stderr"]).splitlines()
    absl_line = re.compile(r"^I\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ _progress\.py:\d+\] (.*)$")
    messages = [m.group(1) for m in map(absl_line.match, lines) if m]
    evaluations = [m for m in messages if m.startswith("evaluation at step")]
    assert [int(m.split()[3]) for m in evaluations] == EVAL_STEPS, messages
    assert all("val/accuracy=" in m for m in evaluations)
    assert any(m.startswith(f"step {LAST_STEP}/{LAST_STEP} (100%)") for m in messages), messages
    assert not any("orbax" in line and line.startswith("I") for line in lines)


def test_workdir_has_config_data_checkpoints_and_metrics(run: dict[str, object]) -> None:
    workdir = str(run["workdir"])
    assert "final metrics:" in str(run["stdout"])

    config = _read_json(os.path.join(workdir, "config.json"))
    assert config["model"]["encoder"] == {"type": "lstm", "features": 16, "bidirectional": True}
    # Filled in from the data module by the binary.
    assert config["model"]["num_classes"] == NUM_CLASSES
    assert config["model"]["embedder"]["surface"]["vocab_size"] > 10
    assert config["trainer"]["max_epochs"] == EPOCHS
    batch_size = config["trainer"]["train_dataloader"]["sampler"]["batch_size"]
    assert config["dataset"]["train_size"] // batch_size == STEPS_PER_EPOCH

    assert os.path.isfile(os.path.join(workdir, "data", "datamodule.json"))

    checkpoints = os.path.join(workdir, "checkpoints")
    index = saved_checkpoints.read_index(checkpoints)  # the steps' formed/metadata
    steps = sorted(int(name[len("step_") :]) for name in os.listdir(checkpoints) if re.fullmatch(r"step_\d+", name))
    assert steps == sorted(entry["step"] for entry in index["checkpoints"])
    assert LAST_STEP in steps
    assert index["best"] in steps and index["best"] in EVAL_STEPS
    # keep_last=2 plus the best.
    assert 2 <= len(steps) <= 3, steps
    expected_names = {f"step_{step:08d}" for step in steps}
    assert set(os.listdir(checkpoints)) == expected_names

    metrics = _read_json(os.path.join(workdir, "metrics.json"))
    assert set(metrics) == {"validation", "test", "step"}
    for split in ("validation", "test"):
        assert {"loss", "accuracy", "macro_f1"} <= set(metrics[split]), metrics[split]
        assert 0.0 <= metrics[split]["accuracy"] <= 1.0
        assert math.isfinite(metrics[split]["loss"]) and metrics[split]["loss"] > 0
    # Early stopping restores the best state: the metrics are those of the best evaluation.
    assert metrics["step"] == index["best"]

    assert glob.glob(os.path.join(workdir, "events.out.tfevents.*"))


def test_event_files_read_by_tensorboard(run: dict[str, object]) -> None:
    workdir = str(run["workdir"])
    events = load_events(workdir)

    loss = scalar_series(events, "train/loss")
    assert sorted(loss) == TRAIN_LOG_STEPS
    assert all(math.isfinite(v) and v > 0 for v in loss.values()), loss
    # Near ln(8) for an untrained classifier over 8 classes.
    assert abs(loss[1] - math.log(NUM_CLASSES)) < 0.5, loss

    learning_rate = scalar_series(events, "train/learning_rate")
    assert sorted(learning_rate) == TRAIN_LOG_STEPS
    # The rate logged at step s is the one step s used: the configured schedule at count s - 1.
    optimizer_config = _read_json(os.path.join(workdir, "config.json"))["trainer"]["engine"]["optimizer"]
    schedule_config = dict(optimizer_config["learning_rate"])
    assert schedule_config.pop("type") == "warmup_cosine_decay_schedule"
    schedule = optax.warmup_cosine_decay_schedule(**schedule_config)
    np.testing.assert_allclose(
        [learning_rate[step] for step in TRAIN_LOG_STEPS],
        [float(schedule(step - 1)) for step in TRAIN_LOG_STEPS],
        rtol=1e-5,
        atol=1e-9,
    )
    assert len(set(learning_rate.values())) > 3  # the schedule moves: warmup, then decay

    speed = scalar_series(events, "train/steps_per_sec")
    assert speed and all(math.isfinite(v) and v > 0 for v in speed.values()), speed

    for name in ("val/accuracy", "val/loss", "val/macro_f1"):
        series = scalar_series(events, name)
        assert sorted(series) == EVAL_STEPS, (name, series)
        assert all(math.isfinite(v) for v in series.values()), (name, series)
    accuracy = scalar_series(events, "val/accuracy")
    assert all(0.0 <= v <= 1.0 for v in accuracy.values()), accuracy

    # metrics.json evaluates the best state again on the same validation split.
    metrics = _read_json(os.path.join(workdir, "metrics.json"))
    assert metrics["validation"]["accuracy"] == pytest.approx(accuracy[metrics["step"]], abs=1e-6)

    # The resolved config, as text.
    assert "config" in events.Tags()[event_accumulator.TENSORS]
    text = tensor_util.make_ndarray(events.Tensors("config")[0].tensor_proto).item().decode("utf-8")
    assert '"num_classes": 8' in text


def test_tensorboard_server_serves_the_scalars(run: dict[str, object], tmp_path: object) -> None:
    workdir = str(run["workdir"])
    expected_tags = {
        "train/loss",
        "train/learning_rate",
        "train/steps_per_sec",
        "val/loss",
        "val/accuracy",
        "val/macro_f1",
        # The final metrics of the kept model, at the last step.
        "test/loss",
        "test/accuracy",
        "test/macro_f1",
        "final_val/loss",
        "final_val/accuracy",
        "final_val/macro_f1",
    }
    server = TensorBoardServer(workdir, os.path.join(str(tmp_path), "tensorboard.log"))
    try:

        def scalar_tags() -> dict[str, object] | None:
            try:
                if "." not in server.get_json("/data/runs"):
                    return None
                tags = server.get_json("/data/plugin/scalars/tags")
            except (urllib.error.URLError, ConnectionError):
                return None
            return tags if expected_tags <= set(tags.get(".", {})) else None

        tags = train_binary.poll(
            scalar_tags, 60, interval_s=0.2, what=f"TensorBoard to list the tags {sorted(expected_tags)}"
        )
        assert server.get_json("/data/runs") == ["."]
        assert set(tags) == {"."}
        assert set(tags["."]) == expected_tags

        events = load_events(workdir)
        # The run's flattened config, for TensorBoard's HParams tab, beside its final metrics.
        hparams = events.PluginTagToContent("hparams")
        assert "_hparams_/session_start_info" in hparams
        metrics = _read_json(os.path.join(workdir, "metrics.json"))
        assert scalar_series(events, "test/accuracy") == pytest.approx({LAST_STEP: metrics["test"]["accuracy"]})
        for tag in ("train/loss", "train/learning_rate", "val/accuracy"):
            # [[wall_time, step, value], ...]
            points = server.get_json("/data/plugin/scalars/scalars", run=".", tag=tag)
            served = {int(step): value for _, step, value in points}
            written = scalar_series(events, tag)
            assert sorted(served) == sorted(written), tag
            steps = sorted(served)
            np.testing.assert_allclose([served[s] for s in steps], [written[s] for s in steps], rtol=1e-6, err_msg=tag)
        accuracy = server.get_json("/data/plugin/scalars/scalars", run=".", tag="val/accuracy")
        assert [int(step) for _, step, _ in accuracy] == EVAL_STEPS
    finally:
        server.close()
    assert server.process.returncode is not None
