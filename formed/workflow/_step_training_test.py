"""Tests of `flax::train` inside a workflow: resuming from the step's checkpoints, TensorBoard
curves and hyperparameters under ``<cache_dir>/tensorboard/<run>/<step>``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from formed.core import resolve_rngs
from formed.modules import BaseFlaxModel
from formed.training import CheckpointCallback, CheckpointDirectory, DefaultFlaxTrainingEngine, FlaxTrainer, FlaxTrainingCallback
from formed.workflow import Workflow, ref, step


class Output(NamedTuple):
    loss: jax.Array


@BaseFlaxModel.register("step_training_test::regressor")
class Regressor(BaseFlaxModel[dict, Output, None]):
    def __init__(self, rngs: nnx.Rngs | None = None) -> None:
        self.linear = nnx.Linear(3, 1, rngs=resolve_rngs(rngs))

    def __call__(self, inputs: dict, params: Any = None) -> Output:
        return Output(loss=jnp.mean((self.linear(jnp.asarray(inputs["x"]))[:, 0] - inputs["y"]) ** 2))


def loader(dataset: Sequence[dict[str, Any]]) -> list[dict[str, np.ndarray]]:
    return [
        {"x": np.stack([r["x"] for r in dataset[i : i + 8]]), "y": np.asarray([r["y"] for r in dataset[i : i + 8]])}
        for i in range(0, len(dataset), 8)
    ]


class Crash(FlaxTrainingCallback):
    """Raises once, when training reaches `at` (as a kill would interrupt it)."""

    armed = False

    def __init__(self, at: int) -> None:
        self.at = at

    def on_batch_end(self, trainer: FlaxTrainer, model: nnx.Module, state: Any, epoch: int, output: Any) -> None:
        if Crash.armed and trainer.global_step == self.at:
            Crash.armed = False
            raise RuntimeError(f"crashed at step {self.at}")


@step("step_training_test::records", cacheable=False)
def records(n: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return [{"x": x[i], "y": np.float32(x[i] @ np.array([1.0, -2.0, 0.5]))} for i in range(n)]


@step("step_training_test::trainer", cacheable=False)
def trainer(learning_rate: float, crash_at: int = 0) -> FlaxTrainer:
    return FlaxTrainer(
        train_dataloader=loader,
        engine=DefaultFlaxTrainingEngine(optimizer=optax.adam(learning_rate)),
        callbacks=[Crash(crash_at), CheckpointCallback(interval=2)],
        max_epochs=3,
        logging_strategy="step",
        progress=False,
    )


def steps(learning_rate: float = 0.05) -> dict[str, Any]:
    return {
        "data": {"type": "step_training_test::records", "n": 32},
        "trainer": {"type": "step_training_test::trainer", "learning_rate": learning_rate, "crash_at": 7},
        "train": {
            "type": "flax::train",
            "model": {"type": "step_training_test::regressor"},
            "trainer": ref("trainer"),
            "train_dataset": ref("data"),
            "random_seed": 3,
        },
    }


def parameters(model: nnx.Module) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(model, nnx.Param))]


def test_a_crashed_training_step_resumes_from_its_checkpoints_to_the_uninterrupted_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uninterrupted = Workflow(steps(), cache_dir=tmp_path / "a").run(["train"])["train"]

    Crash.armed = True
    with pytest.raises(RuntimeError, match="crashed at step 7"):
        Workflow(steps(), cache_dir=tmp_path / "b").run(["train"])
    workflow = Workflow(steps(), cache_dir=tmp_path / "b")
    assert workflow.cache is not None
    work_dir = workflow.cache.work_dir(workflow.fingerprints["train"])
    # Saving is asynchronous: latest_step waits for the save the crashed run left in progress.
    assert CheckpointDirectory(str(work_dir / "checkpoints")).latest_step() == 6
    capsys.readouterr()
    resumed = workflow.run(["train"])["train"]
    assert f"train: resuming from {work_dir}/checkpoints/step_00000006" in capsys.readouterr().out
    for a, b in zip(parameters(resumed), parameters(uninterrupted)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not work_dir.exists()  # the result is cached: the checkpoints are no longer needed

    # The curves continue in the same TensorBoard directory; TensorBoard drops the crashed run's
    # points after its checkpoint (the restart marker), so the curve has each step once.
    directory = tmp_path / "b" / "tensorboard" / workflow.tensorboard_run / "train"
    events = event_accumulator.EventAccumulator(str(directory), size_guidance={event_accumulator.SCALARS: 0})
    events.Reload()
    assert [event.step for event in events.Scalars("train/loss")] == list(range(1, 13))


def test_each_training_writes_curves_and_hyperparameters_under_the_cache(tmp_path: Path) -> None:
    first = Workflow(steps(0.05), cache_dir=tmp_path, name="regression")
    first.run(["train"])
    second = Workflow(steps(0.01), cache_dir=tmp_path, name="regression")
    second.run(["train"])
    runs = sorted(p.name for p in (tmp_path / "tensorboard").iterdir())
    assert runs == sorted([first.tensorboard_run, second.tensorboard_run]) and len(set(runs)) == 2
    assert all(run.startswith("regression-") for run in runs)

    events = event_accumulator.EventAccumulator(str(tmp_path / "tensorboard" / first.tensorboard_run / "train"))
    events.Reload()
    assert "train/loss" in events.Tags()[event_accumulator.SCALARS]
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert start.group_name == "train"
    assert start.hparams["random_seed"].number_value == 3
    assert start.hparams["model.type"].string_value == "step_training_test::regressor"
    assert start.hparams["trainer"].string_value == "ref:trainer"
