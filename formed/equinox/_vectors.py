"""Applying Equinox's per-example layers to batches.

Equinox layers map one vector (``eqx.nn.Linear``: ``(in,) -> (out,)``, ``eqx.nn.LayerNorm``)
and leave batching to `jax.vmap`. Text batches have two leading axes, ``(batch, seq_len, dim)``.
"""

from __future__ import annotations

from typing import Callable

import jax


def over_vectors(layer: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
    """Applies a ``(dim,) -> (out,)`` layer to every vector of ``(..., dim)``: ``(..., out)``.

    >>> import equinox as eqx, jax.numpy as jnp
    >>> linear = eqx.nn.Linear(4, 3, key=jax.random.key(0))
    >>> over_vectors(linear, jnp.ones((2, 5, 4))).shape
    (2, 5, 3)
    """
    leading = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    out = jax.vmap(layer)(flat)
    return out.reshape(*leading, out.shape[-1])
