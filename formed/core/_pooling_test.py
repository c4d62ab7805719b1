"""Tests for formed.core._pooling.masked_pool against a plain numpy reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from formed.core._pooling import POOLING_METHODS, masked_pool, pooling_methods

WINDOW = 3


def reference_pool(embeddings: np.ndarray, mask: np.ndarray, method: str, window: int = WINDOW) -> np.ndarray:
    """One sequence at a time, looking only at the real positions."""
    rows = []
    for row, row_mask in zip(embeddings, mask):
        real = row[row_mask.astype(bool)]
        if len(real) == 0:
            rows.append(np.zeros(row.shape[-1]))
            continue
        if method == "mean":
            rows.append(real.mean(0))
        elif method == "sum":
            rows.append(real.sum(0))
        elif method == "max":
            rows.append(real.max(0))
        elif method == "min":
            rows.append(real.min(0))
        elif method == "first":
            rows.append(real[0])
        elif method == "last":
            rows.append(real[-1])
        elif method == "hier":
            if len(real) <= window:
                rows.append(real.mean(0))
            else:
                windows = [real[i : i + window].mean(0) for i in range(len(real) - window + 1)]
                rows.append(np.max(windows, axis=0))
    return np.stack(rows)


def make_batch(seed: int = 0, lengths=(5, 1, 0, 7, 2), max_len: int = 7, dim: int = 4):
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(len(lengths), max_len, dim)).astype(np.float32)
    mask = np.arange(max_len)[None, :] < np.asarray(lengths)[:, None]
    return embeddings, mask


@pytest.mark.parametrize("method", POOLING_METHODS)
def test_matches_numpy_reference(method):
    embeddings, mask = make_batch()
    got = masked_pool(embeddings, mask, pooling=method, window_size=WINDOW)
    np.testing.assert_allclose(np.asarray(got), reference_pool(embeddings, mask, method), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", POOLING_METHODS)
def test_padding_never_changes_the_result(method):
    embeddings, mask = make_batch()
    baseline = np.asarray(masked_pool(embeddings, mask, pooling=method, window_size=WINDOW))
    # Garbage (including NaN and inf) in the padded positions, and extra padding after them.
    garbage = np.where(mask[..., None], embeddings, np.float32(1e6))
    garbage[~mask] = np.nan
    garbage[0, -1] = np.inf
    longer = np.concatenate([garbage, np.full((5, 6, 4), -3e5, np.float32)], axis=1)
    longer_mask = np.concatenate([mask, np.zeros((5, 6), bool)], axis=1)
    for values, values_mask in ((garbage, mask), (longer, longer_mask)):
        got = np.asarray(masked_pool(values, values_mask, pooling=method, window_size=WINDOW))
        np.testing.assert_array_equal(got, baseline)


def test_mean_divides_by_the_number_of_real_positions():
    embeddings = np.ones((1, 4, 2), np.float32)
    mask = np.array([[True, True, False, False]])
    np.testing.assert_allclose(masked_pool(embeddings, mask, "mean"), [[1.0, 1.0]])


def test_no_mask_means_every_position_is_real():
    embeddings, _ = make_batch()
    np.testing.assert_allclose(masked_pool(embeddings, None, "mean"), embeddings.mean(1), rtol=1e-6)


def test_list_of_methods_concatenates_in_order():
    embeddings, mask = make_batch()
    got = masked_pool(embeddings, mask, pooling=["max", "mean"])
    assert got.shape == (5, 8)
    np.testing.assert_allclose(got[:, :4], reference_pool(embeddings, mask, "max"), rtol=1e-6)
    np.testing.assert_allclose(got[:, 4:], reference_pool(embeddings, mask, "mean"), rtol=1e-6)


def test_normalize_pools_unit_vectors():
    embeddings, mask = make_batch()
    got = masked_pool(embeddings, mask, pooling="max", normalize=True)
    unit = embeddings / np.linalg.norm(embeddings, axis=-1, keepdims=True)
    np.testing.assert_allclose(got, reference_pool(unit, mask, "max"), rtol=1e-5, atol=1e-6)


def test_extra_leading_axes():
    embeddings, mask = make_batch()
    stacked = np.stack([embeddings, embeddings[::-1]])
    stacked_mask = np.stack([mask, mask[::-1]])
    got = masked_pool(stacked, stacked_mask, "last")
    assert got.shape == (2, 5, 4)
    np.testing.assert_allclose(got[1], reference_pool(embeddings[::-1], mask[::-1], "last"), rtol=1e-6)


@pytest.mark.parametrize("method", POOLING_METHODS)
def test_jit_and_finite_gradients(method):
    embeddings, mask = make_batch()

    @jax.jit
    def loss(values):
        return jnp.sum(masked_pool(values, mask, pooling=method, normalize=True, window_size=WINDOW) ** 2)

    # Padded positions hold zero vectors: normalisation must not turn them into NaN gradients.
    values = jnp.where(mask[..., None], embeddings, 0.0)
    gradient = jax.grad(loss)(values)
    assert np.isfinite(np.asarray(gradient)).all()
    np.testing.assert_array_equal(np.asarray(gradient)[~mask], 0.0)


def test_errors_name_the_problem():
    embeddings, mask = make_batch()
    with pytest.raises(ValueError, match="unknown pooling method 'median'"):
        masked_pool(embeddings, mask, "median")  # type: ignore[arg-type]  # the unknown name is the point
    with pytest.raises(ValueError, match="window_size"):
        masked_pool(embeddings, mask, "hier")
    with pytest.raises(ValueError, match="mask shape"):
        masked_pool(embeddings, mask[:, :3], "mean")
    with pytest.raises(ValueError, match="at least one"):
        pooling_methods([])
