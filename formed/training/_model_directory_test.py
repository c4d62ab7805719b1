"""load_model on a run and on an exported model, export's layout, and the predictor's bounded
compilations; one tiny in-process run of the text classifier is shared by the tests."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import orbax.checkpoint as ocp
import pytest

from formed.data import buckets_up_to
from formed.training import export_model, load_model
from formed.training.testing import tiny_run_config, train_tiny_run

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
def _config() -> dict:
    from formed.training.configs import text_classifier

    return tiny_run_config(text_classifier)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return train_tiny_run(_config(), str(tmp_path_factory.mktemp("run") / "workdir"))


def test_the_loaded_model_is_the_model_at_the_end_of_training(trained: dict) -> None:
    predictor = load_model(trained["workdir"])  # "best": the step early stopping kept
    assert predictor.info["step"] == trained["metrics"]["step"]
    metrics = predictor.evaluate(trained["test"], source="test split")
    assert metrics["accuracy"] == pytest.approx(trained["metrics"]["test"]["accuracy"])
    assert metrics["loss"] == pytest.approx(trained["metrics"]["test"]["loss"], rel=1e-6)
    predictions = predictor.predict([{"text": r["text"]} for r in trained["test"]])
    assert len(predictions) == len(trained["test"])
    accuracy = np.mean([p["label"] == r["label"] for p, r in zip(predictions, trained["test"])])
    assert accuracy == pytest.approx(trained["metrics"]["test"]["accuracy"])
    for p in predictions:
        assert sum(p["probabilities"].values()) == pytest.approx(1.0)
        assert p["label"] == max(p["probabilities"], key=p["probabilities"].get)


def test_checkpoints_by_name_or_step_and_clear_errors(trained: dict, tmp_path) -> None:
    latest = load_model(trained["workdir"], checkpoint="latest")
    assert latest.info["step"] == 8  # 2 epochs of 4 steps
    assert load_model(trained["workdir"], checkpoint=latest.info["step"]).info["step"] == latest.info["step"]
    with pytest.raises(ValueError, match=r"no checkpoint of step 3; saved steps: "):
        load_model(trained["workdir"], checkpoint=3)
    with pytest.raises(ValueError, match="'best', 'latest' or a step number"):
        load_model(trained["workdir"], checkpoint="first")
    with pytest.raises(FileNotFoundError, match="no such directory"):
        load_model(tmp_path / "nothing")
    with pytest.raises(ValueError, match="neither a run directory"):
        load_model(tmp_path)


def test_a_run_of_the_previous_checkpoint_layout_is_refused_with_a_message(trained: dict, tmp_path) -> None:
    from formed.training import CheckpointError

    old = str(tmp_path / "old")
    shutil.copytree(trained["workdir"], old)
    with open(os.path.join(old, "checkpoints", "index.json"), "w", encoding="utf-8") as file:
        json.dump({"checkpoints": [], "best": None}, file)  # what formed wrote before orbax's CheckpointManager
    with pytest.raises(CheckpointError, match=r"holds checkpoints of an older formed version .*train in a new work directory"):
        load_model(old)


def test_predictions_keep_input_order_and_compile_once_per_length_bucket(trained: dict) -> None:
    predictor = load_model(trained["workdir"], batch_size=16)
    rng = np.random.default_rng(0)
    words = "the red blue box ball is east west of".split()
    records = [{"text": " ".join(rng.choice(words, size=rng.integers(1, 30)))} for _ in range(150)]
    batch_predictions = predictor.predict(records)
    assert predictor.compilations <= len(buckets_up_to(12))  # whatever the mix of lengths
    one_by_one = [predictor.predict([record])[0] for record in records[:20]]
    for a, b in zip(batch_predictions, one_by_one):
        assert a["label"] == b["label"]
        np.testing.assert_allclose(list(a["probabilities"].values()), list(b["probabilities"].values()), rtol=1e-4, atol=1e-6)
    assert predictor.compilations <= len(buckets_up_to(12))
    with pytest.raises(ValueError, match="no column 'text'"):
        predictor.predict([{"sentence": "the red box"}])


def test_export_writes_named_parameters_a_card_and_loads_in_a_fresh_process(trained: dict) -> None:
    predictor = load_model(trained["workdir"])
    output = os.path.join(trained["root"], "exported")
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    export_model(predictor, output, now=lambda: when)
    assert sorted(os.listdir(output)) == ["MODEL_CARD.md", "config.json", "data", "formed_model.json", "metrics.json", "params"]
    params = ocp.PyTreeCheckpointer().restore(os.path.join(output, "params"))
    assert set(params) == {"embedder", "encoder", "head"}  # named, no optimizer state
    assert params["head"]["kernel"].shape == (16, 8)  # (pooled features, 8 colours)
    card = open(os.path.join(output, "MODEL_CARD.md"), encoding="utf-8").read()
    assert "2026-01-02T03:04:05+00:00" in card and "text_classifier" in card and "| test |" in card
    about = json.load(open(os.path.join(output, "formed_model.json"), encoding="utf-8"))
    assert about["model_format"] == "flax_nnx" and about["step"] == predictor.info["step"]

    texts = [r["text"] for r in trained["test"][:6]]
    expected = [p["label"] for p in predictor.predict([{"text": t} for t in texts])]
    script = (
        "import json, sys\nfrom formed.training import load_model\n"
        f"p = load_model({output!r})\n"
        f"print(json.dumps([x['label'] for x in p.predict([{{'text': t}} for t in {texts!r}])]))\n"
    )
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": os.pathsep.join([REPO_ROOT, *sys.path])}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected

    with pytest.raises(ValueError, match="is not an exported model"):
        export_model(predictor, trained["workdir"])
    export_model(predictor, output)  # a previous export is replaced whole
    assert load_model(output).predict([{"text": texts[0]}])[0]["label"] == expected[0]
