"""load_model, evaluate, predict and export on an Equinox run: one tiny in-process run of the
ready Equinox config, shared by the tests."""

from __future__ import annotations

import json
import os

import equinox as eqx
import numpy as np
import pytest

from formed.equinox import TextClassifier
from formed.training import export_model, load_model, write_model_files
from formed.training.testing import tiny_run_config, train_tiny_run


def _config() -> dict:
    from formed.training.configs import equinox_text_classifier

    return tiny_run_config(equinox_text_classifier)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return train_tiny_run(_config(), str(tmp_path_factory.mktemp("run") / "workdir"))


def test_an_equinox_run_loads_evaluates_and_predicts_as_it_trained(trained: dict) -> None:
    predictor = load_model(trained["workdir"])
    assert isinstance(predictor.model, TextClassifier)
    assert predictor.info["step"] == trained["metrics"]["step"]
    metrics = predictor.evaluate(trained["test"], source="test split")
    assert metrics["accuracy"] == pytest.approx(trained["metrics"]["test"]["accuracy"])
    assert metrics["loss"] == pytest.approx(trained["metrics"]["test"]["loss"], rel=1e-5)
    predictions = predictor.predict([{"text": r["text"]} for r in trained["test"]])
    accuracy = np.mean([p["label"] == r["label"] for p, r in zip(predictions, trained["test"])])
    assert accuracy == pytest.approx(trained["metrics"]["test"]["accuracy"])
    assert all(sum(p["probabilities"].values()) == pytest.approx(1.0) for p in predictions)


def test_an_exported_equinox_model_loads_without_the_run(trained: dict) -> None:
    predictor = load_model(trained["workdir"])
    output = export_model(predictor, os.path.join(trained["root"], "exported"))
    with open(os.path.join(output, "formed_model.json"), encoding="utf-8") as file:
        assert json.load(file)["model_format"] == "equinox"
    loaded = load_model(output)
    assert eqx.tree_equal(eqx.filter(loaded.model, eqx.is_array), eqx.filter(predictor.model, eqx.is_array))
    records = [{"text": r["text"]} for r in trained["test"][:8]]
    assert loaded.predict(records) == predictor.predict(records)


def test_a_model_saved_as_a_workflow_caches_it_loads_with_the_data_module_given(trained: dict) -> None:
    # What EquinoxModelFormat writes for a trained `equinox::train` result: the export layout
    # with only the config's model section (no trainer, so the format names the registry) and
    # no data module.
    predictor = load_model(trained["workdir"])
    cached = os.path.join(trained["root"], "cached")
    os.makedirs(cached)
    write_model_files(cached, predictor.model, {"model": predictor.config["model"]})
    assert not os.path.exists(os.path.join(cached, "data"))
    records = [{"text": r["text"]} for r in trained["test"][:8]]
    with pytest.raises(ValueError, match=r"saved without a data module \(data/\)"):
        load_model(cached).predict(records)
    loaded = load_model(cached, datamodule=predictor.datamodule)
    assert isinstance(loaded.model, TextClassifier) and loaded.info["model_format"] == "equinox"
    assert loaded.predict(records) == predictor.predict(records)
