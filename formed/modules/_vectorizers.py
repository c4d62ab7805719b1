"""Sequence vectorizers: ``(batch, seq_len, dim)`` plus a padding mask to ``(batch, dim')``."""

from __future__ import annotations

import abc
from typing import Callable, Sequence

import jax
from flax import nnx

from formed.core import PoolingMethod, Registrable, masked_pool, pooling_methods


class BaseSequenceVectorizer(nnx.Module, Registrable, abc.ABC):
    """Turns a variable-length sequence of vectors into one vector, reading only real positions."""

    @abc.abstractmethod
    def __call__(self, inputs: jax.Array, mask: jax.Array | None = None) -> jax.Array:
        """Pools ``(batch, seq_len, dim)`` inputs under a ``(batch, seq_len)`` mask to ``(batch, dim')``."""

    @abc.abstractmethod
    def get_input_dim(self) -> int | None:
        """The input feature size, or ``None`` if any size works."""

    @abc.abstractmethod
    def get_output_dim(self) -> int | Callable[[int], int]:
        """The output feature size, or a function from input size to output size."""


@BaseSequenceVectorizer.register("boe")
@BaseSequenceVectorizer.register("bag_of_embeddings")
class BagOfEmbeddingsSequenceVectorizer(BaseSequenceVectorizer):
    """Bag of embeddings: masked pooling over the sequence axis (see `formed.core.masked_pool`).

    Args:
        pooling: ``mean``, ``max``, ``min``, ``sum``, ``first``, ``last`` (last real token),
            ``hier`` (max over means of ``window_size`` consecutive tokens), or a list of them,
            whose results are concatenated in order.
        normalize: L2-normalise each vector before pooling.
        window_size: window of ``hier`` pooling (required for it).

    Padded positions never affect the result, and a sequence with no real token pools to zeros.

    >>> import jax.numpy as jnp
    >>> vectorizer = BagOfEmbeddingsSequenceVectorizer(pooling=["mean", "max"])
    >>> embeddings, mask = jnp.ones((2, 3, 4)), jnp.array([[True, True, False], [True, False, False]])
    >>> vectorizer(embeddings, mask=mask).shape  # (batch, 2 * dim)
    (2, 8)
    """

    def __init__(
        self,
        pooling: PoolingMethod | Sequence[PoolingMethod] = "mean",
        normalize: bool = False,
        window_size: int | None = None,
    ) -> None:
        methods = pooling_methods(pooling)
        if "hier" in methods and (window_size is None or window_size < 1):
            raise ValueError(f"pooling 'hier' needs a positive window_size, got {window_size!r}")
        self.pooling: tuple[PoolingMethod, ...] = tuple(methods)
        self.normalize = normalize
        self.window_size = window_size

    def __call__(self, inputs: jax.Array, mask: jax.Array | None = None) -> jax.Array:
        """Pools ``(batch, seq_len, dim)`` to ``(batch, dim * len(pooling))``."""
        return masked_pool(
            inputs,
            mask=mask,
            pooling=list(self.pooling),
            normalize=self.normalize,
            window_size=self.window_size,
        )

    def get_input_dim(self) -> int | None:
        return None

    def get_output_dim(self) -> Callable[[int], int]:
        num_methods = len(self.pooling)
        return lambda input_dim: input_dim * num_methods
