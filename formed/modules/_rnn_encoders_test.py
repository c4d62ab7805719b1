"""Tests for formed/modules/_rnn_encoders.py (the shared encoder contract is in encoders_test.py)."""

from __future__ import annotations

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from formed.modules import _rnn_encoders as rnn_encoders
from formed.modules._rnn_encoders import (
    GRUSequenceEncoder,
    LSTMSequenceEncoder,
    OptimizedLSTMSequenceEncoder,
    RNNSequenceEncoder,
)

FEATURES = 4


@pytest.mark.parametrize(
    "encoder_type, cell_type",
    [(LSTMSequenceEncoder, nnx.LSTMCell), (OptimizedLSTMSequenceEncoder, nnx.OptimizedLSTMCell), (GRUSequenceEncoder, nnx.GRUCell)],
)
def test_each_named_encoder_is_the_rnn_encoder_over_its_cell_type(encoder_type: type, cell_type: type) -> None:
    named = encoder_type(FEATURES, bidirectional=True, feedforward_layers=1, rngs=3)
    generic = RNNSequenceEncoder(
        lambda r: cell_type(FEATURES, FEATURES, rngs=r), FEATURES, 1, True, feedforward_layers=1, rngs=3
    )
    assert isinstance(named, RNNSequenceEncoder)
    assert all(type(layer.forward_cell) is cell_type for layer in named.layers)
    assert all(type(layer.backward_cell) is cell_type for layer in named.layers)
    named_state, generic_state = nnx.state(named, nnx.Param), nnx.state(generic, nnx.Param)
    assert jax.tree.structure(named_state) == jax.tree.structure(generic_state)  # type: ignore[operator]  # jax types treedefs with an alias mypy cannot resolve
    for a, b in zip(jax.tree.leaves(named_state), jax.tree.leaves(generic_state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    inputs = jnp.arange(2 * 3 * FEATURES, dtype=jnp.float32).reshape(2, 3, FEATURES) / 10
    np.testing.assert_array_equal(np.asarray(named(inputs)), np.asarray(generic(inputs)))


def test_docstring_examples_run() -> None:
    result = doctest.testmod(rnn_encoders, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
