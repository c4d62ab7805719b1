import pytest

from formed.core import ConfigurationError, from_config
from formed.data import DataModule, resolve_data_values

TRAIN = [{"text": "the red box", "label": "red"}, {"text": "a blue ball", "label": "blue"}, {"text": "x", "label": "green"}]


@pytest.fixture(scope="module")
def datamodule():
    config = {"fields": {"text": {"type": "text", "characters": True, "max_length": 6}, "label": {"type": "label"}}}
    return from_config(DataModule, config).build(TRAIN)


def test_references_at_any_depth_become_the_fitted_values(datamodule):
    config = {
        "type": "anything",
        "num_classes": "$data.label.num_labels",
        "layers": [{"vocab_size": "$data.text.vocab_size"}, ("$data.text.character_vocab_size", 3)],
        "name": "$ not a reference",
    }
    resolved = resolve_data_values(config, datamodule, path="model")
    assert resolved["num_classes"] == 3
    assert resolved["layers"][0]["vocab_size"] == datamodule.fields["text"].vocab_size
    assert resolved["layers"][1] == (datamodule.fields["text"].character_vocab_size, 3)
    assert resolved["name"] == "$ not a reference"
    assert config["num_classes"] == "$data.label.num_labels"  # the input is not changed
    assert resolve_data_values(resolved, datamodule) == resolved


def test_text_field_values(datamodule):
    assert set(datamodule.fields["text"].data_values()) == {"vocab_size", "character_vocab_size", "max_tokens"}
    assert datamodule.fields["text"].data_values()["max_tokens"] == 6


@pytest.mark.parametrize(
    "reference, message",
    [
        ("$data.txt.vocab_size", r"model\.a\[1\]: '\$data\.txt\.vocab_size': the data module has no field 'txt'; did you mean 'text'\?"),
        ("$data.label.num_classes", r"field 'label' gives no value 'num_classes'.*it gives: num_labels"),
        ("$data.text", r"expected '\$data\.<field>\.<value>'"),
    ],
)
def test_errors_name_the_key_and_what_exists(datamodule, reference, message):
    with pytest.raises(ConfigurationError, match=message):
        resolve_data_values({"a": [0, reference]}, datamodule, path="model")
