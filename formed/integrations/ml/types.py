"""formed.integrations.ml.types: the batch types the layers accept, with upstream formed's names
(implemented in formed.core.batches)."""

from formed.core import AnalyzedTextBatch, IAnalyzedTextBatch, IDSequenceBatch, IIDSequenceBatch

__all__ = [
    "AnalyzedTextBatch",
    "IAnalyzedTextBatch",
    "IDSequenceBatch",
    "IIDSequenceBatch",
]
