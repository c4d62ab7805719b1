"""Tests for formed/modules/_vectorizers.py against a plain numpy reference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from formed.core import ConfigurationError, PoolingMethod, determine_ndim, from_config
from formed.modules._vectorizers import BagOfEmbeddingsSequenceVectorizer, BaseSequenceVectorizer

LENGTHS = [3, 1, 5]


def _reference(x: np.ndarray, length: int, method: str, window: int = 2) -> np.ndarray:
    real = x[:length]
    if method == "mean":
        return real.mean(0)
    if method == "sum":
        return real.sum(0)
    if method == "max":
        return real.max(0)
    if method == "min":
        return real.min(0)
    if method == "first":
        return real[0]
    if method == "last":
        return real[-1]
    if method == "hier":
        if length <= window:
            return real.mean(0)
        return np.max([real[i : i + window].mean(0) for i in range(length - window + 1)], axis=0)
    raise AssertionError(method)


def _batch(seq_len: int, garbage_seed: int) -> tuple[np.ndarray, np.ndarray]:
    real = np.random.default_rng(0).normal(size=(3, 5, 4)).astype(np.float32)
    mask = np.arange(seq_len)[None, :] < np.array(LENGTHS)[:, None]
    garbage = 1e3 * np.random.default_rng(garbage_seed).normal(size=(3, seq_len, 4))
    x = np.where(mask[..., None], np.pad(real, ((0, 0), (0, seq_len - 5), (0, 0))), garbage).astype(np.float32)
    return x, mask


@pytest.mark.parametrize("method", ["mean", "max", "min", "sum", "first", "last", "hier"])
def test_each_pooling_matches_numpy_and_ignores_padding(method: PoolingMethod) -> None:
    vectorizer = BagOfEmbeddingsSequenceVectorizer(pooling=method, window_size=2)
    for seq_len, seed in ((5, 1), (8, 2)):
        x, mask = _batch(seq_len, seed)
        pooled = np.asarray(vectorizer(jnp.asarray(x), mask=jnp.asarray(mask)))
        expected = np.stack([_reference(x[i], LENGTHS[i], method) for i in range(3)])
        np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-5)


def test_mean_that_divides_the_unmasked_sum_is_caught() -> None:
    # The known failure mode: sum over all positions (padding included) divided by the length.
    x, mask = _batch(6, garbage_seed=3)
    buggy = x.sum(1) / mask.sum(1, keepdims=True)
    expected = np.stack([_reference(x[i], LENGTHS[i], "mean") for i in range(3)])
    assert not np.allclose(buggy, expected, atol=1e-3)
    pooled = BagOfEmbeddingsSequenceVectorizer("mean")(jnp.asarray(x), mask=jnp.asarray(mask))
    np.testing.assert_allclose(np.asarray(pooled), expected, rtol=1e-5, atol=1e-5)


def test_several_methods_concatenate_and_output_dim_follows() -> None:
    vectorizer = BagOfEmbeddingsSequenceVectorizer(pooling=["mean", "max"], normalize=False)
    x, mask = _batch(5, 1)
    pooled = np.asarray(vectorizer(jnp.asarray(x), jnp.asarray(mask)))
    assert pooled.shape == (3, 8)
    np.testing.assert_allclose(pooled[:, 4:], np.stack([_reference(x[i], LENGTHS[i], "max") for i in range(3)]), atol=1e-5)
    assert vectorizer.get_input_dim() is None
    assert determine_ndim(4, vectorizer.get_output_dim()) == 8


def test_normalize_pools_unit_vectors() -> None:
    x, mask = _batch(5, 1)
    pooled = np.asarray(BagOfEmbeddingsSequenceVectorizer("max", normalize=True)(jnp.asarray(x), jnp.asarray(mask)))
    unit = x / np.linalg.norm(x, axis=-1, keepdims=True)
    np.testing.assert_allclose(pooled, np.stack([unit[i, : LENGTHS[i]].max(0) for i in range(3)]), atol=1e-5)


def test_no_mask_means_every_position_is_real() -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(BagOfEmbeddingsSequenceVectorizer("mean")(jnp.asarray(x))), x.mean(1), atol=1e-6)


def test_jit_and_finite_gradients_for_all_methods_with_an_empty_row() -> None:
    vectorizer = BagOfEmbeddingsSequenceVectorizer(
        pooling=["mean", "max", "min", "sum", "first", "last", "hier"], normalize=True, window_size=2
    )
    x, mask = _batch(6, 4)
    mask[1] = False
    eager = vectorizer(jnp.asarray(x), jnp.asarray(mask))
    jitted = nnx.jit(lambda v, a, m: v(a, mask=m))(vectorizer, jnp.asarray(x), jnp.asarray(mask))
    via_jax = jax.jit(lambda a, m: vectorizer(a, mask=m))(jnp.asarray(x), jnp.asarray(mask))
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), atol=1e-5)
    np.testing.assert_allclose(np.asarray(via_jax), np.asarray(eager), atol=1e-5)
    assert np.all(np.asarray(eager)[1] == 0.0)
    grads = jax.jit(jax.grad(lambda a: jnp.sum(vectorizer(a, mask=jnp.asarray(mask)) ** 2)))(jnp.asarray(x))
    grads = np.asarray(grads)
    assert np.all(np.isfinite(grads))
    assert np.all(grads[~mask] == 0.0)


def test_builds_from_config_under_both_names_and_rejects_bad_settings() -> None:
    boe = from_config(BaseSequenceVectorizer, {"type": "boe", "pooling": ["mean", "hier"], "window_size": 3})
    long_name = from_config(BaseSequenceVectorizer, {"type": "bag_of_embeddings", "pooling": "last"})
    assert isinstance(boe, BagOfEmbeddingsSequenceVectorizer) and boe.pooling == ("mean", "hier")
    assert isinstance(long_name, BagOfEmbeddingsSequenceVectorizer)
    with pytest.raises(ValueError, match="window_size"):
        BagOfEmbeddingsSequenceVectorizer("hier")
    with pytest.raises(ValueError, match="unknown pooling"):
        BagOfEmbeddingsSequenceVectorizer("median")  # type: ignore[arg-type]  # the unknown name is the point
    with pytest.raises(ConfigurationError, match="pooling"):
        from_config(BaseSequenceVectorizer, {"type": "boe", "pooling": "median"})
