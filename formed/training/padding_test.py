import numpy as np

from formed.core import AnalyzedTextBatch, IDSequenceBatch
from formed.training.padding import PaddedCollator, pad_batch


def _batch(length, chars=None):
    ids = np.ones((2, length) + ((chars,) if chars else ()), dtype=np.int32)
    return IDSequenceBatch(ids, np.ones_like(ids, dtype=bool))


def test_pads_to_a_fixed_length_and_keeps_the_mask_false():
    batch = pad_batch({"text": AnalyzedTextBatch(surfaces=_batch(5)), "label": np.array([0, 1])}, length=8)
    surfaces = batch["text"].surfaces
    assert surfaces.ids.shape == (2, 8) and surfaces.mask[:, 5:].sum() == 0 and surfaces.ids[:, 5:].sum() == 0
    assert batch["label"].tolist() == [0, 1]


def test_longer_batches_round_up_to_a_multiple():
    assert pad_batch(_batch(11), length=8, multiple=4).ids.shape == (2, 12)
    assert pad_batch(_batch(3, chars=5), multiple=8).ids.shape == (2, 8, 8)


def test_collator_wraps():
    collator = PaddedCollator(lambda items: {"x": _batch(len(items))}, length=6)
    assert collator([1, 2, 3])["x"].ids.shape == (2, 6)
