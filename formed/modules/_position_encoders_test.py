"""Tests for formed/modules/_position_encoders.py."""

from __future__ import annotations

import doctest

import jax.numpy as jnp
import numpy as np
import pytest

from formed.modules import _position_encoders as position_encoders
from formed.modules._position_encoders import _sinusoidal_table, LearnablePositionEncoder, SinusoidalPositionEncoder


def test_sinusoidal_table_matches_the_formula_and_is_cached() -> None:
    encoder = SinusoidalPositionEncoder(max_length=16)
    inputs = jnp.zeros((2, 5, 6))
    encoded = np.asarray(encoder(inputs))
    position = np.arange(5)[:, None]
    i = np.arange(3)[None, :]
    angle = position / 10000 ** (2 * i / 6)
    np.testing.assert_allclose(encoded[0, :, 0::2], np.sin(angle), atol=1e-6)
    np.testing.assert_allclose(encoded[1, :, 1::2], np.cos(angle), atol=1e-6)
    assert _sinusoidal_table(16, 6) is _sinusoidal_table(16, 6)
    with pytest.raises(ValueError, match="max_length"):
        encoder(jnp.zeros((1, 17, 6)))


def test_learnable_position_encoder_adds_one_vector_per_position() -> None:
    encoder = LearnablePositionEncoder(4, max_length=8, rngs=0)
    inputs = jnp.ones((2, 3, 4))
    table = np.asarray(encoder.embedding.embedding[...])
    np.testing.assert_allclose(np.asarray(encoder(inputs)), 1.0 + np.broadcast_to(table[:3], (2, 3, 4)), atol=1e-6)
    with pytest.raises(ValueError, match="features=4"):
        encoder(jnp.ones((2, 3, 5)))




def test_docstring_examples_run() -> None:
    result = doctest.testmod(position_encoders, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
