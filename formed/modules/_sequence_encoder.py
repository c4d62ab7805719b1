"""The sequence encoder contract, ``(batch, seq_len, dim) -> (batch, seq_len, dim')`` under a
padding mask, shared by the RNN encoders (`formed.modules._rnn_encoders`) and the Transformer
(`formed.modules._transformer`).

Every sequence encoder takes the padding mask and honours it: outputs at real positions do not
depend on what sits in padded positions or on how much padding follows, and padded positions of
the output are zeros. Masks are right-padded: each row is true for its first ``length`` positions.
Dropout follows nnx: active after ``module.train()``, off after ``module.eval()``; a call may
override this with ``deterministic=`` and draw its masks from its own generator with ``rngs=``. A
call that draws no random number (no dropout, or deterministic) touches no RNG state, so an
encoder without dropout runs under a plain ``jax.jit(encoder)(inputs)``.
"""

from __future__ import annotations

import abc
from typing import Callable

import jax
import jax.numpy as jnp
from flax import nnx

from formed.core import Registrable


class BaseSequenceEncoder(nnx.Module, Registrable, abc.ABC):
    """Contextualises each position of a sequence."""

    @abc.abstractmethod
    def __call__(
        self,
        inputs: jax.Array,
        mask: jax.Array | None = None,
        *,
        deterministic: bool | None = None,
        rngs: nnx.Rngs | None = None,
    ) -> jax.Array:
        """Encodes ``(batch, seq_len, input_dim)`` inputs under a ``(batch, seq_len)`` mask into
        ``(batch, seq_len, output_dim)``, zeros at padded positions. `rngs`, if given, draws this
        call's dropout masks instead of the encoder's own generator (as `nnx.Dropout` does)."""

    @abc.abstractmethod
    def get_input_dim(self) -> int | None:
        """The input feature size, or ``None`` if any size works."""

    @abc.abstractmethod
    def get_output_dim(self) -> int | Callable[[int], int]:
        """The output feature size, or a function from input size to output size."""


def zero_padding(x: jax.Array, mask: jax.Array | None) -> jax.Array:
    """``x`` with zeros at the positions where the ``(batch, seq_len)`` mask is false."""
    return x if mask is None else jnp.where(mask[..., None], x, jnp.zeros((), x.dtype))


def check_encoder_inputs(name: str, inputs: jax.Array, mask: jax.Array | None, features: int) -> jax.Array | None:
    """Checks ``(batch, seq_len, features)`` inputs and their mask; returns the mask as bools."""
    if inputs.ndim != 3 or inputs.shape[-1] != features:
        raise ValueError(f"{name} expects inputs of shape (batch, seq_len, {features}), got {inputs.shape}")
    if mask is None:
        return None
    mask = jnp.asarray(mask).astype(bool)
    if mask.shape != inputs.shape[:2]:
        raise ValueError(f"{name}: mask shape {mask.shape} does not match inputs {inputs.shape} (expected {inputs.shape[:2]})")
    return mask
