"""Recurrent sequence encoders: stacked, optionally bidirectional RNNs over any nnx cell.

`RNNSequenceEncoder` takes a cell factory; `LSTMSequenceEncoder`, `OptimizedLSTMSequenceEncoder`
and `GRUSequenceEncoder` are the same constructor with the cell type fixed (`nnx.LSTMCell`,
`nnx.OptimizedLSTMCell`, `nnx.GRUCell`), registered as ``"lstm"``, ``"optimized_lstm"`` and
``"gru"``. The masking contract is `formed.modules._sequence_encoder`'s.
"""

from __future__ import annotations

from typing import Callable, ClassVar

import jax
import jax.numpy as jnp
from flax import nnx
from flax.nnx.nn.recurrent import flip_sequences

from formed.core import RngsLike, resolve_rngs
from formed.modules._feedforward import FeedForward
from formed.modules._sequence_encoder import BaseSequenceEncoder, check_encoder_inputs, zero_padding

CellFactory = Callable[[nnx.Rngs], nnx.RNNCellBase]


def _run_cell(cell: nnx.RNNCellBase, x: jax.Array, seq_lengths: jax.Array | None, reverse: bool) -> jax.Array:
    """Runs ``cell`` over ``(batch, seq_len, features)`` from a zero carry; ``reverse`` runs each
    sequence backwards from its own last real token (and returns outputs in input order).

    A `jax.lax.scan` over the cell, not `nnx.RNN`: nnx's scan lifts the module into the loop and
    refuses one captured from outside the trace, which breaks a plain ``jax.jit(encoder)``, and
    `nnx.RNN` keeps a carry generator that every call advances.
    """
    if reverse:
        x = flip_sequences(x, seq_lengths, num_batch_dims=1, time_major=False)
    # The default carry is zeros; the cell still asks a generator for it, so hand it a throwaway
    # one made here rather than a stream stored on the module (which each call would mutate).
    carry = cell.initialize_carry(x.shape[:1] + x.shape[2:], rngs=nnx.RngStream(jax.random.key(0), tag="carry"))
    _, outputs = jax.lax.scan(lambda c, x_t: cell(c, x_t), carry, jnp.swapaxes(x, 0, 1))
    outputs = jnp.swapaxes(outputs, 0, 1)
    if reverse:
        outputs = flip_sequences(outputs, seq_lengths, num_batch_dims=1, time_major=False)
    return outputs


class _RNNLayer(nnx.Module):
    """One recurrent layer: forward (and backward) cell, an optional residual feed-forward, and a
    projection back to `features` when bidirectional."""

    def __init__(
        self,
        cell_factory: CellFactory,
        features: int,
        bidirectional: bool,
        feedforward_layers: int,
        rngs: nnx.Rngs,
    ) -> None:
        self.forward_cell = cell_factory(rngs)
        self.backward_cell = cell_factory(rngs) if bidirectional else None
        hidden = 2 * features if bidirectional else features
        self.feedforward = (
            FeedForward(hidden, num_layers=feedforward_layers, rngs=rngs) if feedforward_layers > 0 else None
        )
        self.projection = nnx.Linear(hidden, features, rngs=rngs) if bidirectional else None

    def __call__(
        self,
        x: jax.Array,
        seq_lengths: jax.Array | None,
        deterministic: bool | None,
        rngs: nnx.Rngs | None,
    ) -> jax.Array:
        h = _run_cell(self.forward_cell, x, seq_lengths, reverse=False)
        if self.backward_cell is not None:
            h = jnp.concatenate([h, _run_cell(self.backward_cell, x, seq_lengths, reverse=True)], axis=-1)
        if self.feedforward is not None:
            h = self.feedforward(h, deterministic=deterministic, rngs=rngs) + h
        if self.projection is not None:
            h = self.projection(h)
        return h


@BaseSequenceEncoder.register("rnn")
class RNNSequenceEncoder(BaseSequenceEncoder):
    """Stacked (optionally bidirectional) recurrent encoder over any nnx RNN cell.

    Each layer maps ``features`` to ``features``: a bidirectional layer concatenates both
    directions and projects them back. Runs under ``jax.jit`` and ``nnx.jit`` (the time loop is a
    `jax.lax.scan`).

    Args:
        cell_factory: ``rngs -> cell`` building a cell with ``features`` inputs and hidden units.
        features: input, hidden and output size.
        num_layers: number of stacked layers.
        bidirectional: also run each sequence backwards from its last real token.
        feedforward_layers: if positive, a residual `FeedForward` of that depth after each RNN.
        dropout: dropout rate between stacked layers (on the output of every layer but the last).
        rngs: an int seed, an `nnx.Rngs`, or ``None`` for the current `use_rngs` generator.

    Example:

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> encoder = RNNSequenceEncoder(lambda r: nnx.SimpleCell(8, 8, rngs=r), features=8, rngs=0)
    >>> encoder(jnp.ones((2, 5, 8)), jnp.ones((2, 5), bool)).shape
    (2, 5, 8)
    """

    def __init__(
        self,
        cell_factory: CellFactory,
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
                _RNNLayer(cell_factory, features, bidirectional, feedforward_layers or 0, rngs)
                for _ in range(num_layers)
            ]
        )
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(
        self,
        inputs: jax.Array,
        mask: jax.Array | None = None,
        *,
        deterministic: bool | None = None,
        rngs: nnx.Rngs | None = None,
    ) -> jax.Array:
        mask = check_encoder_inputs(type(self).__name__, inputs, mask, self.features)
        seq_lengths = None if mask is None else mask.sum(axis=-1).astype(jnp.int32)
        h = zero_padding(inputs, mask)
        for index, layer in enumerate(self.layers):
            if index > 0:
                h = self.dropout(h, deterministic=deterministic, rngs=rngs)
            h = zero_padding(layer(h, seq_lengths, deterministic, rngs), mask)
        return h

    def get_input_dim(self) -> int:
        return self.features

    def get_output_dim(self) -> int:
        return self.features


class _CellTypeEncoder(RNNSequenceEncoder):
    """`RNNSequenceEncoder` over one nnx cell class, named by ``cell_type``: the one constructor of
    the LSTM, optimized-LSTM and GRU encoders, which differ only in that class attribute."""

    cell_type: ClassVar[Callable[..., nnx.RNNCellBase]]

    def __init__(
        self,
        features: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        feedforward_layers: int | None = None,
        dropout: float = 0.0,
        rngs: RngsLike | None = None,
    ) -> None:
        cell_type = self.cell_type
        super().__init__(
            lambda r: cell_type(features, features, rngs=r),
            features,
            num_layers,
            bidirectional,
            feedforward_layers,
            dropout,
            rngs,
        )


@BaseSequenceEncoder.register("lstm")
class LSTMSequenceEncoder(_CellTypeEncoder):
    """LSTM encoder (`nnx.LSTMCell`); see `RNNSequenceEncoder` for the arguments.

    Example:

    >>> import jax.numpy as jnp
    >>> encoder = LSTMSequenceEncoder(features=8, bidirectional=True, rngs=0)
    >>> encoder(jnp.ones((2, 5, 8)), jnp.ones((2, 5), bool)).shape
    (2, 5, 8)
    """

    cell_type = nnx.LSTMCell


@BaseSequenceEncoder.register("optimized_lstm")
class OptimizedLSTMSequenceEncoder(_CellTypeEncoder):
    """LSTM encoder on `nnx.OptimizedLSTMCell` (fused gate matmuls); arguments as `RNNSequenceEncoder`."""

    cell_type = nnx.OptimizedLSTMCell


@BaseSequenceEncoder.register("gru")
class GRUSequenceEncoder(_CellTypeEncoder):
    """GRU encoder (`nnx.GRUCell`); arguments as `RNNSequenceEncoder`.

    Example:

    >>> import jax.numpy as jnp
    >>> encoder = GRUSequenceEncoder(features=8, num_layers=2, rngs=0)
    >>> encoder(jnp.ones((2, 5, 8))).shape
    (2, 5, 8)
    """

    cell_type = nnx.GRUCell
