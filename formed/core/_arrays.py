"""Small helpers for arrays and layer dimensions."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

Dimension = int | Callable[[int], int] | None


def ensure_jax_array(x: Any) -> jax.Array:
    """Returns `x` as a `jax.Array`: arrays pass through, numpy arrays and lists are converted."""
    if isinstance(x, jax.Array):
        return x
    return jnp.asarray(np.asarray(x) if not isinstance(x, np.ndarray) else x)


def determine_ndim(first: Dimension, *args: Dimension) -> int:
    """Follows a feature dimension through a chain of layers.

    `first` is the input dimension. Each following argument is a layer's output dimension as its
    ``get_output_dim()`` reports it: an int replaces the current dimension, a callable maps it
    (e.g. a pooling that concatenates two methods doubles it), and ``None`` leaves it unchanged
    (a layer that is absent or dimension-preserving).

    An embedder of 16 features, a bidirectional encoder of 32 per direction, an absent layer and
    a pooling that concatenates two methods:

    >>> determine_ndim(16, 64, None, lambda dim: 2 * dim)
    128

    Raises:
        ValueError: if the starting dimension is unknown (``None`` or a callable).
    """
    if first is None or callable(first):
        raise ValueError(
            f"determine_ndim needs a concrete input dimension first, got {first!r}; "
            "start from a layer with a fixed output size such as an embedder"
        )
    dimension = int(first)
    for arg in args:
        if arg is None:
            continue
        dimension = int(arg(dimension)) if callable(arg) else int(arg)
    return dimension
