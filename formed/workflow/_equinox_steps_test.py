"""Tests of the equinox::train / equinox::evaluate steps and EquinoxModelFormat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import equinox as eqx
import jax
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

from formed.core import use_rngs
from formed.equinox import BaseEquinoxModel, resolve_key
from formed.training import DefaultFlaxTrainingEngine, EquinoxTrainingEngine, FlaxTrainer, MulticlassAccuracy, load_model
from formed.training.testing import list_loader, make_records
from formed.workflow import Workflow, default_format_for, get_step, step
from formed.workflow.testing import train_and_evaluate_workflow
from formed.workflow._equinox_steps import (
    EquinoxModelFormat,
    evaluate_equinox_model,
    remember_config,
    train_equinox_model,
)


class Output(NamedTuple):
    loss: jax.Array
    label: jax.Array


@BaseEquinoxModel.register("equinox_steps_test::mlp")
class Mlp(BaseEquinoxModel[dict, Output, None]):
    """x (B, 4) -> 3 classes, with dropout; parameters from the ambient RNG when built from a config."""

    hidden: eqx.nn.Linear
    dropout: eqx.nn.Dropout
    out: eqx.nn.Linear

    def __init__(self, hidden: int = 8, key: int | jax.Array | None = None) -> None:
        first, second = jax.random.split(resolve_key(key))
        self.hidden = eqx.nn.Linear(4, hidden, key=first)
        self.dropout = eqx.nn.Dropout(0.1)
        self.out = eqx.nn.Linear(hidden, 3, key=second)

    def __call__(self, inputs: dict, params: Any = None, *, key: jax.Array | None = None) -> Output:
        h = self.dropout(jax.nn.relu(jax.vmap(self.hidden)(inputs["x"])), key=key)
        logits = jax.vmap(self.out)(h)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, inputs["label"]).mean()
        return Output(loss=loss, label=logits.argmax(-1))


records = make_records
loader = list_loader(16)  # named by the workflow configs below ("<this module>:loader")


def make_trainer(max_epochs: int) -> FlaxTrainer:
    return FlaxTrainer(
        train_dataloader=loader, val_dataloader=loader, engine=EquinoxTrainingEngine(optimizer=optax.adam(1e-2)),
        max_epochs=max_epochs, progress=False,
    )


def leaves(model: eqx.Module) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(eqx.filter(model, eqx.is_array))]


def test_the_format_is_the_default_for_equinox_models_and_writes_the_export_layout(tmp_path: Path) -> None:
    model = Mlp(hidden=5, key=1)
    assert isinstance(default_format_for(model), EquinoxModelFormat)
    remember_config(model, {"type": "equinox_steps_test::mlp", "hidden": 5})
    EquinoxModelFormat().write(model, tmp_path)
    about = json.loads((tmp_path / "formed_model.json").read_text())
    assert about["model_format"] == "equinox" and about["model_type"] == "equinox_steps_test::mlp"
    assert json.loads((tmp_path / "config.json").read_text()) == {"model": {"type": "equinox_steps_test::mlp", "hidden": 5}}
    assert not (tmp_path / "structure.pkl").exists()  # the config rebuilds the structure
    restored = EquinoxModelFormat().read(tmp_path)
    assert isinstance(restored, Mlp) and eqx.tree_equal(restored, model)
    # The parameters are stored by name, as an export stores them.
    named = ocp.PyTreeCheckpointer().restore(str(tmp_path / "params"))
    np.testing.assert_array_equal(named["out"]["weight"], np.asarray(model.out.weight))


def test_a_model_without_config_is_saved_with_its_structure(tmp_path: Path) -> None:
    model = Mlp(hidden=5, key=2)
    remember_config(model, {"type": "equinox_steps_test::mlp", "hidden": 7})  # does not fit: ignored
    EquinoxModelFormat().write(model, tmp_path)
    assert not (tmp_path / "config.json").exists() and (tmp_path / "structure.pkl").exists()
    assert eqx.tree_equal(EquinoxModelFormat().read(tmp_path), model)


class Table(eqx.Module):
    """A float parameter and an integer array that is not a parameter."""

    weight: jax.Array
    ids: jax.Array


def test_a_model_with_integer_arrays_keeps_them_without_a_config(tmp_path: Path) -> None:
    model = Table(weight=jax.numpy.arange(6.0).reshape(2, 3), ids=jax.numpy.array([3, 1, 2]))
    EquinoxModelFormat().write(model, tmp_path)
    restored = EquinoxModelFormat().read(tmp_path)
    assert eqx.tree_equal(restored, model)  # the floats by name, the integers with the structure


def test_errors_name_the_file_and_the_type(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="formed_model.json"):
        EquinoxModelFormat().read(tmp_path)
    with pytest.raises(TypeError, match="eqx.Module"):
        EquinoxModelFormat().write({"not": "a model"}, tmp_path)  # type: ignore[arg-type]  # the wrong type is the point
    flax_trainer = FlaxTrainer(train_dataloader=loader, engine=DefaultFlaxTrainingEngine(), progress=False)
    with pytest.raises(TypeError, match="'equinox'"):
        train_equinox_model(Mlp(key=0), flax_trainer, records(16))


_CALLS = {"trainer": 0}


@step("equinox_steps_test::records", cacheable=False)
def _records_step(n: int, seed: int = 0) -> list[dict[str, Any]]:
    return records(n, seed)


@step("equinox_steps_test::trainer", cacheable=False)
def _trainer_step(max_epochs: int) -> FlaxTrainer:
    _CALLS["trainer"] += 1
    return make_trainer(max_epochs)


def workflow_config(seed: int) -> dict[str, Any]:
    return train_and_evaluate_workflow("equinox", __name__, "equinox_steps_test::mlp", max_epochs=15, seed=seed)


def test_the_steps_are_registered() -> None:
    assert get_step("equinox::train").function is train_equinox_model
    assert get_step("equinox::evaluate").function is evaluate_equinox_model
    assert isinstance(get_step("equinox::train").format, EquinoxModelFormat)


def test_a_workflow_trains_an_equinox_model_from_a_config_and_caches_it(tmp_path: Path) -> None:
    results = Workflow(workflow_config(seed=42), cache_dir=tmp_path).run()
    assert isinstance(results["model"], Mlp)
    assert results["metrics"]["accuracy"] >= 0.75

    # The model config was built under use_rngs(42), the step trained with seed 42: the same
    # seed gives the same trained model when the step is called as a function.
    with use_rngs(42):
        initial = Mlp(hidden=8)
    expected = train_equinox_model(initial, make_trainer(15), records(96), records(48, seed=1), 42)
    for a, b in zip(leaves(results["model"]), leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)

    # A rerun reads the trained model (rebuilt from its config) and the metrics from the cache.
    before = _CALLS["trainer"]
    again = Workflow(workflow_config(seed=42), cache_dir=tmp_path).run(["model", "metrics"])
    assert again["metrics"] == results["metrics"]
    assert eqx.tree_equal(again["model"], results["model"])
    assert _CALLS["trainer"] == before  # the cached step did not even build its trainer
    saved = list(tmp_path.glob("steps/*/artifact/config.json"))
    assert [json.loads(path.read_text())["model"]["hidden"] for path in saved] == [8]
    evaluator = MulticlassAccuracy()
    assert evaluate_equinox_model(again["model"], evaluator, records(48, seed=1), loader) == results["metrics"]

    # The cached model is an exported model directory: load_model reads it without the workflow.
    [directory] = [path.parent for path in saved]
    predictor = load_model(directory)
    assert isinstance(predictor.model, Mlp) and predictor.info["model_format"] == "equinox"
    assert eqx.tree_equal(predictor.model, eqx.nn.inference_mode(results["model"]))
    with pytest.raises(ValueError, match=r"saved without a data module .*load_model\(path, datamodule=\.\.\.\)"):
        predictor.predict([{"x": [0.0, 0.0, 0.0, 0.0]}])
