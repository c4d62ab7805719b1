"""Tests for formed/modules/_model.py."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from formed.core import RngsLike, from_config, resolve_rngs, use_rngs
from formed.modules._model import BaseFlaxModel


@BaseFlaxModel.register("model_test_tiny")
class _Tiny(BaseFlaxModel[dict, jax.Array, None]):
    def __init__(self, hidden_dim: int, dropout: float = 0.5, rngs: RngsLike | None = None) -> None:
        rngs = resolve_rngs(rngs)
        self.linear = nnx.Linear(3, hidden_dim, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(self, inputs: dict, params: None = None) -> jax.Array:
        return self.dropout(self.linear(inputs["features"]))


def test_registered_model_builds_from_config_and_follows_train_eval() -> None:
    with use_rngs(0):
        model = from_config(BaseFlaxModel, {"type": "model_test_tiny", "hidden_dim": 16})
    assert isinstance(model, _Tiny) and "model_test_tiny" in BaseFlaxModel.list_available()
    inputs = {"features": jnp.ones((4, 3))}
    model.train()
    assert not np.allclose(np.asarray(model(inputs)), np.asarray(model(inputs)))
    model.eval()
    out = nnx.jit(lambda m, x: m(x))(model, inputs)
    np.testing.assert_allclose(np.asarray(out), np.asarray(model(inputs)), atol=1e-6)


def test_base_model_call_is_not_implemented() -> None:
    with pytest.raises(NotImplementedError, match="__call__"):
        BaseFlaxModel()({})


def test_default_readable_output_is_one_dict_per_record() -> None:
    class Output(NamedTuple):
        score: np.ndarray
        tags: np.ndarray
        loss: np.ndarray | None = None

    output = Output(np.array([0.5, 1.0]), np.array([[1, 2], [3, 4]]), np.array(0.3))
    assert BaseFlaxModel().readable_output(output) == [{"score": 0.5, "tags": [1, 2]}, {"score": 1.0, "tags": [3, 4]}]
    assert BaseFlaxModel().readable_output(np.array([[1.0], [2.0]])) == [{"output": [1.0]}, {"output": [2.0]}]
