"""formed.integrations.flax.modules.vectorizers (implemented in formed.modules.vectorizers)."""

from formed.modules.vectorizers import BagOfEmbeddingsSequenceVectorizer, BaseSequenceVectorizer

__all__ = [
    "BagOfEmbeddingsSequenceVectorizer",
    "BaseSequenceVectorizer",
]
