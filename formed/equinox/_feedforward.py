"""`FeedForward`: a stack of dense layers of one width, on the last axis of ``(..., features)``."""

from __future__ import annotations

from typing import Callable, Literal

import equinox as eqx
import jax
import jax.numpy as jnp

from formed.core import Registrable
from formed.equinox._keys import KeyLike, resolve_key, split_key
from formed.equinox._vectors import over_vectors

ResidualConnection = Literal["none", "dense"]


class FeedForward(eqx.Module, Registrable):
    """Blocks ``layer_norm(dropout(activation(linear(x)) + shortcut))`` of width `features`.

    Registered as ``"feedforward"`` (the default): the same config keys as the Flax
    ``FeedForward``.

    Args:
        features: width of the input, of every layer and of the output.
        num_layers: number of blocks.
        dropout: dropout rate after each activation (needs a ``key`` in training).
        layer_norm_eps: epsilon of a layer norm closing each block; ``None``: no layer norm.
        activation: elementwise activation, ReLU by default.
        residual_connection: ``"none"``, or ``"dense"``: block ``k`` also adds the sum of the
            inputs of blocks ``0 .. k-1``.
        key: a PRNG key or int seed; ``None`` draws from the current ``use_rngs`` generator.

    >>> import jax.numpy as jnp
    >>> FeedForward(features=8, num_layers=2, key=0)(jnp.ones((2, 5, 8))).shape
    (2, 5, 8)
    """

    default_implementation = "feedforward"

    linears: tuple[eqx.nn.Linear, ...]
    norms: tuple[eqx.nn.LayerNorm, ...] | None
    dropout: eqx.nn.Dropout
    activation: Callable[[jax.Array], jax.Array] = eqx.field(static=True)
    features: int = eqx.field(static=True)
    residual_connection: str = eqx.field(static=True)

    def __init__(
        self,
        features: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        layer_norm_eps: float | None = None,
        activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
        residual_connection: ResidualConnection = "none",
        *,
        key: KeyLike | None = None,
    ) -> None:
        if residual_connection not in ("none", "dense"):
            raise ValueError(f"residual_connection must be 'none' or 'dense', got {residual_connection!r}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        keys = jax.random.split(resolve_key(key), num_layers)
        self.features = features
        self.residual_connection = residual_connection
        self.activation = activation
        self.linears = tuple(eqx.nn.Linear(features, features, key=k) for k in keys)
        self.norms = (
            None if layer_norm_eps is None else tuple(eqx.nn.LayerNorm(features, eps=layer_norm_eps) for _ in keys)
        )
        self.dropout = eqx.nn.Dropout(dropout)

    def __call__(self, x: jax.Array, *, key: jax.Array | None = None) -> jax.Array:
        """Maps ``(..., features)`` to ``(..., features)``; `key` drives dropout."""
        if x.shape[-1] != self.features:
            raise ValueError(f"FeedForward expects inputs with last axis {self.features}, got shape {x.shape}")
        shortcut = jnp.zeros_like(x) if self.residual_connection == "dense" else None
        for i, (linear, k) in enumerate(zip(self.linears, split_key(key, len(self.linears)))):
            h = self.activation(over_vectors(linear, x))
            if shortcut is not None:
                h = h + shortcut
                shortcut = shortcut + x
            h = self.dropout(h, key=k)
            if self.norms is not None:
                h = over_vectors(self.norms[i], h)
            x = h
        return x

    def get_input_dim(self) -> int:
        return self.features

    def get_output_dim(self) -> int:
        return self.features


FeedForward.register("feedforward")(FeedForward)
