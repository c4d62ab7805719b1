"""PRNG keys for Equinox layers: explicit, as Equinox wants, and seeded from the config's seed.

An Equinox layer takes ``key=`` in its constructor. A layer built from a config gets no key from
the config: given ``key=None`` it draws one from the generator that ``formed.core.use_rngs(seed)``
opened (the same one Flax layers draw from), so a model built inside ``with use_rngs(seed):`` is
the same for the same seed.
"""

from __future__ import annotations

import jax

from formed.core import require_rngs

KeyLike = int | jax.Array


def resolve_key(key: KeyLike | None) -> jax.Array:
    """A PRNG key from an int seed, a key, or (``None``) the current `use_rngs` generator.

    Raises:
        RuntimeError: for ``None`` outside any ``use_rngs`` block, saying how to give a key.
    """
    if key is None:
        return require_rngs().params()
    if isinstance(key, bool):
        raise TypeError(f"expected an int seed or a PRNG key, got bool {key!r}")
    if isinstance(key, int):
        return jax.random.key(key)
    return key


def split_key(key: jax.Array | None, num: int) -> list[jax.Array | None]:
    """`num` keys from `key`, or `num` ``None`` when there is no key (inference mode)."""
    if key is None:
        return [None] * num
    return list(jax.random.split(key, num))
