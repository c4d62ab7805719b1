"""Label weighters: per-class weights for a classification loss (e.g. for imbalanced data)."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, Generic

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike
from typing_extensions import TypeVar

from formed.core import Registrable, ensure_jax_array

_ParamsT = TypeVar("_ParamsT", default=Any)


class LabelWeights(nnx.Variable):
    """Fixed class weights: a variable (saved with the model) that is not an `nnx.Param`, so an
    optimizer that updates ``nnx.Param`` leaves it alone."""


class BaseLabelWeighter(nnx.Module, Registrable, Generic[_ParamsT], abc.ABC):
    """Assigns a weight to each class (or each example) for a classification loss."""

    @abc.abstractmethod
    def __call__(self, logits: jax.Array, labels: jax.Array, params: _ParamsT | None = None) -> jax.Array:
        """Returns weights broadcastable to ``logits`` (per class, e.g. ``(1, num_classes)``), or of
        the shape of ``labels`` (per example).

        Args:
            logits: ``(..., num_classes)`` scores.
            labels: ``(...)`` integer class ids.
            params: extra call-time parameters, if the weighter uses any.
        """


def _class_vector(values: Any, name: str) -> jax.Array:
    array = ensure_jax_array(values).astype(jnp.float32)
    if array.ndim != 1 or array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of per-class values, got shape {array.shape}")
    return array


@BaseLabelWeighter.register("static")
class StaticLabelWeighter(BaseLabelWeighter[Any]):
    """Fixed weights, one per class.

    Args:
        weights: ``(num_classes,)`` weights, e.g. ``[1.0, 5.0]`` to count class 1 five times.

    Returns ``(1, num_classes)`` weights from ``__call__``, whatever the logits.
    """

    def __init__(self, weights: ArrayLike | Sequence[float]) -> None:
        self.weights = LabelWeights(_class_vector(weights, "weights"))

    def __call__(self, logits: jax.Array, labels: jax.Array, params: Any = None) -> jax.Array:
        del logits, labels, params
        return self.weights[...][None, :]


@BaseLabelWeighter.register("balanced_by_distribution")
class BalancedByDistributionLabelWeighter(BaseLabelWeighter[Any]):
    """Weights inversely proportional to class frequency: ``1 / (num_classes * p_c + eps)``.

    With these weights every class contributes equally to a weighted loss in expectation, and a
    uniform distribution gives weight 1 to every class.

    Args:
        distribution: ``(num_classes,)`` class probabilities (or counts normalised to sum 1).
        eps: added to the denominator so that an unseen class gets a large, finite weight.
    """

    def __init__(self, distribution: ArrayLike | Sequence[float], eps: float = 1e-8) -> None:
        distribution = _class_vector(distribution, "distribution")
        self.distribution = LabelWeights(distribution)
        self.eps = eps

    def __call__(self, logits: jax.Array, labels: jax.Array, params: Any = None) -> jax.Array:
        del logits, labels, params
        distribution = self.distribution[...]
        weights = 1.0 / (distribution * distribution.shape[0] + self.eps)
        return weights[None, :]
