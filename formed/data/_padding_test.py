import numpy as np
import pytest

from formed.core import AnalyzedTextBatch, IDSequenceBatch, from_config
from formed.data import DataModule, PaddedCollator, bucket_length, buckets_up_to, pad_rows, pad_text

TRAIN = [{"text": "a b c d e f g h i j k l", "label": "x"}, {"text": "a b", "label": "y"}]


def _datamodule(**text):
    config = {"fields": {"text": {"type": "text", **text}, "label": {"type": "label"}}}
    return from_config(DataModule, config).build(TRAIN)


def _ids(length, chars=None):
    ids = np.ones((2, length) + ((chars,) if chars else ()), dtype=np.int32)
    return IDSequenceBatch(ids, np.ones_like(ids, dtype=bool))


def test_bucket_lengths_are_powers_of_two_capped_at_the_longest():
    assert [bucket_length(n) for n in (1, 8, 9, 17, 100)] == [8, 8, 16, 32, 128]
    assert [bucket_length(n, max_length=12) for n in (3, 9, 12)] == [8, 12, 12]
    assert bucket_length(20, max_length=12) == 20  # longer than the cap: never cut
    assert buckets_up_to(34) == [8, 16, 32, 34] and buckets_up_to(5) == [5]


def test_pad_text_pads_with_id_zero_and_mask_false():
    padded = pad_text(AnalyzedTextBatch(surfaces=_ids(5), characters=_ids(5, chars=3)), length=8)
    assert padded.surfaces.ids.shape == (2, 8) and padded.characters.ids.shape == (2, 8, 8)
    assert padded.surfaces.mask[:, 5:].sum() == 0 and padded.surfaces.ids[:, 5:].sum() == 0
    assert padded.postags is None


def test_pad_rows_pads_the_batch_axis_of_every_array():
    batch = pad_rows({"text": AnalyzedTextBatch(surfaces=_ids(3)), "label": np.array([1, 2])}, 4)
    assert batch["text"].surfaces.ids.shape == (4, 3) and batch["label"].tolist() == [1, 2, 0, 0]
    assert batch["text"].surfaces.mask[2:].sum() == 0


def test_max_length_is_the_one_length_setting_for_training():
    datamodule = _datamodule(max_length=10, bos=True)
    collator = PaddedCollator(datamodule)
    assert collator.shapes("text") == [11]
    for records in (TRAIN, TRAIN[1:]):
        assert collator(records)["text"].surfaces.ids.shape == (len(records), 11)


def test_buckets_bound_the_shapes_whatever_the_mix_of_lengths():
    datamodule = _datamodule(max_length=12)
    collator = PaddedCollator(datamodule, lengths="buckets", batch_size=3)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(30):
        records = [{"text": " ".join("ab"[: 1 + rng.integers(2)] for _ in range(rng.integers(1, 30)))} for _ in range(rng.integers(1, 4))]
        batch = collator(records)
        assert "label" not in batch  # records to predict on have no label
        seen.add(batch["text"].surfaces.ids.shape)
    shapes = collator.shapes("text")
    assert shapes is not None and seen <= {(3, n) for n in shapes} and len(seen) >= 2


def test_a_field_without_max_length_pads_to_buckets():
    collator = PaddedCollator(_datamodule())
    assert collator.shapes("text") is None
    assert collator(TRAIN)["text"].surfaces.ids.shape == (2, 16)


def test_bad_arguments():
    with pytest.raises(ValueError, match="lengths"):
        PaddedCollator(_datamodule(), lengths="longest")  # type: ignore[arg-type]  # the unknown mode is the point
    with pytest.raises(ValueError, match="batch_size"):
        PaddedCollator(_datamodule(), batch_size=0)
