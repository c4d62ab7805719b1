import gc
import threading
import time

import pytest

from formed.data import BasicBatchSampler, DataLoader


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "formed-data-prefetch" and t.is_alive()]


def _wait_for_no_threads(timeout=5.0):
    deadline = time.monotonic() + timeout
    while _prefetch_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    return _prefetch_threads()


@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_len_and_batches(prefetch):
    loader = DataLoader(BasicBatchSampler(batch_size=3), collator=lambda items: sum(items), prefetch=prefetch)
    batches = loader(list(range(10)))
    assert len(batches) == 4
    assert list(batches) == [0 + 1 + 2, 3 + 4 + 5, 6 + 7 + 8, 9]
    assert not _wait_for_no_threads()


def test_each_iteration_is_a_new_epoch():
    loader = DataLoader(BasicBatchSampler(batch_size=4, shuffle=True, seed=0), collator=list)
    batches = loader(list(range(40)))
    assert list(batches) != list(batches)


def test_prefetches_in_the_background():
    collated = []
    loader = DataLoader(BasicBatchSampler(batch_size=1), collator=lambda items: collated.append(items) or items, prefetch=2)
    iterator = iter(loader(list(range(10))))
    assert next(iterator) == [0]
    deadline = time.monotonic() + 5
    while len(collated) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    # One consumed, two in the queue, at most one more collated and waiting to be put: the
    # thread works ahead, but never more than `prefetch` batches past the consumer.
    assert 3 <= len(collated) <= 4
    assert next(iterator) == [1]
    iterator.close()


def test_break_and_close_stop_the_thread():
    loader = DataLoader(BasicBatchSampler(batch_size=1), collator=list, prefetch=2)
    batches = loader(list(range(1000)))
    for index, _ in enumerate(batches):
        if index == 2:
            break
    gc.collect()  # the abandoned generator is closed when collected
    assert not _wait_for_no_threads()

    iterator = iter(batches)
    next(iterator)
    batches.close()
    assert not _wait_for_no_threads()

    with loader(list(range(1000))) as batches:
        next(iter(batches))
    assert not _wait_for_no_threads()


def test_collator_errors_reach_the_consumer():
    def collate(items):
        if items == [2]:
            raise ValueError("bad item 2")
        return items

    loader = DataLoader(BasicBatchSampler(batch_size=1), collator=collate)
    with pytest.raises(ValueError, match="bad item 2"):
        list(loader([0, 1, 2, 3]))
    assert not _wait_for_no_threads()


def test_rejects_negative_prefetch():
    with pytest.raises(ValueError, match="prefetch"):
        DataLoader(BasicBatchSampler(batch_size=1), collator=list, prefetch=-1)


def test_a_for_loop_over_a_temporary_keeps_its_thread():
    # The BatchIterator returned by loader(...) is dropped as soon as the loop starts; the
    # running epoch must go on until its end.
    loader = DataLoader(BasicBatchSampler(batch_size=2), collator=list)
    seen = []
    for batch in loader(list(range(7))):
        gc.collect()
        seen.append(batch)
    assert seen == [[0, 1], [2, 3], [4, 5], [6]]
    assert not _wait_for_no_threads()
