"""formed.integrations.flax.modules.embedders (implemented in formed.modules.embedders)."""

from formed.modules.embedders import (
    AnalyzedTextEmbedder,
    BaseEmbedder,
    EmbedderOutput,
    TokenEmbedder,
)

__all__ = [
    "AnalyzedTextEmbedder",
    "BaseEmbedder",
    "EmbedderOutput",
    "TokenEmbedder",
]
