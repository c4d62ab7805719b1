"""Tests for the Equinox `TextClassifier`: built from the Flax classifier's config keys, padding
invariant, trains under eqx.filter_jit, honours inference mode."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from formed.core import AnalyzedTextBatch, IDSequenceBatch, from_config, use_rngs
from formed.equinox import BaseEquinoxModel, ClassifierOutput, TextClassifier

# The model section of formed/training/configs/text_classifier.py, sizes filled in and shrunk.
CONFIG = dict(
    type="text_classifier",
    num_classes=3,
    embedder=dict(type="analyzed_text", surface=dict(type="token", vocab_size=30, embedding_dim=6)),
    encoder=dict(type="lstm", features=8, bidirectional=True),
    vectorizer=dict(type="boe", pooling=["mean", "max"]),
    feedforward=dict(features=4),
    dropout=0.1,
)
LENGTHS = np.array([2, 5, 3, 4])


def _batch(seq_len: int, garbage_seed: int, labels: bool = True) -> dict:
    ids = np.random.default_rng(0).integers(1, 30, size=(len(LENGTHS), 5))  # the real tokens: fixed
    ids = np.pad(ids, ((0, 0), (0, seq_len - 5)))
    garbage = np.random.default_rng(garbage_seed).integers(0, 30, size=ids.shape)
    mask = np.arange(seq_len)[None, :] < LENGTHS[:, None]
    batch: dict[str, Any] = {"text": AnalyzedTextBatch(surfaces=IDSequenceBatch(ids=np.where(mask, ids, garbage), mask=mask))}
    if labels:
        batch["label"] = np.array([0, 1, 2, 1], dtype=np.int32)
    return batch


def _model(seed: int = 0) -> TextClassifier:
    with use_rngs(seed):
        model = from_config(BaseEquinoxModel, CONFIG, path="model")
    assert isinstance(model, TextClassifier)
    return model


@eqx.filter_jit
def _call(model: TextClassifier, batch: dict, key: jax.Array | None) -> ClassifierOutput:
    return model(batch, key=key)


def test_builds_from_the_flax_config_keys_with_projections_where_sizes_differ() -> None:
    model = _model()
    assert isinstance(model, TextClassifier)
    assert model.encoder_projection is not None  # 6-d embeddings into an 8-d LSTM
    assert model.feedforward_projection is not None  # 16-d pooled vector into a 4-d feed-forward
    assert model.head.out_features == 3


def test_output_at_inference_ignores_padding() -> None:
    model = eqx.nn.inference_mode(_model())
    base = _call(model, _batch(5, garbage_seed=1), None)
    longer = _call(model, _batch(8, garbage_seed=2), None)
    np.testing.assert_allclose(base.logits, longer.logits, rtol=1e-5, atol=1e-5)
    assert base.logits.shape == (4, 3) and base.label.shape == (4,) and base.label.dtype == jnp.int32
    np.testing.assert_array_equal(base.label, np.argmax(np.asarray(base.logits), axis=-1))
    expected = -np.mean(jax.nn.log_softmax(np.asarray(base.logits))[np.arange(4), [0, 1, 2, 1]])
    assert base.loss is not None and float(base.loss) == pytest.approx(float(expected), rel=1e-5)
    assert _call(model, _batch(5, garbage_seed=1, labels=False), None).loss is None


def test_training_mode_uses_the_key_and_gradients_are_finite() -> None:
    model = _model()
    batch = _batch(5, garbage_seed=1)
    with pytest.raises(RuntimeError, match="key"):
        _call(model, batch, None)
    one, two = _call(model, batch, jax.random.key(1)), _call(model, batch, jax.random.key(2))
    assert not np.allclose(one.logits, two.logits)
    def loss(m: TextClassifier) -> jax.Array:
        value = m(batch, key=jax.random.key(0)).loss
        assert value is not None
        return value

    grads = eqx.filter_jit(eqx.filter_grad(loss))(model)
    leaves = jax.tree.leaves(grads)
    assert leaves and all(np.all(np.isfinite(np.asarray(g))) for g in leaves)


def test_the_seed_decides_the_parameters() -> None:
    same = [np.array_equal(a, b) for a, b in zip(jax.tree.leaves(_model(0)), jax.tree.leaves(_model(0)))]
    assert all(same)
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(_model(0)), jax.tree.leaves(_model(1))))


def test_errors_name_the_value() -> None:
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        with use_rngs(0):
            from_config(BaseEquinoxModel, {**CONFIG, "num_classes": 1})
    with pytest.raises(KeyError, match="inputs\\['text'\\]"):
        eqx.nn.inference_mode(_model())({"words": None})
