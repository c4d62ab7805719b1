"""formed.integrations.flax.modules.feedforward (implemented in formed.modules.feedforward)."""

from formed.modules.feedforward import Block, FeedForward

__all__ = [
    "Block",
    "FeedForward",
]
