"""Padding batches to a few fixed shapes, so that the jitted step is traced only a few times.

`formed.data` pads each batch to its longest text, so sequence lengths vary from batch to batch,
and every new shape would compile the training step again. `PaddedCollator` wraps a collator and
pads every `IDSequenceBatch` in its output: the token axis to `length` (or up to the next
multiple of `multiple`), the character axis of ``(B, T, C)`` ids up to a multiple of `multiple`.
Padding adds id 0 with mask false, which every layer ignores.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np

from formed.core import AnalyzedTextBatch, IDSequenceBatch


def _target(size: int, length: int | None, multiple: int) -> int:
    if length is not None and size <= length:
        return length
    return -(-size // multiple) * multiple


def pad_sequences(batch: IDSequenceBatch, length: int | None = None, multiple: int = 8) -> IDSequenceBatch:
    """Pads ``ids`` / ``mask`` of shape ``(B, T)`` or ``(B, T, C)`` as described in the module docs."""
    ids, mask = np.asarray(batch.ids), np.asarray(batch.mask)
    widths = [(0, 0)] * ids.ndim
    widths[1] = (0, _target(ids.shape[1], length, multiple) - ids.shape[1])
    if ids.ndim == 3:
        widths[2] = (0, _target(ids.shape[2], None, multiple) - ids.shape[2])
    if all(after == 0 for _, after in widths):
        return batch
    return IDSequenceBatch(np.pad(ids, widths), np.pad(mask, widths))


def pad_batch(batch: Any, length: int | None = None, multiple: int = 8) -> Any:
    """Pads every `IDSequenceBatch` inside dicts, lists and `AnalyzedTextBatch` es."""
    if isinstance(batch, IDSequenceBatch):
        return pad_sequences(batch, length, multiple)
    if isinstance(batch, AnalyzedTextBatch):
        return dataclasses.replace(
            batch, **{f.name: pad_batch(getattr(batch, f.name), length, multiple) for f in dataclasses.fields(batch)}
        )
    if isinstance(batch, dict):
        return {key: pad_batch(value, length, multiple) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(pad_batch(value, length, multiple) for value in batch)
    return batch


class PaddedCollator:
    """A collator whose batches are padded by `pad_batch`.

    Args:
        collator: the wrapped collator, e.g. `DataModule.batch`.
        length: pad the token axis to this length (longer batches go up to a multiple).
        multiple: otherwise round lengths up to a multiple of this.
    """

    def __init__(self, collator: Callable[[Sequence[Any]], Any], length: int | None = None, multiple: int = 8) -> None:
        if multiple < 1:
            raise ValueError(f"multiple must be at least 1, got {multiple}")
        self.collator = collator
        self.length = length
        self.multiple = multiple

    def __call__(self, items: Sequence[Any]) -> Any:
        return pad_batch(self.collator(items), self.length, self.multiple)
