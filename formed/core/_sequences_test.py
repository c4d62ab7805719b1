"""Tests for formed.core._sequences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from formed.core._sequences import sequence_distribute, sequence_undistribute


def test_array_round_trip():
    x = jnp.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    folded, shape = sequence_distribute(x)
    assert folded.shape == (6, 4, 5)
    assert shape == (2, 3)
    np.testing.assert_array_equal(folded[4], x[1, 1])
    np.testing.assert_array_equal(sequence_undistribute(folded, shape), x)


def test_mapping_round_trip_with_ignored_keys():
    inputs = {"ids": jnp.zeros((2, 3, 4), jnp.int32), "mask": jnp.ones((2, 3, 4), bool), "meta": jnp.arange(7)}
    folded, shape = sequence_distribute(inputs, ignore=["meta"])
    assert folded["ids"].shape == (6, 4) and folded["mask"].shape == (6, 4)
    assert folded["meta"] is inputs["meta"]
    restored = sequence_undistribute(folded, shape, ignore=["meta"])
    assert restored["ids"].shape == (2, 3, 4)


def test_works_under_jit():
    @jax.jit
    def double_fold(x):
        folded, shape = sequence_distribute(x)
        return sequence_undistribute(folded * 2, shape)

    x = jnp.ones((2, 3, 4))
    np.testing.assert_array_equal(double_fold(x), x * 2)


def test_errors():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        sequence_distribute(jnp.ones(3))
    with pytest.raises(ValueError, match="leading shape"):
        sequence_distribute({"a": jnp.ones((2, 3)), "b": jnp.ones((3, 3))})
    with pytest.raises(ValueError, match="cannot unfold"):
        sequence_undistribute(jnp.ones((5, 2)), (2, 3))
