import pytest

from formed.core import from_config
from formed.data import BaseBatchSampler, BasicBatchSampler, SizeOrderedBucketBatchSampler


def test_basic_in_order_and_drop_last():
    assert list(BasicBatchSampler(2)(range(5))) == [[0, 1], [2, 3], [4]]
    sampler = BasicBatchSampler(2, drop_last=True)
    assert list(sampler(range(5))) == [[0, 1], [2, 3]]
    assert sampler.num_batches(5) == 2 and BasicBatchSampler(2).num_batches(5) == 3


def test_shuffle_depends_only_on_seed_and_epoch():
    data = range(50)
    first = BasicBatchSampler(8, shuffle=True, seed=3)
    epochs = [list(first(data)) for _ in range(3)]
    assert epochs[0] != epochs[1]  # a new permutation each epoch
    assert sorted(i for batch in epochs[1] for i in batch) == list(data)
    resumed = BasicBatchSampler(8, shuffle=True, seed=3)
    resumed.set_epoch(2)
    assert list(resumed(data)) == epochs[2]
    assert list(BasicBatchSampler(8, shuffle=True, seed=4)(data)) != epochs[0]


def test_size_ordered_buckets_cut_padding():
    records = [{"text": " ".join("w" * (i % 17 + 1))} for i in range(400)]
    sampler = SizeOrderedBucketBatchSampler(batch_size=10, pool_batches=10, seed=1)
    batches = list(sampler(records))
    assert sorted(i for batch in batches for i in batch) == list(range(400))
    sizes = sampler.sizes(records)
    spread = sum(int(sizes[b].max() - sizes[b].min()) for b in batches) / len(batches)
    random_spread = sum(int(sizes[b].max() - sizes[b].min()) for b in BasicBatchSampler(10, shuffle=True)(records))
    assert spread < random_spread / len(batches) / 2
    again = SizeOrderedBucketBatchSampler(batch_size=10, pool_batches=10, seed=1)
    assert list(again(records)) == batches
    assert list(sampler(records)) != batches


def test_size_ordered_drop_last_and_errors():
    records = [{"text": "a " * (i + 1)} for i in range(25)]
    sampler = SizeOrderedBucketBatchSampler(batch_size=10, drop_last=True)
    batches = list(sampler(records))
    assert len(batches) == sampler.num_batches(25) == 2 and all(len(b) == 10 for b in batches)
    with pytest.raises(ValueError, match="size_key='tokens'"):
        list(SizeOrderedBucketBatchSampler(batch_size=2, size_key="tokens")(records))


def test_built_from_config():
    sampler = from_config(BaseBatchSampler, {"type": "size_ordered_bucket", "batch_size": 4})
    assert isinstance(sampler, SizeOrderedBucketBatchSampler)
    assert isinstance(from_config(BaseBatchSampler, {"batch_size": 4, "shuffle": True}), BasicBatchSampler)
    with pytest.raises(ValueError, match="batch_size"):
        BasicBatchSampler(0)


@pytest.mark.parametrize("sampler_type", [BasicBatchSampler, SizeOrderedBucketBatchSampler])
def test_each_process_gets_its_slice_of_every_global_batch(sampler_type):
    records = [{"text": "a " * (i % 7 + 1)} for i in range(48)]

    def epochs(sampler, first_epoch=0, count=3):
        sampler.set_epoch(first_epoch)
        return [list(sampler(records)) for _ in range(count)]

    whole = epochs(sampler_type(batch_size=8, shuffle=True, seed=3))
    parts = []
    for index in range(2):
        sampler = sampler_type(batch_size=8, shuffle=True, seed=3)
        sampler.set_process(index, 2)
        parts.append(epochs(sampler))
    for epoch in range(3):
        for b, batch in enumerate(whole[epoch]):
            assert parts[0][epoch][b] + parts[1][epoch][b] == batch  # process 0's rows first
            assert len(parts[0][epoch][b]) == len(parts[1][epoch][b]) == 4
    # Resuming at epoch 2 (set_epoch) gives each process the slices an uninterrupted run saw.
    resumed = sampler_type(batch_size=8, shuffle=True, seed=3)
    resumed.set_process(1, 2)
    assert epochs(resumed, first_epoch=2, count=1)[0] == parts[1][2]


def test_a_global_batch_that_processes_cannot_share_evenly_is_a_clear_error():
    with pytest.raises(ValueError, match="batch_size=6 is the global batch over 4 processes"):
        BasicBatchSampler(6).set_process(0, 4)
    with pytest.raises(ValueError, match=r"process index 2 is not in \[0, 2\)"):
        BasicBatchSampler(6).set_process(2, 2)
