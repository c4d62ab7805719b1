import numpy as np
import pytest

from formed.core import AnalyzedTextBatch, from_config
from formed.data import BaseField, LabelField, ScalarField, TensorField, TextField


def _bound(field, name):
    field.bind(name)
    return field


TRAIN = [
    {"text": "The cat sat", "tags": "DT NN VB", "label": "pos", "score": 0.5, "vec": [1, 2]},
    {"text": "a dog", "tags": ["DT", "NN"], "label": "neg", "score": 1, "vec": [3, 4]},
    {"text": "the cat", "tags": "DT NN", "label": "pos", "score": 2.0, "vec": [5, 6]},
]


def test_text_field_surfaces_characters_and_postags():
    field = _bound(TextField(lowercase=True, characters=True, postags="tags", bos=True), "text")
    field.build(TRAIN)
    batch = field.batch(TRAIN[:2] + [{"text": "an unseen cat", "tags": "DT JJ NN"}])
    assert isinstance(batch, AnalyzedTextBatch)
    surfaces, chars, tags = batch.surfaces, batch.characters, batch.postags
    assert surfaces is not None and chars is not None and tags is not None
    assert surfaces.ids.shape == (3, 4) and surfaces.ids.dtype == np.int32
    np.testing.assert_array_equal(surfaces.mask.sum(axis=1), [4, 3, 4])
    assert surfaces.ids[2, 1] == field.vocabulary.unk_id  # "an" was not in training
    assert chars.ids.shape[:2] == (3, 4) and chars.ids[0, 0, 0] == field.character_vocabulary.bos_id
    np.testing.assert_array_equal(tags.mask, surfaces.mask)
    assert tags.ids[2, 2] == field.postag_vocabulary.unk_id  # JJ is new
    assert field.vocab_size == len(field.vocabulary) == 2 + 1 + 5


def test_text_field_checks_tag_counts_and_build_state():
    field = _bound(TextField(postags="tags"), "text")
    with pytest.raises(RuntimeError, match="not built"):
        field.batch(TRAIN)
    field.build(TRAIN)
    with pytest.raises(ValueError, match="record 0 has 2 tokens .* but 3 tags"):
        field.batch([{"text": "a b", "tags": "X Y Z"}])
    with pytest.raises(ValueError, match="record 0 has no column 'text'"):
        field.batch([{"txt": "a"}])


def test_label_field_indices_distribution_and_unknown_labels():
    field = _bound(LabelField(), "label")
    field.build(TRAIN)
    assert field.labels == ["neg", "pos"] and field.num_labels == 2
    np.testing.assert_allclose(field.distribution, [1 / 3, 2 / 3])
    labels = field.batch(TRAIN)
    assert labels.dtype == np.int32 and labels.tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="label 'meh' in column 'label' was not seen"):
        field.batch([{"label": "meh"}])
    fixed = _bound(LabelField(labels=["pos", "neg", "neutral"]), "label")
    fixed.build(TRAIN)
    np.testing.assert_allclose(fixed.distribution, [2 / 3, 1 / 3, 0])


def test_scalar_and_tensor_fields():
    scalar = _bound(ScalarField(column="score"), "score")
    values = scalar.batch(TRAIN)
    assert values.dtype == np.float32 and values.tolist() == [0.5, 1.0, 2.0]
    with pytest.raises(ValueError, match="record 1 has 'x'"):
        scalar.batch([{"score": 1}, {"score": "x"}])
    tensor = _bound(TensorField(column="vec", dtype="int32"), "vec")
    stacked = tensor.batch(TRAIN)
    assert stacked.shape == (3, 2) and stacked.dtype == np.int32
    with pytest.raises(ValueError, match=r"record 1 has shape \(3,\)"):
        tensor.batch([{"vec": [1, 2]}, {"vec": [1, 2, 3]}])


def test_fields_from_config():
    field = from_config(BaseField, {"type": "text", "lowercase": True, "max_length": 2})
    assert isinstance(field, TextField) and field.tokenizer.max_length == 2
    assert BaseField.list_available()[:4] == ["text", "label", "scalar", "tensor"]
