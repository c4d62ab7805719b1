"""Sequence vectorizers: ``(batch, seq_len, dim)`` under a mask to one vector per sequence."""

from __future__ import annotations

import abc
from typing import Callable, Sequence

import equinox as eqx
import jax

from formed.core import PoolingMethod, Registrable, masked_pool, pooling_methods


class BaseSequenceVectorizer(eqx.Module, Registrable):
    """Pools a sequence of vectors into one vector."""

    @abc.abstractmethod
    def __call__(self, inputs: jax.Array, mask: jax.Array | None = None, *, key: jax.Array | None = None) -> jax.Array:
        """Maps ``(batch, seq_len, dim)`` and a ``(batch, seq_len)`` mask to ``(batch, output_dim)``."""

    @abc.abstractmethod
    def get_output_dim(self) -> int | Callable[[int], int]:
        """The output size, or a function from input size to output size."""


@BaseSequenceVectorizer.register("boe")
@BaseSequenceVectorizer.register("bag_of_embeddings")
class BagOfEmbeddingsSequenceVectorizer(BaseSequenceVectorizer):
    """Bag of embeddings: `formed.core.masked_pool` over the sequence axis (no parameters).

    Args:
        pooling: ``mean``, ``max``, ``min``, ``sum``, ``first``, ``last``, ``hier`` or a list of
            them, concatenated in order (as the Flax ``boe`` vectorizer).
        normalize: L2-normalise each vector before pooling.
        window_size: window of ``hier`` pooling (required for it).

    >>> import jax.numpy as jnp
    >>> vectorizer = BagOfEmbeddingsSequenceVectorizer(pooling=["mean", "max"])
    >>> vectorizer(jnp.ones((2, 5, 8)), jnp.ones((2, 5), bool)).shape
    (2, 16)
    """

    pooling: tuple[PoolingMethod, ...] = eqx.field(static=True)
    normalize: bool = eqx.field(static=True)
    window_size: int | None = eqx.field(static=True)

    def __init__(
        self,
        pooling: PoolingMethod | Sequence[PoolingMethod] = "mean",
        normalize: bool = False,
        window_size: int | None = None,
    ) -> None:
        methods = pooling_methods(pooling)
        if "hier" in methods and (window_size is None or window_size < 1):
            raise ValueError(f"pooling 'hier' needs a positive window_size, got {window_size!r}")
        self.pooling = tuple(methods)
        self.normalize = normalize
        self.window_size = window_size

    def __call__(self, inputs: jax.Array, mask: jax.Array | None = None, *, key: jax.Array | None = None) -> jax.Array:
        return masked_pool(inputs, mask=mask, pooling=list(self.pooling), normalize=self.normalize, window_size=self.window_size)

    def get_output_dim(self) -> Callable[[int], int]:
        num_methods = len(self.pooling)
        return lambda input_dim: input_dim * num_methods
