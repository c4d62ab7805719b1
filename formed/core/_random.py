"""The ambient `nnx.Rngs` that modules built from a config draw their parameters from.

Layers take an explicit ``rngs`` argument, as in Flax NNX. When a model is built from a config
nobody passes it by hand: the caller opens ``with use_rngs(seed):`` and every layer constructed
inside, given ``rngs=None``, calls `require_rngs()` (through `resolve_rngs`) to get the shared
generator. The state lives in a `contextvars.ContextVar`, so threads and nested contexts do not
leak into each other.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

import jax
from flax import nnx

_CURRENT_RNGS: contextvars.ContextVar[nnx.Rngs | None] = contextvars.ContextVar("formed_rngs", default=None)

RngsLike = int | jax.Array | nnx.Rngs


def _as_rngs(seed_or_rngs: RngsLike) -> nnx.Rngs:
    if isinstance(seed_or_rngs, nnx.Rngs):
        return seed_or_rngs
    if isinstance(seed_or_rngs, bool):
        raise TypeError(f"expected an int seed, a PRNG key or nnx.Rngs, got bool {seed_or_rngs!r}")
    return nnx.Rngs(seed_or_rngs)


@contextlib.contextmanager
def use_rngs(default: RngsLike | None = None) -> Iterator[nnx.Rngs]:
    """Sets the current `nnx.Rngs` for the duration of a ``with`` block, then restores the old one.

    Args:
        default: a seed, a PRNG key or an `nnx.Rngs` to use inside the block. With ``None`` the
            current generator is kept if there is one, otherwise ``nnx.Rngs(0)`` is used.

    Yields:
        The `nnx.Rngs` that is current inside the block.

    A layer built inside with ``rngs=None`` (as `from_config` builds them) draws from it, so the
    same seed gives the same parameters:

    >>> def layer(rngs=None):
    ...     return nnx.Linear(2, 3, rngs=resolve_rngs(rngs))
    >>> with use_rngs(42):
    ...     first = layer()
    >>> with use_rngs(42):
    ...     second = layer()
    >>> bool((first.kernel[...] == second.kernel[...]).all()), first.kernel.shape
    (True, (2, 3))
    """
    if default is None:
        rngs = _CURRENT_RNGS.get()
        if rngs is None:
            rngs = nnx.Rngs(0)
    else:
        rngs = _as_rngs(default)
    token = _CURRENT_RNGS.set(rngs)
    try:
        yield rngs
    finally:
        _CURRENT_RNGS.reset(token)


def require_rngs() -> nnx.Rngs:
    """Returns the current `nnx.Rngs`.

    Raises:
        RuntimeError: outside any `use_rngs` block, saying how to provide one.
    """
    rngs = _CURRENT_RNGS.get()
    if rngs is None:
        raise RuntimeError(
            "no nnx.Rngs is available: pass rngs=... to the module, or build it inside "
            "`with formed.core.use_rngs(seed): ...`"
        )
    return rngs


def resolve_rngs(rngs: RngsLike | None) -> nnx.Rngs:
    """What a layer constructor does with its ``rngs`` argument: an int or key becomes
    `nnx.Rngs`, and ``None`` means the current one from `use_rngs`."""
    if rngs is None:
        return require_rngs()
    return _as_rngs(rngs)
