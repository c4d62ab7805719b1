"""Recurrent sequence encoders: stacked, optionally bidirectional RNNs over any nnx cell.

`RNNSequenceEncoder` takes a cell factory; `LSTMSequenceEncoder`, `OptimizedLSTMSequenceEncoder`
and `GRUSequenceEncoder` are the same constructor with the cell type fixed (`nnx.LSTMCell`,
`nnx.OptimizedLSTMCell`, `nnx.GRUCell`), registered as ``"lstm"``, ``"optimized_lstm"`` and
``"gru"``. The masking contract is `formed.modules.sequence_encoder`'s.
"""

from __future__ import annotations

from typing import Callable, ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from formed.core import resolve_rngs
from formed.core.random import RngsLike
from formed.modules.feedforward import FeedForward
from formed.modules.sequence_encoder import BaseSequenceEncoder, check_encoder_inputs, zero_padding

CellFactory = Callable[[nnx.Rngs], nnx.RNNCellBase]


class _RNNLayer(nnx.Module):
    """One recurrent layer: forward (and backward) RNN, an optional residual feed-forward, a
    projection back to `features` when bidirectional, then dropout."""

    def __init__(
        self,
        cell_factory: CellFactory,
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
        return zero_padding(self.dropout(h, deterministic=deterministic), mask)


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
                _RNNLayer(cell_factory, features, bidirectional, feedforward_layers or 0, dropout, rngs)
                for _ in range(num_layers)
            ]
        )

    def __call__(
        self, inputs: jax.Array, mask: jax.Array | None = None, *, deterministic: bool | None = None
    ) -> jax.Array:
        mask = check_encoder_inputs(type(self).__name__, inputs, mask, self.features)
        seq_lengths = None if mask is None else mask.sum(axis=-1).astype(jnp.int32)
        h = zero_padding(inputs, mask)
        for layer in self.layers:
            h = layer(h, mask, seq_lengths, deterministic)
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
