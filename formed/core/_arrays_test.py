"""Tests for formed.core._arrays."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from formed.core._arrays import determine_ndim, ensure_jax_array


def test_ensure_jax_array_converts_and_passes_through():
    array = jnp.ones(3)
    assert ensure_jax_array(array) is array
    converted = ensure_jax_array(np.arange(4))
    assert isinstance(converted, jax.Array)
    np.testing.assert_array_equal(converted, np.arange(4))
    assert isinstance(ensure_jax_array([1.0, 2.0]), jax.Array)


def test_determine_ndim_follows_the_chain():
    assert determine_ndim(8) == 8
    assert determine_ndim(8, None) == 8
    assert determine_ndim(8, 16) == 16
    assert determine_ndim(8, lambda d: d * 2) == 16
    assert determine_ndim(8, 32, None, lambda d: d * 3, 5) == 5
    assert determine_ndim(8, 32, None, lambda d: d * 3) == 96


def test_determine_ndim_needs_a_concrete_start():
    with pytest.raises(ValueError, match="concrete input dimension"):
        determine_ndim(None, 3)
    with pytest.raises(ValueError):
        determine_ndim(lambda d: d, 3)
