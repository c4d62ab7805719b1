from typing import Any

import jax
import numpy as np
import optax
import pytest

from formed.core import AnalyzedTextBatch, IDSequenceBatch, from_config, use_rngs
from formed.data import DataModule
from formed.modules import BaseFlaxModel, ClassifierOutput, TextClassifier
from formed.training import DefaultFlaxTrainingEngine, FlaxTrainer


def _config(**overrides):
    config = {
        "type": "text_classifier",
        "num_classes": 3,
        "embedder": {"type": "analyzed_text", "surface": {"type": "token", "vocab_size": 20, "embedding_dim": 8}},
        "encoder": {"type": "lstm", "features": 12},
        "vectorizer": {"type": "boe", "pooling": ["mean", "max"]},
    }
    return {**config, **overrides}


def _batch(labels=True):
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, size=(4, 6)).astype(np.int32)
    mask = np.ones((4, 6), dtype=bool)
    mask[0, 3:] = False
    batch: dict[str, Any] = {"text": AnalyzedTextBatch(surfaces=IDSequenceBatch(ids, mask))}
    if labels:
        batch["label"] = np.array([0, 1, 2, 0], dtype=np.int32)
    return batch


def test_built_from_config_with_projections_where_sizes_differ():
    with use_rngs(0):
        model = from_config(BaseFlaxModel, _config(feedforward={"features": 10}), path="model")
    assert isinstance(model, TextClassifier)
    assert model.encoder_projection is not None and model.feedforward_projection is not None
    output = model(_batch())
    assert isinstance(output, ClassifierOutput) and output.loss is not None
    assert output.logits.shape == (4, 3) and output.label.shape == (4,) and output.loss.shape == ()


def test_without_labels_there_is_no_loss():
    with use_rngs(0):
        model = from_config(BaseFlaxModel, _config(encoder=None))
    assert model(_batch(labels=False)).loss is None


def test_padding_does_not_change_the_output():
    with use_rngs(0):
        model = from_config(BaseFlaxModel, _config())
    batch = _batch()
    surfaces = batch["text"].surfaces
    padded = {
        "text": AnalyzedTextBatch(surfaces=IDSequenceBatch(np.pad(surfaces.ids, ((0, 0), (0, 3)), constant_values=7), np.pad(surfaces.mask, ((0, 0), (0, 3))))),
        "label": batch["label"],
    }
    np.testing.assert_allclose(model(batch).logits, model(padded).logits, rtol=1e-5, atol=1e-6)


def test_learns_a_token_rule():
    # Label = whether token 1 appears: learnable by mean+max pooling.
    rng = np.random.default_rng(1)
    records = []
    for _ in range(64):
        ids = rng.integers(2, 20, size=6).astype(np.int32)
        label = int(rng.random() < 0.5)
        if label:
            ids[rng.integers(0, 6)] = 1
        records.append((ids, label))

    def loader(dataset):
        return [
            {"text": AnalyzedTextBatch(surfaces=IDSequenceBatch(np.stack([r[0] for r in dataset[i:i + 16]]), np.ones((16, 6), bool))),
             "label": np.array([r[1] for r in dataset[i:i + 16]], dtype=np.int32)}
            for i in range(0, len(dataset), 16)
        ]

    with use_rngs(0):
        model = from_config(BaseFlaxModel, _config(num_classes=2, encoder=None))
    trainer = FlaxTrainer(train_dataloader=loader, engine=DefaultFlaxTrainingEngine(optimizer=optax.adam(3e-2)), max_epochs=15, progress=False)
    state = trainer.train(model, records)
    trained = state.to_model()
    trained.eval()
    accuracy = np.mean([float(np.mean(np.asarray(trained(b).label) == b["label"])) for b in loader(records)])
    assert accuracy > 0.9


def test_too_few_classes_is_an_error():
    with use_rngs(0), pytest.raises(ValueError, match="num_classes"):
        from_config(BaseFlaxModel, _config(num_classes=1))


def test_readable_output_names_the_label_and_every_probability():
    datamodule = from_config(DataModule, {"fields": {"text": {"type": "text"}, "label": {"type": "label"}}})
    datamodule.build([{"text": "a", "label": name} for name in ("blue", "green", "red")])
    with use_rngs(0):
        model = from_config(BaseFlaxModel, _config())
    model.eval()
    output = jax.device_get(model(_batch(labels=False)))
    readable = model.readable_output(output, datamodule)
    assert len(readable) == 4
    for row, logits, label in zip(readable, np.asarray(output.logits), np.asarray(output.label)):
        assert set(row) == {"label", "probabilities"} and list(row["probabilities"]) == ["blue", "green", "red"]
        assert row["label"] == ["blue", "green", "red"][int(label)]
        assert sum(row["probabilities"].values()) == pytest.approx(1.0)
        expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        np.testing.assert_allclose(list(row["probabilities"].values()), expected, rtol=1e-5)
    assert model.readable_output(output)[0]["label"] in (0, 1, 2)  # without a data module: ids
