import numpy as np
import pytest

from formed.core import from_config
from formed.data import DataModule, LabelField, TextField

CONFIG = {
    "fields": {
        "text": {"type": "text", "lowercase": True, "max_length": 8, "characters": True},
        "label": {"type": "label"},
    }
}
TRAIN = [{"text": "Good movie", "label": "pos"}, {"text": "bad plot, bad acting", "label": "neg"}]


def test_build_batch_save_and_load(tmp_path):
    datamodule = from_config(DataModule, CONFIG)
    assert isinstance(datamodule.fields["text"], TextField) and isinstance(datamodule.fields["label"], LabelField)
    assert not datamodule.is_built
    datamodule.build(TRAIN)
    batch = datamodule.batch(TRAIN)
    assert set(batch) == {"text", "label"}
    assert batch["text"].surfaces.ids.shape == (2, 5) and batch["label"].tolist() == [1, 0]

    datamodule.save(tmp_path / "data")
    loaded = DataModule.load(tmp_path / "data")
    loaded_text, loaded_label = loaded.fields["text"], loaded.fields["label"]
    assert isinstance(loaded_text, TextField) and isinstance(loaded_label, LabelField)
    assert loaded.is_built and loaded_text.vocab_size == datamodule.fields["text"].data_values()["vocab_size"]
    again = loaded.batch(TRAIN + [{"text": "unseen words", "label": "neg"}])
    np.testing.assert_array_equal(again["text"].surfaces.ids[:2], batch["text"].surfaces.ids)
    np.testing.assert_array_equal(again["text"].characters.ids[:2], batch["text"].characters.ids)
    assert loaded_label.distribution is not None
    np.testing.assert_allclose(loaded_label.distribution, [0.5, 0.5])


def test_batch_is_a_pytree():
    import jax

    datamodule = from_config(DataModule, CONFIG).build(TRAIN)
    leaves = jax.tree_util.tree_leaves(datamodule.batch(TRAIN))
    assert len(leaves) == 5  # surfaces ids/mask, characters ids/mask, label


def test_config_errors_name_the_path():
    with pytest.raises(ValueError, match="fields.text.type"):
        from_config(DataModule, {"fields": {"text": {"type": "txt"}}})
    with pytest.raises(ValueError, match="at least one field"):
        DataModule({})


def test_records_the_fields_cannot_use_are_named_by_file_line_and_column(tmp_path, caplog):
    import logging

    import pytest

    from formed.data import DataFormatError, read_csv, read_jsonl

    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "a b", "label": "x"}\n{"text": "b c", "label": "y"}\n', encoding="utf-8")
    test = tmp_path / "test.jsonl"
    test.write_text(
        '{"text": "a", "label": "x"}\n'
        '{"label": "y"}\n'  # no text
        '{"text": 42, "label": "y"}\n'  # not a string
        '{"text": "c",  "label": "z"}\n',  # a label training never had
        encoding="utf-8",
    )
    datamodule = from_config(DataModule, {"fields": {"text": {"type": "text"}, "label": {"type": "label"}}})
    datamodule.build(datamodule.check(read_jsonl(train), split="train"))
    records = read_jsonl(test)
    for record, where, message in [
        (records[1], "test.jsonl:2: field 'text': has no column 'text'", "it has ['label']"),
        (records[2], "test.jsonl:3:10: field 'text': has 42 (an int) in column 'text'", "expected a string"),
        (records[3], "test.jsonl:4:25: field 'label': has label 'z'", "known labels: ['x', 'y']"),
    ]:
        with pytest.raises(DataFormatError) as error:
            datamodule.check([records[0], record], split="test")
        assert where in str(error.value) and message in str(error.value)
    with caplog.at_level(logging.WARNING):
        kept = datamodule.check(records, split="test", skip_malformed=True)
    assert kept == [records[0]]
    assert "skipped 3 unusable row(s) of" in caplog.text and "test.jsonl" in caplog.text
    # CSV columns are counted in fields.
    csv_path = tmp_path / "test.csv"
    csv_path.write_text("label,text\nx,a\nw,b\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"test.csv:3:1: field 'label': has label 'w'"):
        datamodule.check(read_csv(csv_path), split="test")


def test_records_without_the_label_batch_without_it_and_evaluation_says_what_is_missing():
    datamodule = from_config(DataModule, CONFIG).build(TRAIN)
    assert datamodule.targets == ["label"]
    batch = datamodule.batch([{"text": "good plot"}])
    assert set(batch) == {"text"}
    with pytest.raises(ValueError, match="record 1 has no column 'label'"):
        datamodule.batch([TRAIN[0], {"text": "good plot"}])
    with pytest.raises(ValueError, match=r"test\.jsonl: record 2 has no column 'label', which field 'label'"):
        datamodule.require_targets([TRAIN[0], {"text": "good plot"}], source="test.jsonl")
    with pytest.raises(ValueError, match="field 'text': record 0 has no column 'text'"):
        datamodule.batch([{"label": "pos"}])
