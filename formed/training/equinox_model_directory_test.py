"""load_model, evaluate, predict and export on an Equinox run: one tiny in-process run of the
ready Equinox config, shared by the tests."""

from __future__ import annotations

import json
import os

import equinox as eqx
import numpy as np
import pytest

from formed.data import SpatialRelationsDataset
from formed.equinox import TextClassifier
from formed.training import export_model, load_model
from formed.training.model_directory import write_model_files
from formed.training.run import run

SIZES = dict(seed=0, train_size=128, validation_size=32, test_size=48)


def _config() -> dict:
    from formed.training.configs import equinox_text_classifier

    config = equinox_text_classifier.get_config().to_dict()
    config["dataset"].update(SIZES)
    config["datamodule"]["fields"]["text"]["max_length"] = 12
    config["model"]["embedder"]["surface"]["embedding_dim"] = 8
    config["model"]["encoder"]["features"] = 8
    config["trainer"].update(max_epochs=2, progress=False, logging_interval=4)
    config["trainer"]["callbacks"] = [
        c for c in config["trainer"]["callbacks"] if c["type"] in ("evaluation", "checkpoint", "early_stopping")
    ]
    return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    workdir = str(tmp_path_factory.mktemp("run") / "workdir")
    metrics = run(_config(), workdir)
    splits = SpatialRelationsDataset(**SIZES).load()
    return {"workdir": workdir, "metrics": metrics, "test": splits["test"], "root": os.path.dirname(workdir)}


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
