"""`DataLoader`: turns a dataset into batches, prefetched by a background thread.

    loader = DataLoader(sampler=BasicBatchSampler(batch_size=32, shuffle=True), collator=datamodule.batch)
    with loader(train_records) as batches:     # a BatchIterator
        for batch in batches:                  # one epoch; the next batch is collated meanwhile
            ...

While the device computes on one batch, the thread collates the next ones (up to `prefetch`
batches ahead). Collating is mostly numpy and the compiled text extension, which release the
GIL, so the thread truly runs alongside the training step. `BatchIterator.close()` (also run
on `break` once the loop's iterator is dropped or garbage-collected, and at the end of a
``with`` block) stops the thread and waits for it.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, Generic

from typing_extensions import TypeVar

from formed.data._samplers import BaseBatchSampler

Item = TypeVar("Item", default=Any)
Batch = TypeVar("Batch", default=Any)

_DONE = object()  # put by the worker after the last batch


class _WorkerError:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class DataLoader(Generic[Item, Batch]):
    """Batches a dataset with a sampler and a collator.

    Args:
        sampler: gives each epoch's batches of indices.
        collator: turns a list of items into a batch (e.g. `DataModule.batch`).
        prefetch: batches collated ahead by a background thread; 0 collates in the caller's
            thread, on demand.
    """

    def __init__(
        self,
        sampler: BaseBatchSampler,
        collator: Callable[[list[Item]], Batch],
        prefetch: int = 2,
    ) -> None:
        if prefetch < 0:
            raise ValueError(f"prefetch must be >= 0, got {prefetch}")
        self.sampler = sampler
        self.collator = collator
        self.prefetch = prefetch

    def __call__(self, dataset: Sequence[Item]) -> BatchIterator[Batch]:
        """The batches of `dataset`; each iteration over the result is one epoch."""
        return BatchIterator(dataset, self.sampler, self.collator, self.prefetch)


class BatchIterator(Generic[Batch]):
    """One dataset seen through a `DataLoader`: ``len()`` batches per epoch, iterated with
    prefetching. Iterating again starts the sampler's next epoch."""

    def __init__(
        self,
        dataset: Sequence[Any],
        sampler: BaseBatchSampler,
        collator: Callable[[list[Any]], Batch],
        prefetch: int,
    ) -> None:
        self.dataset = dataset
        self.sampler = sampler
        self.collator = collator
        self.prefetch = prefetch
        self._workers: weakref.WeakSet[_Worker] = weakref.WeakSet()

    def __len__(self) -> int:
        return self.sampler.num_batches(len(self.dataset))

    def __iter__(self) -> Generator[Batch, None, None]:
        batches = self.sampler(self.dataset)
        if self.prefetch == 0:
            return (self.collator([self.dataset[i] for i in indices]) for indices in batches)
        worker = _Worker(self.dataset, batches, self.collator, self.prefetch)
        self._workers.add(worker)
        return worker.batches()

    def close(self) -> None:
        """Stops every prefetching thread of this iterator and waits for them."""
        for worker in list(self._workers):
            worker.stop()

    def __enter__(self) -> BatchIterator[Batch]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Worker:
    """A thread that collates batches into a bounded queue until done or stopped."""

    def __init__(self, dataset: Sequence[Any], batches: Iterator[list[int]], collator: Callable[[list[Any]], Any], prefetch: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=prefetch)
        self._stopping = threading.Event()
        # The thread sees only what it needs (not self), so dropping the consumer frees it.
        self._thread = threading.Thread(
            target=_produce,
            args=(dataset, batches, collator, self._queue, self._stopping),
            name="formed-data-prefetch",
            daemon=True,
        )
        self._thread.start()

    def batches(self) -> Generator[Any, None, None]:
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    return
                if isinstance(item, _WorkerError):
                    raise item.error
                yield item
        finally:
            self.stop()

    def stop(self) -> None:
        self._stopping.set()
        while self._thread.is_alive():
            # Make room so that a producer blocked on a full queue sees the stop request.
            try:
                self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=0.05)

    def __del__(self) -> None:
        self.stop()


def _produce(
    dataset: Sequence[Any],
    batches: Iterator[list[int]],
    collator: Callable[[list[Any]], Any],
    output: queue.Queue[Any],
    stopping: threading.Event,
) -> None:
    def put(item: Any) -> bool:
        while not stopping.is_set():
            try:
                output.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    try:
        for indices in batches:
            if stopping.is_set():
                return
            if not put(collator([dataset[i] for i in indices])):
                return
    except BaseException as error:  # handed to the consumer, which re-raises it
        put(_WorkerError(error))
        return
    put(_DONE)
