"""Batch samplers: which dataset items go into each batch, epoch by epoch.

A sampler maps a dataset (any sized sequence) to one epoch of index batches. The order depends
only on ``(seed, epoch)``: each call uses the current epoch and then moves to the next one, and
`set_epoch` picks the epoch explicitly, so that a resumed run reproduces any epoch's order::

    sampler = BasicBatchSampler(batch_size=2, shuffle=True, seed=0)
    sampler.set_epoch(3)
    list(sampler(dataset))   # e.g. [[4, 0], [2, 3], [1]]

With several training processes (one per host, sharing each global batch), `set_process` makes
each process's sampler yield only its own rows of every batch: process ``i`` of ``k`` gets the
``i``-th of ``k`` equal slices. The global order is the same in every process and still depends
only on ``(seed, epoch)``, so resuming stays exact::

    sampler.set_process(1, 2)      # the second of two processes
    list(sampler(dataset))         # e.g. [[0], [3], []] for the batches above
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from formed.core import Registrable


class BaseBatchSampler(Registrable, abc.ABC):
    """Splits a dataset into batches of indices, one epoch per call.

    Args:
        batch_size: items per batch (the last batch may be smaller unless `drop_last`).
        drop_last: drop a last batch smaller than `batch_size`.
        seed: seed of the random order; with the epoch it fixes the order completely.
    """

    default_implementation = "basic"

    def __init__(self, batch_size: int, drop_last: bool = False, seed: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0
        self.process_index = 0
        self.process_count = 1

    def set_process(self, index: int, count: int) -> None:
        """Makes this sampler yield process `index`'s slice (of `count`) of every batch.

        Raises:
            ValueError: if `index` is not in ``[0, count)`` or `batch_size` is not divisible by
                `count` (the global batch is split evenly between processes).
        """
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"process index {index} is not in [0, {count})")
        if self.batch_size % count:
            raise ValueError(
                f"batch_size={self.batch_size} is the global batch over {count} processes: it must be "
                f"divisible by {count}; choose a multiple of {count}"
            )
        self.process_index = index
        self.process_count = count

    def set_epoch(self, epoch: int) -> None:
        """Makes the next call produce the batches of `epoch`."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = epoch

    def num_batches(self, num_items: int) -> int:
        """Batches per epoch for a dataset of `num_items` items."""
        if self.drop_last:
            return num_items // self.batch_size
        return math.ceil(num_items / self.batch_size)

    def __call__(self, dataset: Sequence[Any]) -> Iterator[list[int]]:
        """The batches of the current epoch; the following call gives the next epoch."""
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        batches = self._batches(dataset, rng)[: self.num_batches(len(dataset))]
        if self.process_count > 1:
            index, count = self.process_index, self.process_count
            batches = [batch[index * len(batch) // count : (index + 1) * len(batch) // count] for batch in batches]
        return iter(batches)

    def _split(self, order: np.ndarray) -> list[list[int]]:
        return [order[start : start + self.batch_size].tolist() for start in range(0, len(order), self.batch_size)]

    @abc.abstractmethod
    def _batches(self, dataset: Sequence[Any], rng: np.random.Generator) -> list[list[int]]:
        """All batches of one epoch, the last possibly short (dropped by `__call__` if asked)."""


@BaseBatchSampler.register("basic")
class BasicBatchSampler(BaseBatchSampler):
    """Consecutive batches of the dataset order, or of a fresh permutation each epoch.

    Args:
        batch_size: items per batch.
        shuffle: permute the items each epoch (reproducibly from ``(seed, epoch)``).
        drop_last: drop a last, smaller batch.
        seed: seed of the permutations.
    """

    def __init__(self, batch_size: int, shuffle: bool = False, drop_last: bool = False, seed: int = 0) -> None:
        super().__init__(batch_size, drop_last, seed)
        self.shuffle = shuffle

    def _batches(self, dataset: Sequence[Any], rng: np.random.Generator) -> list[list[int]]:
        order = rng.permutation(len(dataset)) if self.shuffle else np.arange(len(dataset))
        return self._split(order)


def _whitespace_length(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    return len(value)


@BaseBatchSampler.register("size_ordered_bucket")
class SizeOrderedBucketBatchSampler(BaseBatchSampler):
    """Batches of items of similar size, to cut padding.

    Each epoch shuffles the items, cuts them into pools of ``batch_size * pool_batches`` items,
    sorts every pool by size, splits it into batches and finally shuffles the batches, so that
    batches are homogeneous in length but still vary from epoch to epoch.

    Args:
        batch_size: items per batch.
        size_key: the record key whose size orders items (a str counts its white-space
            separated words, anything else its `len`); ignored when `size_fn` is given.
        size_fn: a function giving an item's size, for items that are not records.
        pool_batches: batches per sorting pool; larger pools give tighter batches.
        shuffle: shuffle items and batches; when false, batches follow the globally sorted order.
        drop_last: drop the smallest (last) batch of each epoch when it is short.
        seed: seed of the shuffles.
    """

    def __init__(
        self,
        batch_size: int,
        size_key: str = "text",
        size_fn: Callable[[Any], int] | None = None,
        pool_batches: int = 100,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, drop_last, seed)
        if pool_batches < 1:
            raise ValueError(f"pool_batches must be >= 1, got {pool_batches}")
        self.size_key = size_key
        self.size_fn = size_fn
        self.pool_batches = pool_batches
        self.shuffle = shuffle

    def sizes(self, dataset: Sequence[Any]) -> np.ndarray:
        """The size of every item, int64 ``(len(dataset),)``."""
        if self.size_fn is not None:
            return np.fromiter((self.size_fn(item) for item in dataset), dtype=np.int64, count=len(dataset))
        sizes = np.empty(len(dataset), dtype=np.int64)
        for index, item in enumerate(dataset):
            try:
                sizes[index] = _whitespace_length(item[self.size_key])
            except (KeyError, TypeError, IndexError) as error:
                raise ValueError(
                    f"item {index} has no size under size_key={self.size_key!r} ({error!r}); "
                    "set size_key to a column of the records or give size_fn"
                ) from None
        return sizes

    def _batches(self, dataset: Sequence[Any], rng: np.random.Generator) -> list[list[int]]:
        sizes = self.sizes(dataset)
        if not self.shuffle:
            return self._split(np.argsort(sizes, kind="stable"))
        order = rng.permutation(len(dataset))
        pool = self.batch_size * self.pool_batches
        batches: list[list[int]] = []
        for start in range(0, len(order), pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort(sizes[chunk], kind="stable")]
            batches.extend(self._split(chunk))
        full = [batch for batch in batches if len(batch) == self.batch_size]
        short = [batch for batch in batches if len(batch) < self.batch_size]
        # Short batches (at most one per pool) go last so that drop_last drops one of them.
        permuted = [full[i] for i in rng.permutation(len(full))]
        return permuted + short
