"""Classification losses: ``loss(logits (..., C), labels (...), params=None) -> scalar``."""

from __future__ import annotations

import abc
from typing import Any, Generic, Literal

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike
from typing_extensions import TypeVar

from formed.core import Registrable, ensure_jax_array
from formed.modules._weighters import BaseLabelWeighter

_ParamsT = TypeVar("_ParamsT", default=Any)

Reduction = Literal["mean", "sum"]


class BaseClassificationLoss(nnx.Module, Registrable, Generic[_ParamsT], abc.ABC):
    """Computes a scalar training loss from logits and integer labels."""

    @abc.abstractmethod
    def __call__(self, logits: jax.Array, labels: jax.Array, params: _ParamsT | None = None) -> jax.Array:
        """Returns the loss, a scalar.

        Args:
            logits: ``(..., num_classes)`` unnormalised scores.
            labels: ``(...)`` integer class ids.
            params: extra call-time parameters, passed on to a weighter if there is one.
        """


def _example_weights(weights: jax.Array, logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Turns a weighter's output into one weight per example, of the shape of `labels`.

    Accepted: per-class weights broadcastable to ``logits`` (``(1, C)``, ``(B, C)``), per-example
    weights of the shape of ``labels``, or a plain ``(C,)`` vector of per-class weights.
    """
    num_classes = logits.shape[-1]
    if weights.ndim == logits.ndim:
        per_class = jnp.broadcast_to(weights, logits.shape)
        return jnp.take_along_axis(per_class, labels[..., None], axis=-1)[..., 0]
    if weights.shape == labels.shape:
        return weights
    if weights.shape == (num_classes,):
        return weights[labels]
    raise ValueError(
        f"label weights of shape {weights.shape} fit neither logits {logits.shape} (per class) "
        f"nor labels {labels.shape} (per example)"
    )


@BaseClassificationLoss.register("cross_entropy")
class CrossEntropyLoss(BaseClassificationLoss[_ParamsT]):
    """Softmax cross-entropy, optionally weighted per class.

    Args:
        weighter: gives a weight to each example's true class; ``None`` weighs all equally.
        reduce: ``"mean"``: the weighted mean ``sum(w_i * l_i) / sum(w_i)`` (the plain mean
            without a weighter); ``"sum"``: ``sum(w_i * l_i)``.

    >>> from formed.modules import StaticLabelWeighter
    >>> loss = CrossEntropyLoss(weighter=StaticLabelWeighter([1.0, 3.0]))
    >>> logits, labels = jnp.zeros((2, 2)), jnp.array([0, 1])  # (batch, classes), (batch,)
    >>> round(float(loss(logits, labels)), 4)  # a scalar: ln 2 when every class is as likely
    0.6931
    """

    def __init__(self, weighter: BaseLabelWeighter | None = None, reduce: Reduction = "mean") -> None:
        if reduce not in ("mean", "sum"):
            raise ValueError(f"reduce must be 'mean' or 'sum', got {reduce!r}")
        self.weighter = weighter
        self.reduce = reduce

    def __call__(self, logits: ArrayLike, labels: ArrayLike, params: Any = None) -> jax.Array:
        logits = ensure_jax_array(logits)
        labels = ensure_jax_array(labels).astype(jnp.int32)
        if labels.shape != logits.shape[:-1]:
            raise ValueError(f"labels of shape {labels.shape} do not match logits {logits.shape} (expected {logits.shape[:-1]})")
        log_probs = jax.nn.log_softmax(logits, axis=-1)
        losses = -jnp.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]
        if self.weighter is None:
            return losses.mean() if self.reduce == "mean" else losses.sum()
        weights = _example_weights(jnp.asarray(self.weighter(logits, labels, params)), logits, labels)
        weights = weights.astype(losses.dtype)
        total = (weights * losses).sum()
        if self.reduce == "sum":
            return total
        return total / weights.sum()
