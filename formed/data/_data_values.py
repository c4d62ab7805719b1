"""Values the data decides, taken into any config: ``"$data.<field>.<value>"``.

Sizes such as a vocabulary size or the number of labels are known only once the data module is
fitted on the training split. A config names them instead of repeating them by hand:

    config.model = dict(
        type="text_classifier",
        num_classes="$data.label.num_labels",
        embedder=dict(type="analyzed_text",
                      surface=dict(type="token", vocab_size="$data.text.vocab_size", embedding_dim=64)),
        ...
    )

`resolve_data_values` replaces every such string, at any depth, by the value the fitted field
reports in `BaseField.data_values` (a text field: ``vocab_size``, ``character_vocab_size``,
``postag_vocab_size``, ``max_tokens``; a label field: ``num_labels``). The `train` binary
resolves the whole config this way before building the model, for every registered model alike,
and the work directory's ``config.json`` holds the numbers.

    >>> from formed.data import DataModule, LabelField, TextField
    >>> records = [{"text": "the blue ball", "label": "blue"}, {"text": "a red box", "label": "red"}]
    >>> datamodule = DataModule({"text": TextField(), "label": LabelField()}).build(records)
    >>> resolve_data_values({"n": "$data.label.num_labels", "v": "$data.text.vocab_size"}, datamodule)
    {'n': 2, 'v': 8}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from formed.core import ConfigurationError, closest_name

if TYPE_CHECKING:
    from formed.data._datamodule import DataModule

PREFIX = "$data."


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _suggest(name: str, choices: list[str]) -> str:
    close = closest_name(name, choices)
    return f"did you mean {close!r}? " if close else ""


def data_value(reference: str, datamodule: DataModule, path: str = "") -> Any:
    """The value ``"$data.<field>.<value>"`` names.

    Raises:
        ConfigurationError: at `path`, naming the unknown field or value and the known ones.
    """
    parts = reference[len(PREFIX):].split(".")
    if len(parts) != 2 or not all(parts):
        raise ConfigurationError(path, f"{reference!r}: expected '$data.<field>.<value>', e.g. '$data.text.vocab_size'")
    field_name, value_name = parts
    fields = sorted(datamodule.fields)
    if field_name not in datamodule.fields:
        raise ConfigurationError(
            path, f"{reference!r}: the data module has no field {field_name!r}; {_suggest(field_name, fields)}fields: {', '.join(fields)}"
        )
    values = datamodule.fields[field_name].data_values()
    if value_name not in values:
        known = ", ".join(sorted(values)) or "none"
        raise ConfigurationError(
            path,
            f"{reference!r}: field {field_name!r} gives no value {value_name!r}; "
            f"{_suggest(value_name, sorted(values))}it gives: {known}",
        )
    return values[value_name]


def resolve_data_values(config: Any, datamodule: DataModule, path: str = "") -> Any:
    """A copy of `config` (dicts, lists, tuples, plain values) with every ``"$data.<field>.<value>"``
    string replaced by that value of the fitted `datamodule`."""
    if isinstance(config, str) and config.startswith(PREFIX):
        return data_value(config, datamodule, path)
    if isinstance(config, dict):
        return {key: resolve_data_values(value, datamodule, _join(path, key)) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return type(config)(resolve_data_values(value, datamodule, _join(path, i)) for i, value in enumerate(config))
    return config
