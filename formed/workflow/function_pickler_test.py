"""Tests for formed.workflow.function_pickler: models holding JAX functions round-trip."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from formed.core import from_config, use_rngs
from formed.modules import BaseFlaxModel
from formed.workflow import FlaxModelFormat
from formed.workflow.function_pickler import dump


def round_trip(obj: object) -> object:
    buffer = io.BytesIO()
    dump(obj, buffer)
    return pickle.loads(buffer.getvalue())


def test_jax_functions_come_back_as_the_same_objects() -> None:
    functions = [jax.nn.tanh, jax.numpy.tanh, jax.nn.gelu, jax.nn.relu, jax.numpy.mean, len, round_trip]
    assert round_trip(functions) == functions
    assert all(a is b for a, b in zip(round_trip(functions), functions))


def test_an_lstm_classifier_is_cached_and_read_back_whole(tmp_path: Path) -> None:
    config = {
        "type": "text_classifier",
        "num_classes": 3,
        "embedder": {"type": "analyzed_text", "surface": {"type": "token", "vocab_size": 10, "embedding_dim": 4}},
        "encoder": {"type": "lstm", "features": 4, "bidirectional": True},
        "vectorizer": {"type": "boe"},
    }
    with use_rngs(0):
        model = from_config(BaseFlaxModel, config)
    FlaxModelFormat().write(model, tmp_path)
    restored = FlaxModelFormat().read(tmp_path)
    assert type(restored) is type(model)
    expected, actual = jax.tree.leaves(nnx.state(model, nnx.Param)), jax.tree.leaves(nnx.state(restored, nnx.Param))
    assert len(actual) == len(expected) > 0
    for a, b in zip(actual, expected):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
