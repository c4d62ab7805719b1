"""End to end, after training an Equinox model: the `train` binary trains the ready Equinox
recipe (shrunk: `configs/tiny_equinox_classifier.py`), then the `evaluate`, `predict` and
`export` binaries run on its work directory as a user runs them, and the exported directory is
loaded with `formed.training.load_model` in this process.

One training run (a module fixture) is shared by the tests; every binary runs in a subprocess
with a timeout (`binaries.TIMEOUT_S`).
"""

from __future__ import annotations

import json
import os

import pytest

import binaries

CONFIG = os.path.join(binaries.TESTS_DIR, "configs", "tiny_equinox_classifier.py")


def _read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def _read_lines(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from formed.data import SpatialRelationsDataset

    root = tmp_path_factory.mktemp("equinox_after_training")
    workdir = str(root / "run")
    binaries.run("train", f"--config={CONFIG}", f"--workdir={workdir}")
    config = _read_json(os.path.join(workdir, "config.json"))
    assert config["trainer"]["engine"]["type"] == "equinox"
    # The validation split the run measured (the run's own dataset settings), as a labelled file.
    dataset = {key: value for key, value in config["dataset"].items() if key != "type"}
    records = SpatialRelationsDataset(**dataset).load()["validation"]
    validation = root / "validation.jsonl"
    validation.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    # New records: texts only, in an order of their own (the last 24, reversed).
    new = root / "new.jsonl"
    new.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in reversed(records[-24:])), encoding="utf-8")
    return {"root": str(root), "workdir": workdir, "validation": str(validation), "new": str(new)}


def test_evaluate_reproduces_the_runs_final_validation_metrics(run: dict[str, str]) -> None:
    final = _read_json(os.path.join(run["workdir"], "metrics.json"))
    output = os.path.join(run["root"], "metrics_out.json")
    result = binaries.run("evaluate", f"--run={run['workdir']}", f"--input={run['validation']}", f"--output={output}")
    assert "accuracy" in result.stdout and "validation.jsonl" in result.stdout
    written = _read_json(output)
    assert written["records"] == 64 and written["step"] == final["step"]  # the kept (best) model
    assert set(written["metrics"]) == set(final["validation"])
    for name, value in final["validation"].items():
        assert written["metrics"][name] == pytest.approx(value, rel=1e-5, abs=1e-7), name


def test_predict_writes_one_line_per_input_in_order_and_export_loads_with_load_model(run: dict[str, str]) -> None:
    output = os.path.join(run["root"], "predictions.jsonl")
    binaries.run("predict", f"--run={run['workdir']}", f"--input={run['new']}", f"--output={output}")
    predicted = _read_lines(output)
    inputs = _read_lines(run["new"])
    assert len(predicted) == len(inputs) == 24
    assert all(set(p) == {"label", "probabilities"} and p["label"] in p["probabilities"] for p in predicted)

    exported = os.path.join(run["root"], "exported")
    binaries.run("export", f"--run={run['workdir']}", f"--output={exported}")
    about = _read_json(os.path.join(exported, "formed_model.json"))
    assert about["model_format"] == "equinox" and about["model_type"] == "text_classifier"
    assert about["step"] == _read_json(os.path.join(run["workdir"], "metrics.json"))["step"]

    from formed.equinox import BaseEquinoxModel
    from formed.training import load_model

    predictor = load_model(exported)
    assert isinstance(predictor.model, BaseEquinoxModel)
    # Input order: record i's prediction is line i (each record has its own probabilities, so a
    # reordering or a dropped line would not match).
    from_export = predictor.predict(inputs)
    assert [p["label"] for p in from_export] == [p["label"] for p in predicted]
    for i, (got, want) in enumerate(zip(from_export, predicted)):
        assert got["probabilities"] == pytest.approx(want["probabilities"], rel=1e-5, abs=1e-7), f"record {i}"
    assert len({json.dumps(p["probabilities"], sort_keys=True) for p in predicted}) > 1
