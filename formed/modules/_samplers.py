"""Label samplers: pick a class per example from logits, ``sampler(logits, params) -> (...)`` ints."""

from __future__ import annotations

import abc
from typing import Any, Generic, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx
from typing_extensions import TypeVar

from formed.core import Registrable, ensure_jax_array, require_rngs

_ParamsT = TypeVar("_ParamsT", default=Any)


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


class MultinomialLabelSamplerParams(NamedTuple):
    """Parameters of `MultinomialLabelSampler`.

    Attributes:
        rngs: where the randomness comes from: an `nnx.Rngs` (its ``sample`` stream, or the
            default one), a PRNG key, an int seed, or ``None`` for the sampler's own generator
            (its ``rngs``, else the current `use_rngs` one).
        temperature: the sampling temperature: below 1 sharpens the distribution, above 1
            flattens it.
    """

    rngs: nnx.Rngs | jax.Array | int | None = None
    temperature: float = 1.0


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

    Randomness comes from ``params.rngs``; without params (or with ``params.rngs=None``), from
    the sampler's own `rngs`, else from the current `use_rngs` generator, as every component
    built without ``rngs`` does. With none of the three, the call raises `ValueError`.

    Args:
        rngs: an optional seed or `nnx.Rngs` used when the call gives no generator.

    Example:

    >>> import jax.numpy as jnp
    >>> from formed.core import use_rngs
    >>> with use_rngs(0):
    ...     MultinomialLabelSampler()(jnp.zeros((4, 3))).shape
    (4,)
    """

    def __init__(self, rngs: int | nnx.Rngs | None = None) -> None:
        self.rngs = nnx.Rngs(rngs) if isinstance(rngs, int) else rngs

    def __call__(self, logits: jax.Array, params: MultinomialLabelSamplerParams | None = None) -> jax.Array:
        logits = ensure_jax_array(logits)
        if params is None:
            params = MultinomialLabelSamplerParams()
        temperature = params.temperature
        if isinstance(temperature, (int, float)) and temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        rngs = params.rngs
        if rngs is None:
            rngs = self.rngs if self.rngs is not None else _current_rngs()
        return jax.random.categorical(_key(rngs), logits / temperature, axis=-1).astype(jnp.int32)


def _current_rngs() -> nnx.Rngs:
    try:
        return require_rngs()
    except RuntimeError:
        raise ValueError(
            "MultinomialLabelSampler needs randomness: call it with "
            "params=MultinomialLabelSamplerParams(rngs=..., temperature=...), build it with rngs=, "
            "or call it inside `with use_rngs(seed): ...`"
        ) from None
