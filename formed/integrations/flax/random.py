"""formed.integrations.flax.random: the ambient nnx.Rngs (implemented in formed.core.random)."""

from formed.core.random import require_rngs, use_rngs

__all__ = [
    "require_rngs",
    "use_rngs",
]
