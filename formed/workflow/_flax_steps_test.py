"""Tests of the flax::train / flax::evaluate steps and FlaxModelFormat."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from formed.core import resolve_rngs, use_rngs
from formed.modules import BaseFlaxModel
from formed.training import DefaultFlaxTrainingEngine, FlaxTrainer, MulticlassAccuracy
from formed.training.testing import list_loader, make_records
from formed.workflow import Workflow, default_format_for, get_step, step
from formed.workflow.testing import train_and_evaluate_workflow
from formed.workflow._flax_steps import FlaxModelFormat, evaluate_flax_model, train_flax_model


class Output(NamedTuple):
    loss: jax.Array
    label: jax.Array


@BaseFlaxModel.register("flax_steps_test::linear")
class LinearClassifier(BaseFlaxModel[dict, Output, None]):
    """x (B, 4) -> 3 classes; parameters from the ambient RNG when built from a config."""

    def __init__(self, hidden: int = 8, rngs: nnx.Rngs | None = None) -> None:
        rngs = resolve_rngs(rngs)
        self.hidden = nnx.Linear(4, hidden, rngs=rngs)
        self.dropout = nnx.Dropout(0.1, rngs=rngs)
        self.out = nnx.Linear(hidden, 3, rngs=rngs)

    def __call__(self, inputs: dict, params: Any = None) -> Output:
        logits = self.out(self.dropout(jax.nn.relu(self.hidden(jnp.asarray(inputs["x"])))))
        if params is not None:
            logits = logits + params  # a call-time bias, to see that params reach the model
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, inputs["label"]).mean()
        return Output(loss=loss, label=logits.argmax(-1))


records = make_records
loader = list_loader(16)  # named by the workflow configs below ("<this module>:loader")


def make_trainer(max_epochs: int = 20) -> FlaxTrainer:
    return FlaxTrainer(
        train_dataloader=loader,
        val_dataloader=loader,
        engine=DefaultFlaxTrainingEngine(optimizer=optax.adam(0.02)),
        max_epochs=max_epochs,
        progress=False,
    )


def leaves(model: nnx.Module) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


def accuracy(model: BaseFlaxModel, dataset: list[dict[str, Any]]) -> float:
    return evaluate_flax_model(model, MulticlassAccuracy(), dataset, loader)["accuracy"]


def test_the_format_is_the_default_for_flax_models_and_round_trips_every_variable(tmp_path: Path) -> None:
    model = LinearClassifier(rngs=nnx.Rngs(3))
    fmt = default_format_for(model)
    assert isinstance(fmt, FlaxModelFormat)
    assert fmt.identifier == "flax_model"
    assert FlaxModelFormat.is_default_of(model)
    assert not FlaxModelFormat.is_default_of({"a": 1})
    assert not FlaxModelFormat.is_default_of(nnx.Linear(2, 2, rngs=nnx.Rngs(0)))  # not a BaseFlaxModel

    fmt.write(model, tmp_path)
    restored = fmt.read(tmp_path)
    assert type(restored) is LinearClassifier
    expected = jax.tree.leaves(nnx.state(model), is_leaf=lambda x: isinstance(x, jax.Array))
    actual = jax.tree.leaves(nnx.state(restored), is_leaf=lambda x: isinstance(x, jax.Array))
    assert len(actual) == len(expected)  # parameters and the dropout RNG stream
    batch = loader(records(8))[0]
    model.eval(), restored.eval()
    np.testing.assert_array_equal(np.asarray(restored(batch).label), np.asarray(model(batch).label))
    np.testing.assert_allclose(float(restored(batch).loss), float(model(batch).loss))


def test_reading_a_directory_without_a_model_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="formed_model.json"):
        FlaxModelFormat().read(tmp_path)


def test_writing_something_else_than_a_module_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="nnx modules"):
        FlaxModelFormat().write({"not": "a model"}, tmp_path)  # type: ignore[arg-type]  # the wrong type is the point


def test_train_returns_a_trained_copy_and_leaves_the_input_model_as_it_was() -> None:
    train, val = records(96, seed=0), records(48, seed=1)
    model = LinearClassifier(rngs=nnx.Rngs(0))
    initial = leaves(model)
    before = accuracy(model, val)

    trained = train_flax_model(model, make_trainer(), train, val, random_seed=1)

    assert isinstance(trained, LinearClassifier) and trained is not model
    for a, b in zip(leaves(model), initial):
        np.testing.assert_array_equal(a, b)
    after = accuracy(trained, val)
    assert after >= 0.75 and after > before + 0.2


def test_train_is_reproducible_for_a_seed() -> None:
    train = records(64)
    first = train_flax_model(LinearClassifier(rngs=nnx.Rngs(0)), make_trainer(3), train, random_seed=5)
    second = train_flax_model(LinearClassifier(rngs=nnx.Rngs(0)), make_trainer(3), train, random_seed=5)
    for a, b in zip(leaves(first), leaves(second)):
        np.testing.assert_array_equal(a, b)


def test_evaluate_runs_the_model_in_evaluation_mode_and_passes_params() -> None:
    dataset = records(40, seed=2)
    model = LinearClassifier(rngs=nnx.Rngs(0))
    model.train()  # dropout on: evaluation must turn it off
    metrics = evaluate_flax_model(model, MulticlassAccuracy(), dataset, loader)
    predictions = np.concatenate([np.asarray(model(batch).label) for batch in loader(dataset)])
    labels = np.asarray([r["label"] for r in dataset])
    assert metrics == {"accuracy": pytest.approx(float(np.mean(predictions == labels)))}

    # A huge call-time bias on class 2 makes every prediction 2.
    bias = jnp.asarray([0.0, 0.0, 1e6])
    biased = evaluate_flax_model(model, MulticlassAccuracy(), dataset, loader, params=bias)
    assert biased["accuracy"] == pytest.approx(float(np.mean(labels == 2)))


def test_evaluate_resets_the_evaluator_first() -> None:
    dataset = records(32)
    model = LinearClassifier(rngs=nnx.Rngs(0))
    evaluator = MulticlassAccuracy()
    first = evaluate_flax_model(model, evaluator, dataset, loader)
    assert evaluate_flax_model(model, evaluator, dataset, loader) == first


_CALLS = {"trainer": 0}


@step("flax_steps_test::records", cacheable=False)
def _records_step(n: int, seed: int = 0) -> list[dict[str, Any]]:
    return records(n, seed)


@step("flax_steps_test::trainer", cacheable=False)
def _trainer_step(max_epochs: int) -> FlaxTrainer:
    _CALLS["trainer"] += 1
    return make_trainer(max_epochs)


def workflow_config(seed: int) -> dict[str, Any]:
    return train_and_evaluate_workflow("flax", __name__, "flax_steps_test::linear", max_epochs=20, seed=seed)


def test_the_steps_are_registered() -> None:
    assert get_step("flax::train").function is train_flax_model
    assert get_step("flax::evaluate").function is evaluate_flax_model
    assert isinstance(get_step("flax::train").format, FlaxModelFormat)


def test_a_workflow_trains_from_a_config_seeded_by_the_step_and_caches_the_model(tmp_path: Path) -> None:
    results = Workflow(workflow_config(seed=42), cache_dir=tmp_path).run()
    assert isinstance(results["model"], LinearClassifier)
    assert results["metrics"]["accuracy"] >= 0.75

    # The model config was built under use_rngs(42): the same seed gives the same initial model,
    # hence the same trained one; another seed another.
    with use_rngs(42):
        expected = train_flax_model(LinearClassifier(hidden=8), make_trainer(20), records(96), records(48, seed=1), 42)
    for a, b in zip(leaves(results["model"]), leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    other = Workflow(workflow_config(seed=7), cache_dir=tmp_path).run(["model"])["model"]
    assert not np.allclose(leaves(other)[0], leaves(expected)[0])

    # A rerun reads the trained model and the metrics from the cache.
    before = _CALLS["trainer"]
    again = Workflow(workflow_config(seed=42), cache_dir=tmp_path).run(["model", "metrics"])
    assert again["metrics"] == results["metrics"]
    for a, b in zip(leaves(again["model"]), leaves(results["model"])):
        np.testing.assert_array_equal(a, b)
    assert _CALLS["trainer"] == before  # the cached step did not even build its trainer
