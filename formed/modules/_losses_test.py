"""Tests for formed/modules/_losses.py against numpy."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from formed.core import from_config
from formed.modules._losses import BaseClassificationLoss, CrossEntropyLoss
from formed.modules._weighters import BalancedByDistributionLabelWeighter, BaseLabelWeighter, StaticLabelWeighter

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(6, 4)).astype(np.float32)
LABELS = np.array([0, 3, 1, 1, 2, 0])


def _nll(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


def test_unweighted_mean_and_sum_match_numpy() -> None:
    nll = _nll(LOGITS, LABELS)
    np.testing.assert_allclose(float(CrossEntropyLoss()(LOGITS, LABELS)), nll.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(CrossEntropyLoss(reduce="sum")(LOGITS, LABELS)), nll.sum(), rtol=1e-5)


def test_weighted_mean_divides_by_the_sum_of_weights() -> None:
    class_weights = np.array([1.0, 2.0, 0.5, 4.0], np.float32)
    weights = class_weights[LABELS]
    nll = _nll(LOGITS, LABELS)
    loss = CrossEntropyLoss(weighter=StaticLabelWeighter(class_weights))
    expected = (weights * nll).sum() / weights.sum()
    np.testing.assert_allclose(float(loss(LOGITS, LABELS)), expected, rtol=1e-5)
    # Dividing by the batch size instead would be a different number here.
    assert not np.isclose(expected, (weights * nll).mean())
    summed = CrossEntropyLoss(weighter=StaticLabelWeighter(class_weights), reduce="sum")
    np.testing.assert_allclose(float(summed(LOGITS, LABELS)), (weights * nll).sum(), rtol=1e-5)


def test_balanced_weighter_in_a_loss() -> None:
    distribution = np.array([0.4, 0.3, 0.2, 0.1])
    weights = (1.0 / (distribution * 4 + 1e-8))[LABELS]
    loss = CrossEntropyLoss(weighter=BalancedByDistributionLabelWeighter(distribution))
    expected = (weights * _nll(LOGITS, LABELS)).sum() / weights.sum()
    np.testing.assert_allclose(float(loss(LOGITS, LABELS)), expected, rtol=1e-5)


class _PerExample(BaseLabelWeighter[Any]):
    def __call__(self, logits: jax.Array, labels: jax.Array, params: Any = None) -> jax.Array:
        return jnp.arange(1.0, labels.shape[0] + 1.0) * (1.0 if params is None else params)


class _PlainVector(BaseLabelWeighter[Any]):
    def __call__(self, logits: jax.Array, labels: jax.Array, params: Any = None) -> jax.Array:
        return jnp.array([1.0, 2.0, 0.5, 4.0])


def test_per_example_and_plain_vector_weights_and_params_reach_the_weighter() -> None:
    nll = _nll(LOGITS, LABELS)
    example_weights = np.arange(1.0, 7.0)
    loss = CrossEntropyLoss(weighter=_PerExample(), reduce="sum")
    np.testing.assert_allclose(float(loss(LOGITS, LABELS)), (example_weights * nll).sum(), rtol=1e-5)
    np.testing.assert_allclose(float(loss(LOGITS, LABELS, 2.0)), 2 * (example_weights * nll).sum(), rtol=1e-5)
    class_weights = np.array([1.0, 2.0, 0.5, 4.0])[LABELS]
    vector = CrossEntropyLoss(weighter=_PlainVector())
    np.testing.assert_allclose(float(vector(LOGITS, LABELS)), (class_weights * nll).sum() / class_weights.sum(), rtol=1e-5)


def test_jit_and_finite_gradients() -> None:
    loss = CrossEntropyLoss(weighter=StaticLabelWeighter([1.0, 2.0, 0.5, 4.0]))
    eager = loss(LOGITS, LABELS)
    jitted = nnx.jit(lambda m, x, y: m(x, y))(loss, jnp.asarray(LOGITS), jnp.asarray(LABELS))
    np.testing.assert_allclose(float(jitted), float(eager), rtol=1e-6)
    extreme = jnp.asarray(LOGITS) * 1e4
    grads = jax.jit(jax.grad(lambda x: loss(x, jnp.asarray(LABELS))))(extreme)
    assert np.all(np.isfinite(np.asarray(grads)))


def test_errors_and_config() -> None:
    with pytest.raises(ValueError, match="reduce"):
        CrossEntropyLoss(reduce="max")  # type: ignore[arg-type]  # the unknown reduction is the point
    with pytest.raises(ValueError, match=r"\(5,\).*\(6, 4\)"):
        CrossEntropyLoss()(LOGITS, LABELS[:5])
    loss = from_config(
        BaseClassificationLoss,
        {"type": "cross_entropy", "reduce": "sum", "weighter": {"type": "static", "weights": [1.0, 1.0, 1.0, 1.0]}},
    )
    assert isinstance(loss, CrossEntropyLoss) and isinstance(loss.weighter, StaticLabelWeighter)
    np.testing.assert_allclose(float(loss(LOGITS, LABELS)), _nll(LOGITS, LABELS).sum(), rtol=1e-5)
