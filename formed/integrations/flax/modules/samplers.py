"""formed.integrations.flax.modules.samplers: the label samplers of `formed.modules`;
`MultinomialLabelSamplerParams` names the temperature as the reference spells it, ``templerature``."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
from flax import nnx

from formed.integrations import _api

__all__ = _api.names(__name__)


class MultinomialLabelSamplerParams(NamedTuple):
    """Parameters of `MultinomialLabelSampler` with the reference's field names: ``templerature``
    is formed's ``temperature`` (which reads the same value here).

    >>> import jax.numpy as jnp
    >>> from formed.modules import MultinomialLabelSampler
    >>> MultinomialLabelSampler()(jnp.zeros((4, 3)), MultinomialLabelSamplerParams(rngs=0, templerature=0.5)).shape
    (4,)
    """

    rngs: nnx.Rngs | jax.Array | int | None = None
    templerature: float = 1.0

    @property
    def temperature(self) -> float:
        return self.templerature


def __getattr__(name: str) -> Any:
    return _api.lookup(__name__, name)
