"""Sequence encoders: ``(batch, seq_len, features)`` under a padding mask to the same shape.

Every encoder honours the mask: outputs at real positions do not depend on what sits at padded
positions, and padded positions are zeros. Recurrent encoders carry their state unchanged across
padded positions (so the backward direction starts at each sequence's last real token); the
Transformer attends to real positions only.
"""

from __future__ import annotations

import abc
import math
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from formed.core import Registrable
from formed.equinox._keys import KeyLike, resolve_key, split_key
from formed.equinox._vectors import over_vectors


class BaseSequenceEncoder(eqx.Module, Registrable):
    """Contextualises each position of a sequence."""

    @abc.abstractmethod
    def __call__(self, inputs: jax.Array, mask: jax.Array | None = None, *, key: jax.Array | None = None) -> jax.Array:
        """Encodes ``(batch, seq_len, input_dim)`` under a ``(batch, seq_len)`` mask into
        ``(batch, seq_len, output_dim)``, zeros at padded positions."""

    @abc.abstractmethod
    def get_input_dim(self) -> int | None:
        """The input feature size, or ``None`` if any size works."""

    @abc.abstractmethod
    def get_output_dim(self) -> int | Callable[[int], int]:
        """The output feature size, or a function from input size to output size."""


def _check_inputs(name: str, inputs: jax.Array, mask: jax.Array | None, features: int) -> jax.Array:
    if inputs.ndim != 3 or inputs.shape[-1] != features:
        raise ValueError(f"{name} expects inputs of shape (batch, seq_len, {features}), got {inputs.shape}")
    if mask is None:
        return jnp.ones(inputs.shape[:2], dtype=bool)
    mask = jnp.asarray(mask).astype(bool)
    if mask.shape != inputs.shape[:2]:
        raise ValueError(f"{name}: mask shape {mask.shape} does not match inputs {inputs.shape} (expected {inputs.shape[:2]})")
    return mask


def _zero_padding(x: jax.Array, mask: jax.Array) -> jax.Array:
    return jnp.where(mask[..., None], x, jnp.zeros((), x.dtype))


Cell = eqx.nn.LSTMCell | eqx.nn.GRUCell


def _scan_cell(cell: Cell, inputs: jax.Array, mask: jax.Array, reverse: bool) -> jax.Array:
    """Runs `cell` over time on ``(batch, seq_len, features)``; the state stays put where the mask
    is false, so padding never reaches a real position's output (in either direction)."""
    batch = inputs.shape[0]
    zeros = jnp.zeros((batch, cell.hidden_size), inputs.dtype)
    initial = (zeros, zeros) if isinstance(cell, eqx.nn.LSTMCell) else zeros

    def step(state, xs):  # noqa: ANN001, ANN202
        x, real = xs
        updated = jax.vmap(cell)(x, state)
        state = jax.tree.map(lambda new, old: jnp.where(real[:, None], new, old), updated, state)
        hidden = state[0] if isinstance(state, tuple) else state
        return state, hidden

    _, outputs = jax.lax.scan(step, initial, (jnp.swapaxes(inputs, 0, 1), mask.T), reverse=reverse)
    return jnp.swapaxes(outputs, 0, 1)


class _RNNLayer(eqx.Module):
    forward: Cell
    backward: Cell | None
    projection: eqx.nn.Linear | None
    dropout: eqx.nn.Dropout

    def __call__(self, x: jax.Array, mask: jax.Array, key: jax.Array | None) -> jax.Array:
        h = _scan_cell(self.forward, x, mask, reverse=False)
        if self.backward is not None:
            h = jnp.concatenate([h, _scan_cell(self.backward, x, mask, reverse=True)], axis=-1)
        if self.projection is not None:
            h = over_vectors(self.projection, h)
        return _zero_padding(self.dropout(h, key=key), mask)


class RNNSequenceEncoder(BaseSequenceEncoder):
    """Stacked (optionally bidirectional) recurrent encoder over an Equinox cell.

    Each layer maps `features` to `features`; a bidirectional layer concatenates both directions
    and projects them back with a linear layer (as the Flax encoders do).

    Args:
        cell_type: ``eqx.nn.LSTMCell`` or ``eqx.nn.GRUCell``.
        features: input, hidden and output size.
        num_layers: stacked layers.
        bidirectional: also run each sequence backwards from its last real token.
        dropout: dropout rate on each layer's output (needs a ``key`` in training).
        key: a PRNG key or int seed; ``None`` draws from the current ``use_rngs`` generator.
    """

    layers: tuple[_RNNLayer, ...]
    features: int = eqx.field(static=True)

    def __init__(
        self,
        cell_type: type[Cell],
        features: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        *,
        key: KeyLike | None = None,
    ) -> None:
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        self.features = features
        layers = []
        for layer_key in jax.random.split(resolve_key(key), num_layers):
            forward_key, backward_key, projection_key = jax.random.split(layer_key, 3)
            layers.append(
                _RNNLayer(
                    forward=cell_type(features, features, key=forward_key),
                    backward=cell_type(features, features, key=backward_key) if bidirectional else None,
                    projection=eqx.nn.Linear(2 * features, features, key=projection_key) if bidirectional else None,
                    dropout=eqx.nn.Dropout(dropout),
                )
            )
        self.layers = tuple(layers)

    def __call__(self, inputs: jax.Array, mask: jax.Array | None = None, *, key: jax.Array | None = None) -> jax.Array:
        mask = _check_inputs(type(self).__name__, inputs, mask, self.features)
        h = _zero_padding(inputs, mask)
        for layer, layer_key in zip(self.layers, split_key(key, len(self.layers))):
            h = layer(h, mask, layer_key)
        return h

    def get_input_dim(self) -> int:
        return self.features

    def get_output_dim(self) -> int:
        return self.features


@BaseSequenceEncoder.register("lstm")
class LSTMSequenceEncoder(RNNSequenceEncoder):
    """LSTM encoder on `eqx.nn.LSTMCell`; the config keys of the Flax ``lstm`` encoder.

    >>> import jax.numpy as jnp
    >>> encoder = LSTMSequenceEncoder(features=8, bidirectional=True, key=0)
    >>> encoder(jnp.ones((2, 5, 8)), jnp.ones((2, 5), bool)).shape
    (2, 5, 8)
    """

    def __init__(
        self,
        features: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        *,
        key: KeyLike | None = None,
    ) -> None:
        super().__init__(eqx.nn.LSTMCell, features, num_layers, bidirectional, dropout, key=key)


@BaseSequenceEncoder.register("gru")
class GRUSequenceEncoder(RNNSequenceEncoder):
    """GRU encoder on `eqx.nn.GRUCell`; arguments as `LSTMSequenceEncoder`."""

    def __init__(
        self,
        features: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        *,
        key: KeyLike | None = None,
    ) -> None:
        super().__init__(eqx.nn.GRUCell, features, num_layers, bidirectional, dropout, key=key)


class BasePositionEncoder(eqx.Module, Registrable):
    """Adds position information to ``(batch, seq_len, features)`` inputs."""

    @abc.abstractmethod
    def __call__(self, inputs: jax.Array) -> jax.Array:
        """Returns inputs of the same shape with positions added."""


@BasePositionEncoder.register("sinusoidal")
class SinusoidalPositionEncoder(BasePositionEncoder):
    """Adds the fixed sine/cosine encodings of "Attention Is All You Need" (no parameters).

    >>> import jax.numpy as jnp
    >>> SinusoidalPositionEncoder()(jnp.zeros((1, 3, 4)))[0, 0].tolist()
    [0.0, 1.0, 0.0, 1.0]
    """

    max_length: int = eqx.field(static=True)

    def __init__(self, max_length: int = 512) -> None:
        self.max_length = max_length

    def __call__(self, inputs: jax.Array) -> jax.Array:
        seq_len, features = inputs.shape[-2:]
        if seq_len > self.max_length:
            raise ValueError(f"SinusoidalPositionEncoder: seq_len {seq_len} exceeds max_length {self.max_length}")
        positions = jnp.arange(seq_len, dtype=jnp.float32)[:, None]
        rates = jnp.exp(-math.log(10000.0) * (jnp.arange(0, features, 2, dtype=jnp.float32) / features))
        angles = positions * rates  # (seq_len, ceil(features / 2))
        table = jnp.stack([jnp.sin(angles), jnp.cos(angles)], axis=-1).reshape(seq_len, -1)[:, :features]
        return inputs + table.astype(inputs.dtype)


class _TransformerLayer(eqx.Module):
    attention: eqx.nn.MultiheadAttention
    hidden: eqx.nn.Linear
    output: eqx.nn.Linear
    attention_norm: eqx.nn.LayerNorm
    feedforward_norm: eqx.nn.LayerNorm
    dropout: eqx.nn.Dropout
    activation: Callable[[jax.Array], jax.Array] = eqx.field(static=True)
    pre_norm: bool = eqx.field(static=True)

    def _attend(self, x: jax.Array, attention_mask: jax.Array, key: jax.Array | None) -> jax.Array:
        keys = None if key is None else jax.random.split(key, x.shape[0] + 1)
        attend = lambda q, m, k: self.attention(q, q, q, mask=m, key=k)  # noqa: E731
        if keys is None:
            y = jax.vmap(lambda q, m: attend(q, m, None))(x, attention_mask)
            return self.dropout(y)
        y = jax.vmap(attend)(x, attention_mask, keys[1:])
        return self.dropout(y, key=keys[0])

    def _feedforward(self, x: jax.Array, key: jax.Array | None) -> jax.Array:
        first, second = split_key(key, 2)
        h = self.dropout(self.activation(over_vectors(self.hidden, x)), key=first)
        return self.dropout(over_vectors(self.output, h), key=second)

    def __call__(self, x: jax.Array, attention_mask: jax.Array, key: jax.Array | None) -> jax.Array:
        attend_key, feedforward_key = split_key(key, 2)
        if self.pre_norm:
            x = x + self._attend(over_vectors(self.attention_norm, x), attention_mask, attend_key)
            return x + self._feedforward(over_vectors(self.feedforward_norm, x), feedforward_key)
        x = over_vectors(self.attention_norm, x + self._attend(x, attention_mask, attend_key))
        return over_vectors(self.feedforward_norm, x + self._feedforward(x, feedforward_key))


@BaseSequenceEncoder.register("transformer")
class TransformerSequenceEncoder(BaseSequenceEncoder):
    """Transformer encoder on `eqx.nn.MultiheadAttention`: attention over real tokens only.

    The config keys of the Flax ``transformer`` encoder.

    Args:
        features: model size (input and output); divisible by `num_heads`.
        num_heads: attention heads.
        num_layers: stacked layers.
        dropout: dropout on attention weights, sublayer outputs and the feed-forward hidden layer.
        epsilon: layer norm epsilon.
        feedforward_features: feed-forward hidden size, ``4 * features`` by default.
        activation: feed-forward activation, GELU by default.
        position_encoder: added to the inputs first, e.g. `SinusoidalPositionEncoder`.
        pre_norm: layer norm before each sublayer (and once at the end) instead of after.
        key: a PRNG key or int seed; ``None`` draws from the current ``use_rngs`` generator.

    >>> import jax.numpy as jnp
    >>> encoder = TransformerSequenceEncoder(8, 2, key=0)
    >>> encoder(jnp.ones((2, 5, 8)), jnp.ones((2, 5), bool)).shape
    (2, 5, 8)
    """

    layers: tuple[_TransformerLayer, ...]
    position_encoder: BasePositionEncoder | None
    final_norm: eqx.nn.LayerNorm | None
    features: int = eqx.field(static=True)

    def __init__(
        self,
        features: int,
        num_heads: int,
        *,
        num_layers: int = 1,
        dropout: float = 0.0,
        epsilon: float = 1e-6,
        feedforward_features: int | None = None,
        activation: Callable[[jax.Array], jax.Array] = jax.nn.gelu,
        position_encoder: BasePositionEncoder | None = None,
        pre_norm: bool = False,
        key: KeyLike | None = None,
    ) -> None:
        if features % num_heads != 0:
            raise ValueError(f"features={features} must be divisible by num_heads={num_heads}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        hidden = feedforward_features or 4 * features
        self.features = features
        self.position_encoder = position_encoder
        layers = []
        for layer_key in jax.random.split(resolve_key(key), num_layers):
            attention_key, hidden_key, output_key = jax.random.split(layer_key, 3)
            layers.append(
                _TransformerLayer(
                    attention=eqx.nn.MultiheadAttention(num_heads, features, dropout_p=dropout, key=attention_key),
                    hidden=eqx.nn.Linear(features, hidden, key=hidden_key),
                    output=eqx.nn.Linear(hidden, features, key=output_key),
                    attention_norm=eqx.nn.LayerNorm(features, eps=epsilon),
                    feedforward_norm=eqx.nn.LayerNorm(features, eps=epsilon),
                    dropout=eqx.nn.Dropout(dropout),
                    activation=activation,
                    pre_norm=pre_norm,
                )
            )
        self.layers = tuple(layers)
        self.final_norm = eqx.nn.LayerNorm(features, eps=epsilon) if pre_norm else None

    def __call__(self, inputs: jax.Array, mask: jax.Array | None = None, *, key: jax.Array | None = None) -> jax.Array:
        mask = _check_inputs("TransformerSequenceEncoder", inputs, mask, self.features)
        h = inputs if self.position_encoder is None else self.position_encoder(inputs)
        h = _zero_padding(h, mask)
        # (batch, seq_len, seq_len): query i may attend to key j only if both are real.
        attention_mask = mask[:, :, None] & mask[:, None, :]
        for layer, layer_key in zip(self.layers, split_key(key, len(self.layers))):
            h = layer(h, attention_mask, layer_key)
        if self.final_norm is not None:
            h = over_vectors(self.final_norm, h)
        return _zero_padding(h, mask)

    def get_input_dim(self) -> int:
        return self.features

    def get_output_dim(self) -> int:
        return self.features
