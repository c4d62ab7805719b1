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
    assert loaded.is_built and loaded.fields["text"].vocab_size == datamodule.fields["text"].vocab_size
    again = loaded.batch(TRAIN + [{"text": "unseen words", "label": "neg"}])
    np.testing.assert_array_equal(again["text"].surfaces.ids[:2], batch["text"].surfaces.ids)
    np.testing.assert_array_equal(again["text"].characters.ids[:2], batch["text"].characters.ids)
    np.testing.assert_allclose(loaded.fields["label"].distribution, [0.5, 0.5])


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
