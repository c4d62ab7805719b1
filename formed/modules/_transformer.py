"""The Transformer encoder: multi-head self-attention over real tokens only, plus feed-forward,
with an optional position encoder (`formed.modules._position_encoders`). The masking contract is
`formed.modules._sequence_encoder`'s.
"""

from __future__ import annotations

from typing import Callable

import jax
from flax import nnx

from formed.core import RngsLike, resolve_rngs
from formed.modules._position_encoders import BasePositionEncoder
from formed.modules._sequence_encoder import BaseSequenceEncoder, check_encoder_inputs, zero_padding

Activation = Callable[[jax.Array], jax.Array]


class _TransformerLayer(nnx.Module):
    """Self-attention and a feed-forward sublayer, each with a residual connection and layer norm
    (after the residual by default, before the sublayer with ``pre_norm``)."""

    def __init__(
        self,
        features: int,
        num_heads: int,
        dropout: float,
        epsilon: float,
        feedforward_features: int,
        activation: Activation,
        pre_norm: bool,
        rngs: nnx.Rngs,
    ) -> None:
        self.attention = nnx.MultiHeadAttention(
            num_heads, features, features, features, dropout_rate=dropout, deterministic=False, decode=False, rngs=rngs
        )
        self.hidden = nnx.Linear(features, feedforward_features, rngs=rngs)
        self.output = nnx.Linear(feedforward_features, features, rngs=rngs)
        self.activation = activation
        self.attention_norm = nnx.LayerNorm(features, epsilon=epsilon, rngs=rngs)
        self.feedforward_norm = nnx.LayerNorm(features, epsilon=epsilon, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)
        self.pre_norm = pre_norm

    def _attend(
        self, x: jax.Array, attention_mask: jax.Array | None, deterministic: bool | None, rngs: nnx.Rngs | None
    ) -> jax.Array:
        y = self.attention(x, mask=attention_mask, deterministic=deterministic, rngs=rngs)
        return self.dropout(y, deterministic=deterministic, rngs=rngs)

    def _feedforward(self, x: jax.Array, deterministic: bool | None, rngs: nnx.Rngs | None) -> jax.Array:
        y = self.output(self.dropout(self.activation(self.hidden(x)), deterministic=deterministic, rngs=rngs))
        return self.dropout(y, deterministic=deterministic, rngs=rngs)

    def __call__(
        self, x: jax.Array, attention_mask: jax.Array | None, deterministic: bool | None, rngs: nnx.Rngs | None
    ) -> jax.Array:
        if self.pre_norm:
            x = x + self._attend(self.attention_norm(x), attention_mask, deterministic, rngs)
            return x + self._feedforward(self.feedforward_norm(x), deterministic, rngs)
        x = self.attention_norm(x + self._attend(x, attention_mask, deterministic, rngs))
        return self.feedforward_norm(x + self._feedforward(x, deterministic, rngs))


@BaseSequenceEncoder.register("transformer")
class TransformerSequenceEncoder(BaseSequenceEncoder):
    """Transformer encoder: multi-head self-attention over real tokens only, plus feed-forward.

    Args:
        features: model size (input and output); divisible by `num_heads`.
        num_heads: attention heads.
        num_layers: stacked layers.
        dropout: dropout on attention weights, sublayer outputs and the feed-forward hidden layer.
        epsilon: layer norm epsilon.
        feedforward_features: feed-forward hidden size, ``4 * features`` by default.
        activation: feed-forward activation, GELU by default.
        position_encoder: added to the inputs first, e.g. `SinusoidalPositionEncoder`.
        pre_norm: layer norm before each sublayer (and once at the end) instead of after each
            residual (the default, post-norm, as in the original Transformer).
        rngs: an int seed, an `nnx.Rngs`, or ``None`` for the current `use_rngs` generator.

    Example:

    >>> import jax.numpy as jnp
    >>> from formed.modules._position_encoders import SinusoidalPositionEncoder
    >>> encoder = TransformerSequenceEncoder(16, 4, num_layers=2, position_encoder=SinusoidalPositionEncoder(), rngs=0)
    >>> encoder(jnp.ones((2, 5, 16)), jnp.ones((2, 5), bool)).shape
    (2, 5, 16)
    """

    def __init__(
        self,
        features: int,
        num_heads: int,
        *,
        num_layers: int = 1,
        dropout: float = 0.0,
        epsilon: float = 1e-6,
        feedforward_features: int | None = None,
        activation: Activation = jax.nn.gelu,
        position_encoder: BasePositionEncoder | None = None,
        pre_norm: bool = False,
        rngs: RngsLike | None = None,
    ) -> None:
        if features % num_heads != 0:
            raise ValueError(f"features={features} must be divisible by num_heads={num_heads}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        hidden = feedforward_features or 4 * features
        rngs = resolve_rngs(rngs)
        self.features = features
        self.num_layers = num_layers
        self.pre_norm = pre_norm
        self.position_encoder = position_encoder
        self.layers = nnx.List(
            [
                _TransformerLayer(features, num_heads, dropout, epsilon, hidden, activation, pre_norm, rngs)
                for _ in range(num_layers)
            ]
        )
        self.final_norm = nnx.LayerNorm(features, epsilon=epsilon, rngs=rngs) if pre_norm else None

    def __call__(
        self,
        inputs: jax.Array,
        mask: jax.Array | None = None,
        *,
        deterministic: bool | None = None,
        rngs: nnx.Rngs | None = None,
    ) -> jax.Array:
        mask = check_encoder_inputs("TransformerSequenceEncoder", inputs, mask, self.features)
        h = inputs if self.position_encoder is None else self.position_encoder(inputs)
        h = zero_padding(h, mask)
        # (batch, 1, seq_len, seq_len): query i may attend to key j only if both are real.
        attention_mask = None if mask is None else nnx.make_attention_mask(mask, mask)
        for layer in self.layers:
            h = layer(h, attention_mask, deterministic, rngs)
        if self.final_norm is not None:
            h = self.final_norm(h)
        return zero_padding(h, mask)

    def get_input_dim(self) -> int:
        return self.features

    def get_output_dim(self) -> int:
        return self.features
