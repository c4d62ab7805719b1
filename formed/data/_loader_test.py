import gc
import threading

import pytest

from formed.data import BasicBatchSampler, DataLoader


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "formed-data-prefetch" and t.is_alive()]


def _wait_for_no_threads(timeout=30.0):
    """Joins every prefetch thread (the timeout only keeps a broken loader from hanging the
    test); returns those still alive."""
    for thread in _prefetch_threads():
        thread.join(timeout)
    return _prefetch_threads()


@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_len_and_batches(prefetch):
    loader = DataLoader(BasicBatchSampler(batch_size=3), collator=lambda items: sum(items), prefetch=prefetch)
    batches = loader(list(range(10)))
    assert len(batches) == 4
    assert list(batches) == [0 + 1 + 2, 3 + 4 + 5, 6 + 7 + 8, 9]
    assert not _wait_for_no_threads()


def test_each_iteration_is_a_new_epoch():
    loader: DataLoader[int, list[int]] = DataLoader(BasicBatchSampler(batch_size=4, shuffle=True, seed=0), collator=list)
    batches = loader(list(range(40)))
    assert list(batches) != list(batches)


def test_prefetches_in_the_background():
    collated = []
    fourth_collated = threading.Event()

    def collate(items):
        collated.append(items)
        if len(collated) == 4:
            fourth_collated.set()
        return items

    loader = DataLoader(BasicBatchSampler(batch_size=1), collator=collate, prefetch=2)
    iterator = iter(loader(list(range(10))))
    assert next(iterator) == [0]
    # With one batch consumed, the thread collates ahead on its own: two batches fill the queue
    # and a third waits to be put. It cannot collate a fifth until the consumer takes one.
    assert fourth_collated.wait(timeout=30)
    assert len(collated) == 4
    assert next(iterator) == [1]
    iterator.close()
    assert [items[0] for items in collated[:4]] == [0, 1, 2, 3]


def test_break_and_close_stop_the_thread():
    loader: DataLoader[int, list[int]] = DataLoader(BasicBatchSampler(batch_size=1), collator=list, prefetch=2)
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
    loader: DataLoader[int, list[int]] = DataLoader(BasicBatchSampler(batch_size=2), collator=list)
    seen = []
    for batch in loader(list(range(7))):
        gc.collect()
        seen.append(batch)
    assert seen == [[0, 1], [2, 3], [4, 5], [6]]
    assert not _wait_for_no_threads()
