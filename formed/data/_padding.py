"""Padding batches to a few fixed shapes, so that a jitted step is traced only a few times.

A `DataModule` pads each batch to its longest text, so sequence lengths vary from batch to batch
and every new shape would compile the step again. `PaddedCollator` batches records with a data
module and pads the token axis of every text field to a length chosen by the field's own
``max_length`` (the one length setting):

* ``lengths="max_length"`` (training): always the field's longest possible sequence
  (``max_length`` plus begin/end tokens), so the step compiles once; a field without
  ``max_length`` falls back to buckets;
* ``lengths="buckets"`` (prediction): the next power of two (at least 8), capped at that longest
  sequence, so short inputs stay cheap and a step compiles at most once per bucket.

Character axes ``(B, T, C)`` go to ``max_characters`` or the next bucket. With `batch_size`, the
batch axis is padded too (rows of padding, mask false), so a short last batch has the shape of
the others. Padding adds id 0 with mask false, which every layer ignores.

    >>> bucket_length(5), bucket_length(9), bucket_length(10, max_length=12), bucket_length(40, max_length=32)
    (8, 16, 12, 40)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal, Sequence

import numpy as np

from formed.core import AnalyzedTextBatch, IDSequenceBatch

if TYPE_CHECKING:
    from formed.data._datamodule import DataModule

Lengths = Literal["max_length", "buckets"]
SMALLEST_BUCKET = 8


def bucket_length(length: int, max_length: int | None = None, smallest: int = SMALLEST_BUCKET) -> int:
    """The padded length of a sequence axis of `length`: the next power of two (at least
    `smallest`), capped at `max_length` when `length` fits in it (a longer one is left as is)."""
    if max_length is not None and length >= max_length:
        return length
    bucket = smallest
    while bucket < length:
        bucket *= 2
    return bucket if max_length is None else min(bucket, max_length)


def buckets_up_to(max_length: int, smallest: int = SMALLEST_BUCKET) -> list[int]:
    """Every length `bucket_length` can give for sequences of at most `max_length`.

    >>> buckets_up_to(34)
    [8, 16, 32, 34]
    """
    return sorted({bucket_length(length, max_length, smallest) for length in range(1, max_length + 1)})


def pad_axis(array: np.ndarray, axis: int, size: int) -> np.ndarray:
    """`array` padded with zeros (False) at the end of `axis` up to `size`."""
    if array.shape[axis] >= size:
        return array
    widths = [(0, 0)] * array.ndim
    widths[axis] = (0, size - array.shape[axis])
    return np.pad(array, widths)


def pad_sequences(batch: IDSequenceBatch, length: int | None = None, characters: int | None = None) -> IDSequenceBatch:
    """Pads ``ids`` / ``mask`` of shape ``(B, T)`` or ``(B, T, C)``: the token axis to `length`
    (or the next bucket), the character axis to `characters` (or the next bucket)."""
    ids, mask = np.asarray(batch.ids), np.asarray(batch.mask)
    target = length if length is not None else bucket_length(ids.shape[1])
    ids, mask = pad_axis(ids, 1, target), pad_axis(mask, 1, target)
    if ids.ndim == 3:
        target = characters if characters is not None else bucket_length(ids.shape[2])
        ids, mask = pad_axis(ids, 2, target), pad_axis(mask, 2, target)
    return IDSequenceBatch(ids, mask)


def pad_text(
    batch: AnalyzedTextBatch | IDSequenceBatch, length: int | None = None, characters: int | None = None
) -> Any:
    """Pads every `IDSequenceBatch` of an `AnalyzedTextBatch` (surfaces, postags, characters)."""
    if isinstance(batch, IDSequenceBatch):
        return pad_sequences(batch, length, characters)
    return dataclasses.replace(
        batch,
        **{
            f.name: None if getattr(batch, f.name) is None else pad_sequences(getattr(batch, f.name), length, characters)
            for f in dataclasses.fields(batch)
        },
    )


def pad_rows(batch: Any, size: int) -> Any:
    """Every array of the pytree `batch` padded along axis 0 to `size` rows (zeros / False)."""
    if isinstance(batch, np.ndarray):
        return pad_axis(batch, 0, size)
    if isinstance(batch, IDSequenceBatch):
        return IDSequenceBatch(pad_axis(np.asarray(batch.ids), 0, size), pad_axis(np.asarray(batch.mask), 0, size))
    if isinstance(batch, AnalyzedTextBatch):
        return dataclasses.replace(
            batch, **{f.name: pad_rows(getattr(batch, f.name), size) for f in dataclasses.fields(batch)}
        )
    if isinstance(batch, dict):
        return {key: pad_rows(value, size) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(pad_rows(value, size) for value in batch)
    return batch


class PaddedCollator:
    """Batches records with `datamodule` and pads them as the module docs say.

    Args:
        datamodule: a built `DataModule`; its text fields' ``max_length`` set the lengths.
        lengths: ``"max_length"`` (one shape per field: training) or ``"buckets"`` (a few shapes:
            prediction).
        batch_size: also pad the batch axis to this many rows.

    >>> from formed.data import DataModule, LabelField, TextField
    >>> records = [{"text": "the blue ball", "label": "blue"}, {"text": "a red box", "label": "red"}]
    >>> datamodule = DataModule({"text": TextField(max_length=20), "label": LabelField()}).build(records)
    >>> PaddedCollator(datamodule)(records)["text"].surfaces.ids.shape  # (batch, max_length)
    (2, 20)
    >>> PaddedCollator(datamodule, lengths="buckets", batch_size=4)(records)["text"].surfaces.ids.shape
    (4, 8)
    """

    def __init__(self, datamodule: DataModule, lengths: Lengths = "max_length", batch_size: int | None = None) -> None:
        if lengths not in ("max_length", "buckets"):
            raise ValueError(f"lengths must be 'max_length' or 'buckets', got {lengths!r}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.datamodule = datamodule
        self.lengths = lengths
        self.batch_size = batch_size

    def shapes(self, name: str) -> list[int] | None:
        """The token lengths field `name`'s batches can have (None: unbounded, no max_length)."""
        longest = getattr(self.datamodule.fields[name], "max_tokens", None)
        if longest is None:
            return None
        return [longest] if self.lengths == "max_length" else buckets_up_to(longest)

    def pad(self, batch: dict[str, Any]) -> dict[str, Any]:
        """`batch` (a `DataModule.batch` result) padded."""
        padded = dict(batch)
        for name, value in batch.items():
            if not isinstance(value, (AnalyzedTextBatch, IDSequenceBatch)):
                continue
            field = self.datamodule.fields[name]
            longest = getattr(field, "max_tokens", None)
            surfaces = value.surfaces if isinstance(value, AnalyzedTextBatch) else value
            if surfaces is None:
                raise ValueError(f"batch field {name!r} has no surfaces (word ids) to take its length from")
            length = longest if self.lengths == "max_length" and longest is not None else None
            if length is None:
                length = bucket_length(np.shape(surfaces.ids)[1], longest)
            padded[name] = pad_text(value, length, getattr(field, "max_characters", None))
        if self.batch_size is not None:
            padded = pad_rows(padded, self.batch_size)
        return padded

    def __call__(self, records: Sequence[Any]) -> dict[str, Any]:
        return self.pad(self.datamodule.batch(records))
