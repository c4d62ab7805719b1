"""Issue 11, items 6, 7 and 9-11: training behaves as the API reference and upstream formed's users
expect, exercised through the reference's module paths (``formed.integrations.flax...``). Item 8
(data parallelism on 8 devices) is in reference_data_parallel_test.py, a process of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from formed.core import from_config, resolve_rngs
from formed.integrations.flax import BaseFlaxModel
from formed.integrations.flax.distributors import DataParallelDistributor, SingleDeviceDistributor
from formed.integrations.flax.training import (
    DefaultFlaxTrainingEngine,
    EarlyStoppingCallback,
    EvaluationCallback,
    FlaxTrainer,
    FlaxTrainingCallback,
)
from formed.integrations.flax.workflow import evaluate_flax_model
from formed.integrations.ml import BasicBatchSampler, DataLoader
from formed.integrations.ml.metrics import MulticlassAccuracy
from formed.training import CheckpointDirectory
from formed.workflow import Workflow, step

COLLATOR = "formed.training.testing:collate"  # the same records as records() below


class Output(NamedTuple):
    loss: jax.Array
    label: jax.Array


@BaseFlaxModel.register("reference_training_test::linear")
class Linear(BaseFlaxModel[dict, Output, None]):
    """``x (B, 4) -> 3 classes``, with dropout so that RNG state is part of the training state."""

    def __init__(self, rngs: nnx.Rngs | int | None = None) -> None:
        rngs = resolve_rngs(rngs)
        self.hidden = nnx.Linear(4, 8, rngs=rngs)
        self.dropout = nnx.Dropout(0.1, rngs=rngs)
        self.out = nnx.Linear(8, 3, rngs=rngs)

    def __call__(self, inputs: dict, params: Any = None) -> Output:
        logits = self.out(self.dropout(jax.nn.relu(self.hidden(jnp.asarray(inputs["x"])))))
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, inputs["label"]).mean()
        return Output(loss=loss, label=logits.argmax(-1))


@step("reference_training_test::records", cacheable=False)
def records(n: int = 64, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.5).astype(np.int32)
    return [{"x": x[i], "label": int(labels[i])} for i in range(n)]


def collate(items: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {"x": np.stack([r["x"] for r in items]), "label": np.asarray([r["label"] for r in items], np.int32)}


def loader(batch_size: int = 16) -> DataLoader:
    return DataLoader(sampler=BasicBatchSampler(batch_size=batch_size), collator=collate, prefetch=0)


def trainer(callbacks: list[FlaxTrainingCallback], max_epochs: int = 2, **kwargs: Any) -> FlaxTrainer:
    return FlaxTrainer(
        train_dataloader=loader(),
        val_dataloader=loader(32),
        engine=DefaultFlaxTrainingEngine(optimizer=optax.adam(1e-2)),
        callbacks=callbacks,
        max_epochs=max_epochs,
        progress=False,
        **kwargs,
    )


# Item 6: SingleDeviceDistributor.reduce ignores op; DataParallelDistributor.reduce rejects unknown ones.
def test_item6_single_device_reduce_returns_the_array_for_any_op() -> None:
    array = jnp.arange(3.0)
    for op in ("mean", "sum", "max", "anything"):
        assert SingleDeviceDistributor().reduce(array, op) is array
    with pytest.raises(ValueError, match="'max'"):
        DataParallelDistributor(num_devices=1).reduce(array, "max")


# Item 7: a callback may keep every state it is handed and read them all after training.
class KeepEveryState(FlaxTrainingCallback):
    def __init__(self) -> None:
        self.states: list[Any] = []

    def on_batch_end(self, trainer: FlaxTrainer, model: Any, state: Any, epoch: int, output: Any) -> None:
        self.states.append(state)

    def on_epoch_end(self, trainer: FlaxTrainer, model: Any, state: Any, epoch: int) -> None:
        self.states.append(state)


def test_item7_states_kept_by_a_callback_stay_valid_after_training() -> None:
    keeper = KeepEveryState()
    training = trainer([keeper, EarlyStoppingCallback(patience=5)], max_epochs=2)
    final = training.train(Linear(rngs=0), records(), records(32, seed=1))
    assert not training.donates_state
    steps = [int(state.step) for state in keeper.states]
    assert steps == [1, 2, 3, 4, 4, 5, 6, 7, 8, 8]
    kernels = [np.asarray(state.params["out"]["kernel"][...]) for state in keeper.states]
    assert not np.allclose(kernels[0], kernels[-1])  # real, distinct states: training moved
    np.testing.assert_array_equal(kernels[-1], np.asarray(final.params["out"]["kernel"][...]))
    # formed's own callbacks keep no state, so with them alone the step reuses buffers.
    assert trainer([EarlyStoppingCallback(), EvaluationCallback(MulticlassAccuracy())]).donates_state


# Item 9: FlaxTrainer can be named in a config ("flax_trainer"), or left untyped.
TRAINER_CONFIG = {
    "train_dataloader": {"sampler": {"type": "basic", "batch_size": 16}, "collator": COLLATOR, "prefetch": 0},
    "engine": {"optimizer": {"type": "adam", "learning_rate": 0.01}},
    "max_epochs": 1,
    "progress": False,
}


def test_item9_flax_trainer_builds_from_a_typed_and_an_untyped_config() -> None:
    typed = from_config(FlaxTrainer, {"type": "flax_trainer", **TRAINER_CONFIG})
    untyped = from_config(FlaxTrainer, TRAINER_CONFIG)
    for built in (typed, untyped):
        assert type(built) is FlaxTrainer and built.max_epochs == 1
        assert isinstance(built.train_dataloader, DataLoader)
    assert FlaxTrainer.by_name("flax_trainer") is FlaxTrainer


# Items 9 and 10 in a workflow: the reference's trainer config, and flax::evaluate's dataloader
# given as a config.
def test_item10_flax_evaluate_takes_a_dataloader_config() -> None:
    dataloader = {"sampler": {"type": "basic", "batch_size": 8}, "collator": COLLATOR}
    results = Workflow(
        {
            "data": {"type": "reference_training_test::records"},
            "train": {
                "type": "flax::train",
                "model": {"type": "reference_training_test::linear"},
                "trainer": {"type": "flax_trainer", **TRAINER_CONFIG},
                "train_dataset": {"type": "ref", "ref": "data"},
                "random_seed": 1,
            },
            "by_config": {
                "type": "flax::evaluate",
                "model": {"type": "ref", "ref": "train"},
                "evaluator": {"type": "accuracy"},
                "dataset": {"type": "ref", "ref": "data"},
                "dataloader": dataloader,
            },
        }
    ).run()
    assert isinstance(results["train"], Linear)
    # The same metrics as the step called from Python with a plain function as the dataloader.
    by_function = evaluate_flax_model(
        results["train"], MulticlassAccuracy(), records(), lambda items: [collate(items[i : i + 8]) for i in range(0, len(items), 8)]
    )
    assert results["by_config"] == by_function
    assert 0.0 < by_function["accuracy"] <= 1.0


# Item 11: early stopping persists the best model once per improvement through the checkpoint
# code, in the step's working directory, and not inside every training checkpoint.
@FlaxTrainingCallback.register("reference_training_test::crash_after_evaluations")
class CrashAfterEvaluations(FlaxTrainingCallback):
    """Raises after `count` evaluations: a run killed mid-training, whose work directory stays."""

    keeps_states = False

    def __init__(self, count: int) -> None:
        self.count = count

    def on_eval_end(self, trainer: FlaxTrainer, model: Any, state: Any, metrics: Any, prefix: str = "") -> None:
        self.count -= 1
        if self.count == 0:
            raise RuntimeError("killed")


def test_item11_in_a_workflow_the_best_model_is_written_once_under_the_step_workdir(tmp_path: Path) -> None:
    trainer_config = {
        **TRAINER_CONFIG,
        "val_dataloader": {"sampler": {"type": "basic", "batch_size": 32}, "collator": COLLATOR, "prefetch": 0},
        "max_epochs": 4,
        "callbacks": [
            {"type": "early_stopping", "patience": 5},
            {"type": "checkpoint", "keep_last": 5},
            {"type": "reference_training_test::crash_after_evaluations", "count": 3},
        ],
    }
    workflow = Workflow(
        {
            "data": {"type": "reference_training_test::records"},
            "validation": {"type": "reference_training_test::records", "n": 32, "seed": 1},
            "train": {
                "type": "flax::train",
                "model": {"type": "reference_training_test::linear"},
                "trainer": {"type": "flax_trainer", **trainer_config},
                "train_dataset": {"type": "ref", "ref": "data"},
                "val_dataset": {"type": "ref", "ref": "validation"},
            },
        },
        cache_dir=tmp_path,
    )
    with pytest.raises(Exception, match="killed"):
        workflow.run()
    (workdir,) = {path.parent for path in tmp_path.rglob("best")}
    best = CheckpointDirectory(str(workdir / "best"))
    checkpoints = CheckpointDirectory(str(workdir / "checkpoints"))
    # One saved best model (older ones pruned), at an evaluation (an epoch's end). The kill came
    # right after the third evaluation, before step 12's training checkpoint: the best model
    # on disk is at least as recent and as good as the one the last checkpoint knew of.
    index = best.read_index()
    assert [entry["step"] for entry in index["checkpoints"]] == best.steps() == [index["best"]]
    assert index["best"] in (4, 8, 12)
    early_stopping_states = [entry["callbacks"]["0:EarlyStoppingCallback"] for entry in checkpoints.read_index()["checkpoints"]]
    assert [state["best_step"] is not None for state in early_stopping_states] == [True, True]  # steps 4, 8
    last_known = early_stopping_states[-1]
    assert index["best"] >= last_known["best_step"]
    assert index["checkpoints"][0]["metrics"]["loss"] <= -last_known["best_score"] + 1e-6
    # The training checkpoints hold the training state and early stopping's counters only.
    assert all("best_state" not in saved for saved in early_stopping_states)
    for step in checkpoints.steps():
        items = set(checkpoints.read_arrays(step))  # the training state's items, no callback arrays
        assert {"params", "opt_state", "step"} <= items and "callback_states" not in items


class CrashAfterEvaluation(FlaxTrainingCallback):
    def on_eval_end(self, trainer: FlaxTrainer, model: Any, state: Any, metrics: Any, prefix: str = "") -> None:
        raise RuntimeError("killed")


def test_item11_a_crash_after_an_improvement_keeps_the_best_model(tmp_path: Path) -> None:
    early_stopping = EarlyStoppingCallback(patience=3)
    early_stopping.set_workdir(str(tmp_path))  # what the train binary and flax::train do
    model = Linear(rngs=0)
    training = trainer([early_stopping, CrashAfterEvaluation()], max_epochs=3)
    with pytest.raises(RuntimeError, match="killed"):
        training.train(model, records(), records(32, seed=1))
    template = training.engine.create_state(None, training, model)
    saved = CheckpointDirectory(str(tmp_path / "best")).restore(template)
    assert int(saved.step) == 4  # the end of the first epoch, whose evaluation improved
    assert not np.allclose(np.asarray(saved.params["out"]["kernel"][...]), np.asarray(template.params["out"]["kernel"][...]))


def test_item11_without_a_directory_the_best_state_is_kept_in_memory() -> None:
    early_stopping = EarlyStoppingCallback(patience=3)
    training = trainer([early_stopping], max_epochs=2)
    final = training.train(Linear(rngs=0), records(), records(32, seed=1))
    assert early_stopping.directory is None and early_stopping.best_state is not None
    assert int(final.step) == early_stopping.best_step
    assert "best_state" in early_stopping.state_dict()
