"""Label samplers: pick a class per example from logits, ``sampler(logits, params) -> (...)`` ints."""

from __future__ import annotations

import abc
from typing import Any, Generic, NamedTuple, TypeVar

import jax
import jax.numpy as jnp
from flax import nnx

from formed.core import Registrable, ensure_jax_array

_ParamsT = TypeVar("_ParamsT")


class BaseLabelSampler(nnx.Module, Registrable, Generic[_ParamsT], abc.ABC):
    """Chooses one label per example from ``(..., num_classes)`` logits."""

    @abc.abstractmethod
    def __call__(self, logits: jax.Array, params: _ParamsT | None = None) -> jax.Array:
        """Returns ``(...)`` int32 class ids."""


@BaseLabelSampler.register("argmax")
class ArgmaxLabelSampler(BaseLabelSampler[Any]):
    """The most likely class: ``argmax(logits, axis=-1)``."""

    def __call__(self, logits: jax.Array, params: Any = None) -> jax.Array:
        del params
        return jnp.argmax(ensure_jax_array(logits), axis=-1).astype(jnp.int32)


class _MultinomialLabelSamplerParamsBase(NamedTuple):
    rngs: nnx.Rngs | jax.Array | int
    templerature: float = 1.0


class MultinomialLabelSamplerParams(_MultinomialLabelSamplerParamsBase):
    """Parameters of `MultinomialLabelSampler`, a NamedTuple.

    Attributes:
        rngs: where the randomness comes from: an `nnx.Rngs` (its ``sample`` stream, or the
            default one), a PRNG key, or an int seed.
        templerature: the sampling temperature (the field keeps the reference spelling);
            ``temperature`` reads the same value, and is accepted as a keyword when building.
            Below 1 sharpens the distribution, above 1 flattens it.
    """

    __slots__ = ()

    def __new__(
        cls,
        rngs: nnx.Rngs | jax.Array | int,
        templerature: float = 1.0,
        *,
        temperature: float | None = None,
    ) -> "MultinomialLabelSamplerParams":
        if temperature is not None:
            templerature = temperature
        return super().__new__(cls, rngs, templerature)

    @property
    def temperature(self) -> float:
        return self.templerature


def _key(rngs: nnx.Rngs | jax.Array | int) -> jax.Array:
    if isinstance(rngs, nnx.Rngs):
        stream = getattr(rngs, "sample") if "sample" in rngs else rngs.default
        return stream()
    if isinstance(rngs, int):
        return jax.random.key(rngs)
    return rngs


@BaseLabelSampler.register("multinomial")
class MultinomialLabelSampler(BaseLabelSampler[MultinomialLabelSamplerParams]):
    """Samples each label from ``softmax(logits / temperature)``.

    Randomness comes from ``params.rngs``; without params, a sampler needs its own `rngs`.

    Args:
        rngs: an optional seed or `nnx.Rngs` used when the call gives no params.
    """

    def __init__(self, rngs: int | nnx.Rngs | None = None) -> None:
        self.rngs = nnx.Rngs(rngs) if isinstance(rngs, int) else rngs

    def __call__(self, logits: jax.Array, params: MultinomialLabelSamplerParams | None = None) -> jax.Array:
        logits = ensure_jax_array(logits)
        if params is None:
            if self.rngs is None:
                raise ValueError(
                    "MultinomialLabelSampler needs randomness: call it with "
                    "params=MultinomialLabelSamplerParams(rngs=..., templerature=...) or build it with rngs="
                )
            params = MultinomialLabelSamplerParams(self.rngs)
        temperature = params.templerature
        if isinstance(temperature, (int, float)) and temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        return jax.random.categorical(_key(params.rngs), logits / temperature, axis=-1).astype(jnp.int32)
