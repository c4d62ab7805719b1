"""Pooling a sequence of vectors into one vector, honouring a padding mask.

Every method reads only the positions where the mask is true: whatever sits in padded positions
(zeros, garbage, even NaN) never changes a result, and a sequence with no real position pools to
zeros. Everything is shape-static, so it runs under `jax.jit` and differentiates cleanly.
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence, cast, get_args

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

PoolingMethod = Literal["mean", "max", "min", "sum", "hier", "first", "last"]
POOLING_METHODS: tuple[str, ...] = get_args(PoolingMethod)

_NORM_EPS = 1e-12


def _masked(embeddings: jax.Array, mask: jax.Array, fill: float = 0.0) -> jax.Array:
    return jnp.where(mask[..., None], embeddings, jnp.asarray(fill, embeddings.dtype))


def _has_any(mask: jax.Array) -> jax.Array:
    return jnp.any(mask, axis=-1)[..., None]


def _sum(embeddings: jax.Array, mask: jax.Array, window_size: int | None) -> jax.Array:
    return _masked(embeddings, mask).sum(axis=-2)


def _mean(embeddings: jax.Array, mask: jax.Array, window_size: int | None) -> jax.Array:
    count = mask.sum(axis=-1, keepdims=True).astype(embeddings.dtype)
    return _sum(embeddings, mask, window_size) / jnp.maximum(count, 1.0)


def _extreme(reduce: Callable[..., jax.Array], fill: float) -> Callable[[jax.Array, jax.Array, int | None], jax.Array]:
    def pool(embeddings: jax.Array, mask: jax.Array, window_size: int | None) -> jax.Array:
        pooled = reduce(_masked(embeddings, mask, fill), axis=-2)
        return jnp.where(_has_any(mask), pooled, jnp.zeros_like(pooled))

    return pool


def _at(embeddings: jax.Array, mask: jax.Array, index: jax.Array) -> jax.Array:
    picked = jnp.take_along_axis(embeddings, index[..., None, None], axis=-2)[..., 0, :]
    return jnp.where(_has_any(mask), picked, jnp.zeros_like(picked))


def _first(embeddings: jax.Array, mask: jax.Array, window_size: int | None) -> jax.Array:
    return _at(embeddings, mask, jnp.argmax(mask, axis=-1))


def _last(embeddings: jax.Array, mask: jax.Array, window_size: int | None) -> jax.Array:
    length = mask.shape[-1]
    return _at(embeddings, mask, length - 1 - jnp.argmax(mask[..., ::-1], axis=-1))


def _hier(embeddings: jax.Array, mask: jax.Array, window_size: int | None) -> jax.Array:
    """Hierarchical pooling (Shen et al., 2018): mean over each window of `window_size`
    consecutive real tokens, then max over windows. A sequence shorter than the window is one
    window: the mean of all its tokens."""
    if window_size is None or window_size < 1:
        raise ValueError(f"hier pooling needs a positive window_size, got {window_size!r}")
    length = mask.shape[-1]
    values = _masked(embeddings, mask)
    counts = mask.astype(embeddings.dtype)
    pad = [(0, 0)] * (values.ndim - 2) + [(0, window_size - 1), (0, 0)]
    values = jnp.pad(values, pad)
    counts = jnp.pad(counts, pad[:-1])
    # Window i covers positions [i, i + window_size); summing shifted slices keeps it exact.
    window_sum = sum((values[..., k : k + length, :] for k in range(1, window_size)), values[..., :length, :])
    window_count = sum((counts[..., k : k + length] for k in range(1, window_size)), counts[..., :length])
    total = mask.sum(axis=-1, keepdims=True).astype(embeddings.dtype)
    # A window counts when it is full of real tokens (or holds all of a short sequence).
    valid = (window_count == jnp.minimum(total, window_size)) & (window_count > 0)
    window_mean = window_sum / jnp.maximum(window_count, 1.0)[..., None]
    return _extreme(jnp.max, float(jnp.finfo(embeddings.dtype).min))(window_mean, valid, None)


_POOLERS: dict[str, Callable[[jax.Array, jax.Array, int | None], jax.Array]] = {
    "mean": _mean,
    "max": _extreme(jnp.max, float("-inf")),
    "min": _extreme(jnp.min, float("inf")),
    "sum": _sum,
    "hier": _hier,
    "first": _first,
    "last": _last,
}


def pooling_methods(pooling: str | Sequence[str]) -> list[PoolingMethod]:
    """Normalises a pooling argument to a list of method names, checking each.

    Raises:
        ValueError: for an unknown method, naming the accepted ones.
    """
    methods = [pooling] if isinstance(pooling, str) else list(pooling)
    if not methods:
        raise ValueError("pooling needs at least one method")
    for method in methods:
        if method not in _POOLERS:
            raise ValueError(f"unknown pooling method {method!r}; expected one of {list(POOLING_METHODS)}")
    return cast("list[PoolingMethod]", methods)


def masked_pool(
    embeddings: ArrayLike,
    mask: ArrayLike | None = None,
    pooling: PoolingMethod | Sequence[PoolingMethod] = "mean",
    normalize: bool = False,
    window_size: int | None = None,
) -> jax.Array:
    """Pools ``(..., seq_len, dim)`` embeddings over the sequence axis.

    Args:
        embeddings: array of shape ``(batch_size, seq_len, dim)`` (any number of leading axes).
        mask: boolean array of shape ``(batch_size, seq_len)``; true marks real positions.
            ``None`` means every position is real.
        pooling: one of ``mean``, ``max``, ``min``, ``sum``, ``first``, ``last``, ``hier``, or a
            list of them, whose results are concatenated along the last axis in that order.
        normalize: L2-normalise each embedding before pooling.
        window_size: window of ``hier`` pooling (required for it).

    Returns:
        Array of shape ``(batch_size, dim * len(methods))``.
    """
    methods = pooling_methods(pooling)
    embeddings = jnp.asarray(embeddings)
    mask = jnp.ones(embeddings.shape[:-1], dtype=bool) if mask is None else jnp.asarray(mask).astype(bool)
    if mask.shape != embeddings.shape[:-1]:
        raise ValueError(f"mask shape {mask.shape} does not match embeddings shape {embeddings.shape} (expected {embeddings.shape[:-1]})")
    if "hier" in methods and (window_size is None or window_size < 1):
        raise ValueError(f"hier pooling needs a positive window_size, got {window_size!r}")
    if normalize:
        squared = jnp.sum(jnp.square(_masked(embeddings, mask)), axis=-1, keepdims=True)
        # max() before sqrt keeps the gradient finite for zero vectors.
        embeddings = embeddings / jnp.sqrt(jnp.maximum(squared, _NORM_EPS**2))
    outputs = [_POOLERS[method](embeddings, mask, window_size) for method in methods]
    return outputs[0] if len(outputs) == 1 else jnp.concatenate(outputs, axis=-1)
