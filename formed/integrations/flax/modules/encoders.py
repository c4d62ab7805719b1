"""formed.integrations.flax.modules.encoders: the sequence and position encoders of
`formed.modules`; `TransformerSequenceEncoder` takes the feed-forward size as the reference spells
it, ``feedworward_features``."""

from __future__ import annotations

from typing import Any, Callable

import jax
from flax import nnx

import formed.modules
from formed.integrations import _api

__all__ = _api.names(__name__)


class TransformerSequenceEncoder(formed.modules.TransformerSequenceEncoder):
    """`formed.modules.TransformerSequenceEncoder` with the reference's signature:
    ``feedworward_features`` is formed's ``feedforward_features``.

    >>> import jax.numpy as jnp
    >>> encoder = TransformerSequenceEncoder(8, 2, feedworward_features=12, rngs=0)
    >>> encoder(jnp.ones((2, 5, 8)), jnp.ones((2, 5), bool)).shape
    (2, 5, 8)
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
        activation: Callable[[jax.Array], jax.Array] = jax.nn.gelu,
        position_encoder: formed.modules.BasePositionEncoder | None = None,
        rngs: int | jax.Array | nnx.Rngs | None = None,
    ) -> None:
        super().__init__(
            features,
            num_heads,
            num_layers=num_layers,
            dropout=dropout,
            epsilon=epsilon,
            feedforward_features=feedworward_features,
            activation=activation,
            position_encoder=position_encoder,
            rngs=rngs,
        )


def __getattr__(name: str) -> Any:
    return _api.lookup(__name__, name)
