"""Feed-forward networks: a `Block` (dense, activation, dropout, layer norm) and a stack of them.

Both act on the last axis only, so inputs may have any leading shape: ``(..., features)``.
"""

from __future__ import annotations

from typing import Callable, Literal

import jax
import jax.numpy as jnp
from flax import nnx

from formed.core import Registrable, RngsLike, resolve_rngs

ResidualConnection = Literal["none", "dense"]


class Block(nnx.Module):
    """One feed-forward layer: ``layer_norm(dropout(activation(linear(x)) + r))``.

    Args:
        input_dim: size of the last axis of the input.
        output_dim: size of the last axis of the output.
        dropout: dropout rate after the activation (0 disables it).
        layer_norm_eps: epsilon of a final layer norm; ``None`` means no layer norm.
        activation: elementwise activation, ReLU by default.
        rngs: an int seed, an `nnx.Rngs`, or ``None`` for the current `use_rngs` generator.

    >>> block = Block(8, 16, dropout=0.1, rngs=0)
    >>> block(jnp.ones((2, 8))).shape
    (2, 16)
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        dropout: float = 0.0,
        layer_norm_eps: float | None = None,
        activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
        rngs: RngsLike | None = None,
    ) -> None:
        rngs = resolve_rngs(rngs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.linear = nnx.Linear(input_dim, output_dim, rngs=rngs)
        self.activation = activation
        self.dropout = nnx.Dropout(dropout, rngs=rngs)
        self.layer_norm = (
            nnx.LayerNorm(output_dim, epsilon=layer_norm_eps, rngs=rngs) if layer_norm_eps is not None else None
        )

    def __call__(
        self,
        x: jax.Array,
        r: jax.Array | None = None,
        *,
        deterministic: bool | None = None,
        rngs: nnx.Rngs | None = None,
    ) -> jax.Array:
        """Maps ``(..., input_dim)`` to ``(..., output_dim)``; `r`, if given, is added before dropout.
        `rngs`, if given, draws this call's dropout mask instead of the block's own generator."""
        if x.shape[-1] != self.input_dim:
            raise ValueError(f"Block expects inputs with last axis {self.input_dim}, got shape {x.shape}")
        h = self.activation(self.linear(x))
        if r is not None:
            h = h + r
        h = self.dropout(h, deterministic=deterministic, rngs=rngs)
        if self.layer_norm is not None:
            h = self.layer_norm(h)
        return h


class FeedForward(nnx.Module, Registrable):
    """A stack of `Block` layers of width `features`, mapping ``(..., features)`` to the same shape.

    Registered as ``"feedforward"`` (and the default), so a config may give ``{"type": "feedforward"}``
    or leave the type out.

    Args:
        features: width of the input, of every layer and of the output.
        num_layers: number of blocks.
        dropout: dropout rate after each activation.
        layer_norm_eps: epsilon of a layer norm closing each block; ``None`` disables it.
        activation: elementwise activation, ReLU by default.
        residual_connection: ``"none"``, or ``"dense"``: block ``k`` also adds the sum of the
            inputs of blocks ``0 .. k-1`` (for ``k >= 1``), a DenseNet-style shortcut.
        rngs: an int seed, an `nnx.Rngs`, or ``None`` for the current `use_rngs` generator.

    >>> ffn = FeedForward(features=8, num_layers=3, dropout=0.1, rngs=0)
    >>> ffn(jnp.ones((2, 5, 8))).shape
    (2, 5, 8)
    """

    default_implementation = "feedforward"

    def __init__(
        self,
        features: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        layer_norm_eps: float | None = None,
        activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
        residual_connection: ResidualConnection = "none",
        rngs: RngsLike | None = None,
    ) -> None:
        if residual_connection not in ("none", "dense"):
            raise ValueError(f"residual_connection must be 'none' or 'dense', got {residual_connection!r}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        rngs = resolve_rngs(rngs)
        self.features = features
        self.num_layers = num_layers
        self.residual_connection = residual_connection
        self.blocks = nnx.List(
            [Block(features, features, dropout, layer_norm_eps, activation, rngs=rngs) for _ in range(num_layers)]
        )

    def __call__(
        self, x: jax.Array, *, deterministic: bool | None = None, rngs: nnx.Rngs | None = None
    ) -> jax.Array:
        """Applies the blocks in order to ``(..., features)`` inputs; `rngs`, if given, draws this
        call's dropout masks instead of the blocks' own generators."""
        dense = self.residual_connection == "dense"
        shortcut = jnp.zeros_like(x) if dense else None
        for block in self.blocks:
            output = block(x, shortcut, deterministic=deterministic, rngs=rngs)
            if shortcut is not None:
                shortcut = shortcut + x
            x = output
        return x

    def get_input_dim(self) -> int:
        return self.features

    def get_output_dim(self) -> int:
        return self.features


FeedForward.register("feedforward")(FeedForward)
