"""Position encoders: add position information to embeddings, ``(..., seq_len, features)`` to the
same shape. The Transformer encoder takes one as its ``position_encoder``."""

from __future__ import annotations

import abc
import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from formed.core import Registrable, RngsLike, resolve_rngs


class BasePositionEncoder(nnx.Module, Registrable, abc.ABC):
    """Adds position information to embeddings: ``(..., seq_len, features)`` to the same shape."""

    @abc.abstractmethod
    def __call__(self, inputs: jax.Array) -> jax.Array:
        """Returns ``inputs`` plus an encoding of each position."""


@functools.lru_cache(maxsize=32)
def _sinusoidal_table(max_length: int, features: int) -> np.ndarray:
    """The ``(max_length, features)`` table of "Attention Is All You Need": even columns
    ``sin(p / 10000^(2i/features))``, odd columns the matching cosine."""
    positions = np.arange(max_length, dtype=np.float64)[:, None]
    rates = 1.0 / np.power(10000.0, np.arange(0, features, 2, dtype=np.float64) / features)
    angles = positions * rates[None, :]
    table = np.zeros((max_length, features), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : features // 2])
    table.setflags(write=False)
    return table.astype(np.float32)


def _check_length(name: str, inputs: jax.Array, max_length: int) -> int:
    if inputs.ndim < 2:
        raise ValueError(f"{name} expects inputs of shape (..., seq_len, features), got {inputs.shape}")
    seq_len = inputs.shape[-2]
    if seq_len > max_length:
        raise ValueError(f"{name}: sequence length {seq_len} exceeds max_length={max_length}; raise max_length")
    return seq_len


@BasePositionEncoder.register("sinusoidal")
class SinusoidalPositionEncoder(BasePositionEncoder):
    """Fixed sinusoidal position encodings; no parameters. Tables are cached per feature size.

    Args:
        max_length: the longest sequence supported.

    Example:

    >>> import jax.numpy as jnp
    >>> SinusoidalPositionEncoder(max_length=512)(jnp.zeros((2, 7, 16))).shape
    (2, 7, 16)
    """

    def __init__(self, max_length: int = 512) -> None:
        self.max_length = max_length

    def __call__(self, inputs: jax.Array) -> jax.Array:
        seq_len = _check_length("SinusoidalPositionEncoder", inputs, self.max_length)
        table = _sinusoidal_table(self.max_length, inputs.shape[-1])[:seq_len]
        return inputs + jnp.asarray(table, dtype=inputs.dtype)


@BasePositionEncoder.register("learnable")
class LearnablePositionEncoder(BasePositionEncoder):
    """Learned position embeddings, one vector per position.

    Args:
        features: embedding size; must match the inputs' last axis.
        max_length: the longest sequence supported.
        rngs: an int seed, an `nnx.Rngs`, or ``None`` for the current `use_rngs` generator.

    Example:

    >>> import jax.numpy as jnp
    >>> LearnablePositionEncoder(16, max_length=32, rngs=0)(jnp.zeros((2, 7, 16))).shape
    (2, 7, 16)
    """

    def __init__(self, features: int, *, max_length: int = 512, rngs: RngsLike | None = None) -> None:
        rngs = resolve_rngs(rngs)
        self.features = features
        self.max_length = max_length
        self.embedding = nnx.Embed(max_length, features, rngs=rngs)

    def __call__(self, inputs: jax.Array) -> jax.Array:
        seq_len = _check_length("LearnablePositionEncoder", inputs, self.max_length)
        if inputs.shape[-1] != self.features:
            raise ValueError(f"LearnablePositionEncoder has features={self.features}, got inputs of shape {inputs.shape}")
        return inputs + self.embedding(jnp.arange(seq_len))
