import json

import numpy as np
import pytest

from formed.core import from_config
from formed.data import BaseDataset, DataModule, JsonlDataset, LabelField, SpatialRelationsDataset, TextField


def test_file_datasets(tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps({"text": t, "label": "x"}) for t in ["a", "b"]))
    dataset = from_config(BaseDataset, {"type": "jsonl", "train": str(train)})
    assert isinstance(dataset, JsonlDataset)
    splits = dataset.load()
    assert splits == {"train": [{"text": "a", "label": "x"}, {"text": "b", "label": "x"}], "validation": [], "test": []}
    (tmp_path / "dev.csv").write_text("text,label\nc,y\n")
    csv_splits = from_config(BaseDataset, {"type": "csv", "train": str(tmp_path / "dev.csv")}).load()
    assert csv_splits["train"] == [{"text": "c", "label": "y"}]
    with pytest.raises(FileNotFoundError, match="validation file"):
        from_config(BaseDataset, {"type": "tsv", "train": str(train), "validation": str(tmp_path / "no.tsv")}).load()


def test_generated_dataset_is_the_default_and_deterministic():
    dataset = from_config(BaseDataset, {"seed": 1, "train_size": 50, "validation_size": 10, "test_size": 10})
    assert isinstance(dataset, SpatialRelationsDataset)
    splits = dataset.load()
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [50, 10, 10]
    assert splits == SpatialRelationsDataset(seed=1, train_size=50, validation_size=10, test_size=10).load()
    assert splits["train"] != SpatialRelationsDataset(seed=2, train_size=50).load()["train"]


def _order_rule(text):
    """Reads the label as the task defines it: the first colour if the relation says left."""
    from formed.data._generated import COLORS

    words = text.split()
    colors = [w for w in words if w in COLORS]
    return colors[0] if ("left" in words or "west" in words) else colors[1]


def test_word_order_decides_and_bag_of_words_cannot():
    splits = SpatialRelationsDataset(seed=0, train_size=3000, validation_size=600, test_size=0).load()
    assert all(_order_rule(r["text"]) == r["label"] for r in splits["validation"])
    text_field, label_field = TextField(), LabelField()
    datamodule = DataModule({"text": text_field, "label": label_field}).build(splits["train"])

    def bag(records):
        batch = datamodule.batch(records)
        ids, mask = batch["text"].surfaces.ids, batch["text"].surfaces.mask
        counts = np.zeros((len(records), text_field.vocab_size))
        np.add.at(counts, (np.repeat(np.arange(len(records)), ids.shape[1]), ids.ravel()), mask.ravel())
        return np.hstack([counts, np.ones((len(records), 1))]), batch["label"]

    features, labels = bag(splits["train"])
    targets = np.eye(label_field.num_labels)[labels]
    # A linear bag-of-words classifier (ridge regression on one-hot labels).
    weights = np.linalg.solve(features.T @ features + 1.0 * np.eye(features.shape[1]), features.T @ targets)
    val_features, val_labels = bag(splits["validation"])
    accuracy = float(((val_features @ weights).argmax(axis=1) == val_labels).mean())
    assert 0.2 < accuracy < 0.7, accuracy
