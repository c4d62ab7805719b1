"""Tests for formed/modules/_weighters.py against numpy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from formed.core import from_config
from formed.modules._weighters import (
    BalancedByDistributionLabelWeighter,
    BaseLabelWeighter,
    StaticLabelWeighter,
)

LOGITS = jnp.zeros((4, 3))
LABELS = jnp.array([0, 1, 2, 1])


def test_static_weights_are_returned_per_class() -> None:
    weighter = StaticLabelWeighter(weights=jnp.array([1.0, 2.0, 0.5]))
    weights = np.asarray(weighter(LOGITS, LABELS))
    assert weights.shape == (1, 3)
    np.testing.assert_allclose(weights[0], [1.0, 2.0, 0.5])


def test_balanced_weights_match_numpy() -> None:
    distribution = np.array([0.1, 0.6, 0.3])
    weights = np.asarray(BalancedByDistributionLabelWeighter(distribution, eps=1e-8)(LOGITS, LABELS))
    np.testing.assert_allclose(weights[0], 1.0 / (distribution * 3 + 1e-8), rtol=1e-6)
    uniform = np.asarray(BalancedByDistributionLabelWeighter([0.25] * 4)(jnp.zeros((2, 4)), jnp.array([0, 1])))
    np.testing.assert_allclose(uniform, np.ones((1, 4)), rtol=1e-6)
    unseen = np.asarray(BalancedByDistributionLabelWeighter([0.0, 1.0])(jnp.zeros((1, 2)), jnp.array([0])))
    assert np.all(np.isfinite(unseen)) and unseen[0, 0] > 1e6


def test_weights_are_not_trainable_params_and_work_under_jit() -> None:
    weighter = StaticLabelWeighter([1.0, 3.0])
    assert not jax.tree_util.tree_leaves(nnx.state(weighter, nnx.Param))
    assert jax.tree_util.tree_leaves(nnx.state(weighter))
    jitted = nnx.jit(lambda w, logits, labels: w(logits, labels))(weighter, jnp.zeros((2, 2)), jnp.array([0, 1]))
    np.testing.assert_allclose(np.asarray(jitted), [[1.0, 3.0]])


def test_build_from_config_with_plain_lists() -> None:
    static = from_config(BaseLabelWeighter, {"type": "static", "weights": [1, 2, 3]})
    balanced = from_config(BaseLabelWeighter, {"type": "balanced_by_distribution", "distribution": [0.5, 0.5], "eps": 0.0})
    assert isinstance(static, StaticLabelWeighter) and isinstance(balanced, BalancedByDistributionLabelWeighter)
    np.testing.assert_allclose(np.asarray(static(LOGITS, LABELS)), [[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(np.asarray(balanced(jnp.zeros((1, 2)), jnp.array([0]))), [[1.0, 1.0]])


def test_weights_must_be_one_dimensional() -> None:
    with pytest.raises(ValueError, match=r"1-D.*\(2, 2\)"):
        StaticLabelWeighter([[1.0, 2.0], [3.0, 4.0]])  # type: ignore[list-item]  # the 2-D table is the point
