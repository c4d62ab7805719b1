"""Exponential moving average of the parameters, as functions of pytrees.

After each optimizer update, ``ema = decay * ema + (1 - decay) * params`` (optax's
`tree_update_moment` of order 1); the average starts at the initial parameters. With gradient
accumulation only the steps that apply an update move the average, so it follows the
parameters' updates, not the micro-batches.

    >>> import jax.numpy as jnp
    >>> ema = ema_init({"w": jnp.zeros(2)})
    >>> ema_update(ema, {"w": jnp.ones(2)}, decay=0.9)["w"]
    Array([0.1, 0.1], dtype=float32)

The engine keeps the average in `TrainState.ema_params`, beside the parameters on the device,
so that it is checkpointed with them and evaluation can use it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax


def check_decay(decay: float | None, path: str = "ema_decay") -> float | None:
    """`decay` if it is None or in [0, 1); raises ValueError naming `path` otherwise."""
    if decay is None:
        return None
    if not 0.0 <= float(decay) < 1.0:
        raise ValueError(f"{path} must be in [0, 1) (e.g. 0.999), got {decay!r}")
    return float(decay)


def ema_init(params: Any) -> Any:
    """The average at the start: a copy of `params` (separate buffers, so donation is safe)."""
    return jax.tree.map(jnp.copy, params)


def ema_update(ema: Any, params: Any, decay: float, updated: jax.Array | None = None) -> Any:
    """One step of the average towards `params`; unchanged where `updated` is False (a step
    that only accumulated gradients)."""
    moved = optax.tree_utils.tree_update_moment(params, ema, decay, 1)
    if updated is None:
        return moved
    return optax.tree_utils.tree_where(updated, moved, ema)
