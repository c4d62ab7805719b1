"""Sequence encoders ``(batch, seq_len, dim) -> (batch, seq_len, dim')`` and position encoders.

Every sequence encoder takes the padding mask and honours it: outputs at real positions do not
depend on what sits in padded positions or on how much padding follows, and padded positions of
the output are zeros. Masks are right-padded: each row is true for its first ``length`` positions.
Dropout follows nnx: active after ``module.train()``, off after ``module.eval()``; a call may
override this with ``deterministic=``.
"""

from __future__ import annotations

import abc
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from formed.core import Registrable, resolve_rngs
from formed.core.random import RngsLike
from formed.modules.feedforward import FeedForward

Activation = Callable[[jax.Array], jax.Array]


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

    Example::

        encoded = SinusoidalPositionEncoder(max_length=512)(embeddings)
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


class BaseSequenceEncoder(nnx.Module, Registrable, abc.ABC):
    """Contextualises each position of a sequence."""

    @abc.abstractmethod
    def __call__(
        self, inputs: jax.Array, mask: jax.Array | None = None, *, deterministic: bool | None = None
    ) -> jax.Array:
        """Encodes ``(batch, seq_len, input_dim)`` inputs under a ``(batch, seq_len)`` mask into
        ``(batch, seq_len, output_dim)``, zeros at padded positions."""

    @abc.abstractmethod
    def get_input_dim(self) -> int | None:
        """The input feature size, or ``None`` if any size works."""

    @abc.abstractmethod
    def get_output_dim(self) -> int | Callable[[int], int]:
        """The output feature size, or a function from input size to output size."""


def _zero_padding(x: jax.Array, mask: jax.Array | None) -> jax.Array:
    return x if mask is None else jnp.where(mask[..., None], x, jnp.zeros((), x.dtype))


def _check_inputs(name: str, inputs: jax.Array, mask: jax.Array | None, features: int) -> jax.Array | None:
    if inputs.ndim != 3 or inputs.shape[-1] != features:
        raise ValueError(f"{name} expects inputs of shape (batch, seq_len, {features}), got {inputs.shape}")
    if mask is None:
        return None
    mask = jnp.asarray(mask).astype(bool)
    if mask.shape != inputs.shape[:2]:
        raise ValueError(f"{name}: mask shape {mask.shape} does not match inputs {inputs.shape} (expected {inputs.shape[:2]})")
    return mask


class _RNNLayer(nnx.Module):
    """One recurrent layer: forward (and backward) RNN, an optional residual feed-forward, a
    projection back to `features` when bidirectional, then dropout."""

    def __init__(
        self,
        cell_factory: Callable[[nnx.Rngs], nnx.RNNCellBase],
        features: int,
        bidirectional: bool,
        feedforward_layers: int,
        dropout: float,
        rngs: nnx.Rngs,
    ) -> None:
        self.forward_rnn = nnx.RNN(cell_factory(rngs), rngs=rngs)
        # keep_order with seq_lengths reverses each sequence within its own length, so the
        # backward pass starts at that sequence's last real token rather than at padding.
        self.backward_rnn = (
            nnx.RNN(cell_factory(rngs), reverse=True, keep_order=True, rngs=rngs) if bidirectional else None
        )
        hidden = 2 * features if bidirectional else features
        self.feedforward = (
            FeedForward(hidden, num_layers=feedforward_layers, rngs=rngs) if feedforward_layers > 0 else None
        )
        self.projection = nnx.Linear(hidden, features, rngs=rngs) if bidirectional else None
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(
        self, x: jax.Array, mask: jax.Array | None, seq_lengths: jax.Array | None, deterministic: bool | None
    ) -> jax.Array:
        h = self.forward_rnn(x, seq_lengths=seq_lengths)
        if self.backward_rnn is not None:
            h = jnp.concatenate([h, self.backward_rnn(x, seq_lengths=seq_lengths)], axis=-1)
        if self.feedforward is not None:
            h = self.feedforward(h, deterministic=deterministic) + h
        if self.projection is not None:
            h = self.projection(h)
        return _zero_padding(self.dropout(h, deterministic=deterministic), mask)


@BaseSequenceEncoder.register("rnn")
class RNNSequenceEncoder(BaseSequenceEncoder):
    """Stacked (optionally bidirectional) recurrent encoder over any nnx RNN cell.

    Each layer maps ``features`` to ``features``: a bidirectional layer concatenates both
    directions and projects them back. Runs under ``jax.jit`` (the time loop is a scan).

    Args:
        cell_factory: ``rngs -> cell`` building a cell with ``features`` inputs and hidden units.
        features: input, hidden and output size.
        num_layers: number of stacked layers.
        bidirectional: also run each sequence backwards from its last real token.
        feedforward_layers: if positive, a residual `FeedForward` of that depth after each RNN.
        dropout: dropout rate on each layer's output.
        rngs: an int seed, an `nnx.Rngs`, or ``None`` for the current `use_rngs` generator.
    """

    def __init__(
        self,
        cell_factory: Callable[[nnx.Rngs], nnx.RNNCellBase],
        features: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        feedforward_layers: int | None = None,
        dropout: float = 0.0,
        rngs: RngsLike | None = None,
    ) -> None:
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        rngs = resolve_rngs(rngs)
        self.features = features
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.layers = nnx.List(
            [
                _RNNLayer(cell_factory, features, bidirectional, feedforward_layers or 0, dropout, rngs)
                for _ in range(num_layers)
            ]
        )

    def __call__(
        self, inputs: jax.Array, mask: jax.Array | None = None, *, deterministic: bool | None = None
    ) -> jax.Array:
        mask = _check_inputs(type(self).__name__, inputs, mask, self.features)
        seq_lengths = None if mask is None else mask.sum(axis=-1).astype(jnp.int32)
        h = _zero_padding(inputs, mask)
        for layer in self.layers:
            h = layer(h, mask, seq_lengths, deterministic)
        return h

    def get_input_dim(self) -> int:
        return self.features

    def get_output_dim(self) -> int:
        return self.features


@BaseSequenceEncoder.register("lstm")
class LSTMSequenceEncoder(RNNSequenceEncoder):
    """LSTM encoder (`nnx.LSTMCell`); see `RNNSequenceEncoder` for the arguments.

    Example::

        encoder = LSTMSequenceEncoder(features=64, num_layers=2, bidirectional=True, dropout=0.1, rngs=0)
        outputs = encoder(inputs, mask)  # (batch, seq_len, 64)
    """

    def __init__(
        self,
        features: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        feedforward_layers: int | None = None,
        dropout: float = 0.0,
        rngs: RngsLike | None = None,
    ) -> None:
        super().__init__(
            lambda r: nnx.LSTMCell(features, features, rngs=r),
            features, num_layers, bidirectional, feedforward_layers, dropout, rngs,
        )


@BaseSequenceEncoder.register("optimized_lstm")
class OptimizedLSTMSequenceEncoder(RNNSequenceEncoder):
    """LSTM encoder on `nnx.OptimizedLSTMCell` (fused gate matmuls); arguments as `RNNSequenceEncoder`."""

    def __init__(
        self,
        features: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        feedforward_layers: int | None = None,
        dropout: float = 0.0,
        rngs: RngsLike | None = None,
    ) -> None:
        super().__init__(
            lambda r: nnx.OptimizedLSTMCell(features, features, rngs=r),
            features, num_layers, bidirectional, feedforward_layers, dropout, rngs,
        )


@BaseSequenceEncoder.register("gru")
class GRUSequenceEncoder(RNNSequenceEncoder):
    """GRU encoder (`nnx.GRUCell`); arguments as `RNNSequenceEncoder`."""

    def __init__(
        self,
        features: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        feedforward_layers: int | None = None,
        dropout: float = 0.0,
        rngs: RngsLike | None = None,
    ) -> None:
        super().__init__(
            lambda r: nnx.GRUCell(features, features, rngs=r),
            features, num_layers, bidirectional, feedforward_layers, dropout, rngs,
        )


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

    def _attend(self, x: jax.Array, attention_mask: jax.Array | None, deterministic: bool | None) -> jax.Array:
        y = self.attention(x, mask=attention_mask, deterministic=deterministic)
        return self.dropout(y, deterministic=deterministic)

    def _feedforward(self, x: jax.Array, deterministic: bool | None) -> jax.Array:
        y = self.output(self.dropout(self.activation(self.hidden(x)), deterministic=deterministic))
        return self.dropout(y, deterministic=deterministic)

    def __call__(self, x: jax.Array, attention_mask: jax.Array | None, deterministic: bool | None) -> jax.Array:
        if self.pre_norm:
            x = x + self._attend(self.attention_norm(x), attention_mask, deterministic)
            return x + self._feedforward(self.feedforward_norm(x), deterministic)
        x = self.attention_norm(x + self._attend(x, attention_mask, deterministic))
        return self.feedforward_norm(x + self._feedforward(x, deterministic))


@BaseSequenceEncoder.register("transformer")
class TransformerSequenceEncoder(BaseSequenceEncoder):
    """Transformer encoder: multi-head self-attention over real tokens only, plus feed-forward.

    Args:
        features: model size (input and output); divisible by `num_heads`.
        num_heads: attention heads.
        num_layers: stacked layers.
        dropout: dropout on attention weights, sublayer outputs and the feed-forward hidden layer.
        epsilon: layer norm epsilon.
        feedworward_features: feed-forward hidden size, ``4 * features`` by default (the
            reference's spelling; `feedforward_features` is the same option correctly spelled).
        activation: feed-forward activation, GELU by default.
        position_encoder: added to the inputs first, e.g. `SinusoidalPositionEncoder`.
        feedforward_features: alias of `feedworward_features`.
        pre_norm: layer norm before each sublayer (and once at the end) instead of after each
            residual (the default, post-norm, as in the original Transformer).
        rngs: an int seed, an `nnx.Rngs`, or ``None`` for the current `use_rngs` generator.

    Example::

        encoder = TransformerSequenceEncoder(64, 4, num_layers=2, position_encoder=SinusoidalPositionEncoder(), rngs=0)
        outputs = encoder(inputs, mask)  # (batch, seq_len, 64)
    """

    def __init__(
        self,
        features: int,
        num_heads: int,
        *,
        num_layers: int = 1,
        dropout: float = 0.0,
        epsilon: float = 1e-6,
        feedworward_features: int | None = None,
        activation: Activation = jax.nn.gelu,
        position_encoder: BasePositionEncoder | None = None,
        feedforward_features: int | None = None,
        pre_norm: bool = False,
        rngs: RngsLike | None = None,
    ) -> None:
        if features % num_heads != 0:
            raise ValueError(f"features={features} must be divisible by num_heads={num_heads}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if None not in (feedworward_features, feedforward_features) and feedworward_features != feedforward_features:
            raise ValueError(
                f"feedworward_features={feedworward_features} and its alias feedforward_features="
                f"{feedforward_features} disagree; give only one"
            )
        hidden = feedforward_features or feedworward_features or 4 * features
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
        self, inputs: jax.Array, mask: jax.Array | None = None, *, deterministic: bool | None = None
    ) -> jax.Array:
        mask = _check_inputs("TransformerSequenceEncoder", inputs, mask, self.features)
        h = inputs if self.position_encoder is None else self.position_encoder(inputs)
        h = _zero_padding(h, mask)
        # (batch, 1, seq_len, seq_len): query i may attend to key j only if both are real.
        attention_mask = None if mask is None else nnx.make_attention_mask(mask, mask)
        for layer in self.layers:
            h = layer(h, attention_mask, deterministic)
        if self.final_norm is not None:
            h = self.final_norm(h)
        return _zero_padding(h, mask)

    def get_input_dim(self) -> int:
        return self.features

    def get_output_dim(self) -> int:
        return self.features
