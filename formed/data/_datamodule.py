"""`DataModule`: the fields of a task, built on the training split and saved with the model.

    datamodule = from_config(DataModule, {"fields": {
        "text": {"type": "text", "lowercase": True, "max_length": 64},
        "label": {"type": "label"},
    }})
    datamodule.build(splits["train"])        # vocabularies and label sets, then frozen
    batch = datamodule.batch(records)        # {"text": AnalyzedTextBatch, "label": int32 (B,)}
    datamodule.batch([{"text": "new text"}]) # {"text": ...}: records to predict on have no label
    datamodule.save(workdir / "data")        # and DataModule.load(...) at prediction time

`batch` is the collator of a `DataLoader`. Its result is a dict pytree of numpy arrays.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from formed.core import from_config
from formed.data._fields import BaseField, Record
from formed.data._readers import DataFormatError, locate, report_skipped

_FILE = "datamodule.json"


def _any_has(records: Sequence[Record], column: str) -> bool:
    return any(isinstance(record, Mapping) and column in record for record in records)


class DataModule:
    """Named fields; each reads its column (the name, unless the field sets `column`).

    Args:
        fields: ``{name: field}``; the batch dict has the same keys.
    """

    def __init__(self, fields: Mapping[str, BaseField]) -> None:
        if not fields:
            raise ValueError("a DataModule needs at least one field")
        self.fields: dict[str, BaseField] = dict(fields)
        for name, field in self.fields.items():
            field.bind(name)

    @property
    def is_built(self) -> bool:
        return all(field.is_built for field in self.fields.values())

    def build(self, records: Sequence[Record]) -> DataModule:
        """Fits every field on the training records; call it once, on the training split only."""
        if not records:
            raise ValueError("DataModule.build needs the (non-empty) training records")
        for field in self.fields.values():
            field.build(records)
        return self

    def check(self, records: Sequence[Record], split: str = "data", skip_malformed: bool = False) -> list[Record]:
        """The records every field can use; a record that one cannot is an error naming its file,
        1-based line and column (records read by `formed.data._readers`), or its split and 1-based
        position (other records). Before `build` the fields check columns and value types, after
        it also what they learned (a label the training data never had).

        With `skip_malformed`, such records are dropped instead and their number per file is
        logged as a warning.

        >>> from formed.data._fields import LabelField
        >>> datamodule = DataModule({"label": LabelField()}).build([{"label": "a"}])
        >>> datamodule.check([{"label": "a"}, {"label": "b"}], split="test")
        Traceback (most recent call last):
        ...
        ValueError: test split, record 2: field 'label': has label 'b' in column 'label', which the training data does not have; known labels: ['a']
        """
        kept: list[Record] = []
        skipped: dict[str, list[ValueError]] = {}
        for index, record in enumerate(records):
            error = self._error(record, index, split)
            if error is None:
                kept.append(record)
                continue
            if not skip_malformed:
                raise error
            skipped.setdefault(getattr(error, "path", f"the {split} split"), []).append(error)
        for path, errors in skipped.items():
            report_skipped(path, errors, why="unusable")
        return kept

    def _error(self, record: Any, index: int, split: str) -> ValueError | None:
        for name, field in self.fields.items():
            found = field.problem(record)
            if found is None:
                continue
            column, message = found
            where = locate(record, column)
            if where is None:
                return ValueError(f"{split} split, record {index + 1}: field {name!r}: {message}")
            return DataFormatError(where[0], where[1], where[2], f"field {name!r}: {message}")
        return None

    def batch(self, records: Sequence[Record]) -> dict[str, Any]:
        """``{field name: batch of that field}`` for a list of records.

        A target field (a label: `BaseField.is_target`) whose column none of the records has is
        left out, so that records to predict on batch without one; records that have it only in
        part raise a ValueError naming the first record without it.
        """
        batch = {}
        for name, field in self.fields.items():
            if field.is_target and records and not _any_has(records, field.column or name):
                continue
            batch[name] = field.batch(records)
        return batch

    @property
    def targets(self) -> list[str]:
        """The names of the target fields (what a model learns to predict)."""
        return [name for name, field in self.fields.items() if field.is_target]

    def require_targets(self, records: Sequence[Mapping[str, Any]], source: str = "the records") -> None:
        """Raises ValueError naming the first record (1-based) of `source` that lacks a target
        field's column: what evaluation, which compares predictions with targets, needs."""
        for name in self.targets:
            column = self.fields[name].column or name
            for index, record in enumerate(records):
                if not isinstance(record, Mapping) or column not in record:
                    raise ValueError(
                        f"{source}: record {index + 1} has no column {column!r}, which field {name!r} (the "
                        f"target) reads; evaluating needs labelled records"
                    )

    __call__ = batch

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Writes the field configs and what they learned to ``directory/datamodule.json``."""
        os.makedirs(directory, exist_ok=True)
        data = {
            "fields": {
                name: {"type": BaseField.name_of(type(field)), "config": field.config(), "state": field.state()}
                for name, field in self.fields.items()
            }
        }
        with open(os.path.join(directory, _FILE), "w", encoding="utf-8") as file:
            json.dump(data, file, indent=1)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> DataModule:
        """Reads a data module written by `save`, built and ready to batch."""
        path = os.path.join(directory, _FILE)
        with open(path, encoding="utf-8") as file:
            try:
                data = json.load(file)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}") from None
        fields = {}
        for name, entry in data["fields"].items():
            field = from_config(BaseField, {"type": entry["type"], **entry["config"]}, path=f"{path}:fields.{name}")
            field.bind(name)
            field.load_state(entry["state"])
            fields[name] = field
        return cls(fields)
