"""Tests of flax::predict and flax::export in a workflow, on a tiny text classifier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
from flax import nnx

from formed.data import SpatialRelationsDataset
from formed.modules import AnalyzedTextEmbedder, BagOfEmbeddingsSequenceVectorizer, LSTMSequenceEncoder, TextClassifier, TokenEmbedder
from formed.training import load_model
from formed.workflow import ExportedModelFormat, FlaxModelFormat, JsonlFormat, Workflow, export_flax_model, predict_flax_model, ref

TEXTS = ["the blue ball is east of the red box", "the red box is east of the blue ball", "a green cup is left of a red hat"]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def steps(input_path: Path) -> dict[str, Any]:
    loader = {"sampler": {"type": "basic", "batch_size": 16, "shuffle": True, "drop_last": True}, "collator": ref("datamodule")}
    return {
        "dataset": {"type": "data::load_dataset", "dataset": {"type": "spatial_relations", "train_size": 64, "validation_size": 0, "test_size": 16}},
        "datamodule": {
            "type": "data::fit_datamodule",
            "datamodule": {"fields": {"text": {"type": "text", "max_length": 8}, "label": {"type": "label"}}},
            "dataset": ref("dataset", "train"),
        },
        "train": {
            "type": "flax::train",
            "model": {
                "type": "text_classifier",
                "num_classes": ref("datamodule", "fields.label.num_labels"),
                "embedder": {"type": "analyzed_text", "surface": {"type": "token", "vocab_size": ref("datamodule", "fields.text.vocab_size"), "embedding_dim": 8}},
                "vectorizer": {"type": "boe"},
            },
            "trainer": {"train_dataloader": loader, "max_epochs": 1, "progress": False},
            "train_dataset": ref("dataset", "train"),
        },
        "predictions": {"type": "flax::predict", "model": ref("train"), "datamodule": ref("datamodule"), "input": str(input_path)},
        "test_predictions": {"type": "flax::predict", "model": ref("train"), "datamodule": ref("datamodule"), "dataset": ref("dataset", "test"), "batch_size": 5},
        "export": {"type": "flax::export", "model": ref("train"), "datamodule": ref("datamodule"), "metrics": {"test": {"accuracy": 0.5}}},
    }


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Workflow, dict[str, Any]]:
    root = tmp_path_factory.mktemp("model_steps")
    write_jsonl(root / "new.jsonl", [{"text": text} for text in TEXTS])
    workflow = Workflow(steps(root / "new.jsonl"), cache_dir=root / "cache")
    return root, workflow, workflow.run()


def test_predictions_follow_the_input_order_and_are_cached_as_jsonl(ran: tuple[Path, Workflow, dict[str, Any]]) -> None:
    root, workflow, results = ran
    predictions = results["predictions"]
    assert len(predictions) == len(TEXTS)
    labels = set(results["datamodule"].fields["label"].labels)
    for prediction in predictions:
        assert prediction["label"] in labels
        assert set(prediction["probabilities"]) == labels
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert workflow.cache is not None
    path = workflow.cache.path_for(workflow.fingerprints["predictions"]) / "artifact" / "predictions.jsonl"
    assert [json.loads(line) for line in path.read_text().splitlines()] == predictions
    assert JsonlFormat().read(path.parent) == predictions
    test_records = SpatialRelationsDataset(train_size=64, validation_size=0, test_size=16).load()["test"]
    assert len(results["test_predictions"]) == len(test_records) == 16


def test_the_export_is_a_model_directory_load_model_reads(ran: tuple[Path, Workflow, dict[str, Any]]) -> None:
    root, workflow, results = ran
    assert workflow.cache is not None
    directory = workflow.cache.path_for(workflow.fingerprints["export"]) / "artifact"
    assert (directory / "MODEL_CARD.md").read_text().count("| test | 0.5000 |") == 1
    predictor = load_model(directory)
    assert isinstance(predictor.model, TextClassifier)
    for loaded, cached in zip(predictor.predict([{"text": text} for text in TEXTS]), results["predictions"], strict=True):
        assert loaded["label"] == cached["label"]
        assert loaded["probabilities"] == pytest.approx(cached["probabilities"], rel=1e-5)
    assert isinstance(ExportedModelFormat().read(directory).model, TextClassifier)


def test_an_edited_input_file_reruns_the_predictions_only(ran: tuple[Path, Workflow, dict[str, Any]]) -> None:
    root, workflow, _ = ran
    write_jsonl(root / "new.jsonl", [{"text": text} for text in TEXTS[:2]])
    try:
        again = Workflow(steps(root / "new.jsonl"), cache_dir=root / "cache")
        assert [p.name for p in again.plan() if p.action == "run"] == ["predictions"]
    finally:
        write_jsonl(root / "new.jsonl", [{"text": text} for text in TEXTS])


def test_predict_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one of input"):
        predict_flax_model(None, None)  # type: ignore[arg-type]  # no model needed: the sources are checked first
    with pytest.raises(ValueError, match="exactly one of input"):
        predict_flax_model(None, None, input="a.jsonl", dataset=[])  # type: ignore[arg-type]  # no model needed, as above


def test_export_needs_a_model_built_from_a_config() -> None:
    model = TextClassifier(
        num_classes=2,
        embedder=AnalyzedTextEmbedder(surface=TokenEmbedder(vocab_size=5, embedding_dim=2, rngs=nnx.Rngs(0))),
        vectorizer=BagOfEmbeddingsSequenceVectorizer(),
        rngs=nnx.Rngs(0),
    )
    with pytest.raises(ValueError, match="built from a config"):
        export_flax_model(model, None)  # type: ignore[arg-type]  # the model is checked first


def test_a_model_built_in_code_with_an_lstm_is_cached_and_read_back(tmp_path: Path) -> None:
    model = TextClassifier(
        num_classes=2,
        embedder=AnalyzedTextEmbedder(surface=TokenEmbedder(vocab_size=5, embedding_dim=4, rngs=nnx.Rngs(0))),
        encoder=LSTMSequenceEncoder(features=4, rngs=nnx.Rngs(0)),
        vectorizer=BagOfEmbeddingsSequenceVectorizer(),
        rngs=nnx.Rngs(0),
    )
    FlaxModelFormat().write(model, tmp_path)  # no config: its structure is pickled, tanh included
    restored = FlaxModelFormat().read(tmp_path)
    expected, actual = jax.tree.leaves(nnx.state(model, nnx.Param)), jax.tree.leaves(nnx.state(restored, nnx.Param))
    assert type(restored) is TextClassifier and len(actual) == len(expected) > 0
    for a, b in zip(actual, expected):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
