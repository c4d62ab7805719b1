"""Mixed precision: compute in a low-precision dtype, keep float32 master parameters.

The policy is applied by the engine inside its compiled step, so layers need no dtype
arguments: the float32 parameters are cast to the compute dtype before the model is merged,
floating inputs are cast as well, and the loss is read back in float32. The gradient flows
through the cast, so it arrives in float32 and the optimizer state stays float32.

    >>> import jax.numpy as jnp
    >>> policy = MixedPrecision("bfloat16")
    >>> policy.cast_to_compute({"w": jnp.ones((2, 3)), "ids": jnp.zeros((2,), jnp.int32)})["w"].dtype
    dtype(bfloat16)
    >>> policy.cast_to_compute({"ids": jnp.zeros((2,), jnp.int32)})["ids"].dtype
    dtype('int32')

These are functions of pytrees, usable by any engine (Flax NNX or Equinox).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def cast_floating(tree: Any, dtype: Any) -> Any:
    """`tree` with its floating-point array leaves cast to `dtype`; integer, boolean and
    PRNG-key leaves (token ids, masks, RNG streams) and non-array leaves are left as they are."""

    def cast(leaf: Any) -> Any:
        if isinstance(leaf, (jax.Array, jnp.ndarray)) or hasattr(leaf, "dtype"):
            leaf_dtype = getattr(leaf, "dtype", None)
            if leaf_dtype is not None and jnp.issubdtype(leaf_dtype, jnp.floating) and leaf_dtype != dtype:
                return jnp.asarray(leaf).astype(dtype)
        return leaf

    return jax.tree.map(cast, tree)


class MixedPrecision:
    """A compute dtype for the step; parameters and optimizer state stay float32.

    Args:
        compute_dtype: ``"bfloat16"``, ``"float16"`` or ``"float32"`` (a numpy / jax dtype or
            its name).

    Raises:
        ValueError: if `compute_dtype` is not a floating-point dtype.
    """

    def __init__(self, compute_dtype: Any) -> None:
        try:
            dtype = jnp.dtype(compute_dtype)
        except TypeError:
            dtype = None
        if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(
                f"compute_dtype must be a floating-point dtype such as 'bfloat16' or 'float32', got {compute_dtype!r}"
            )
        self.compute_dtype = dtype

    def cast_to_compute(self, tree: Any) -> Any:
        """Floating leaves of `tree` (parameters, inputs) in the compute dtype."""
        return cast_floating(tree, self.compute_dtype)

    def __repr__(self) -> str:
        return f"MixedPrecision({self.compute_dtype.name!r})"
