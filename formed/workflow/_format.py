"""Formats: how a step's result is written to and read from a cache directory.

A `Format` is a registrable strategy with `write(artifact, directory)` and `read(directory)`.
`default_format_for(obj)` picks the most specific registered format whose `is_default_of(obj)`
accepts the object (formats registered later are more specific), so a step rarely has to name one.
"""

from __future__ import annotations

import abc
import json
import pickle
from pathlib import Path
from typing import Any, Generic

from typing_extensions import TypeVar

from formed.core import Registrable

_T = TypeVar("_T", default=Any)


class Format(Registrable, Generic[_T], abc.ABC):
    """Writes and reads one kind of artifact inside a directory it owns."""

    @property
    def identifier(self) -> str:
        """Unique identifier of this format, stored next to the artifact."""
        return type(self).name_of(type(self)) or f"{type(self).__module__}:{type(self).__qualname__}"

    @abc.abstractmethod
    def write(self, artifact: _T, directory: Path) -> None:
        """Writes `artifact` into the existing, empty `directory`."""

    @abc.abstractmethod
    def read(self, directory: Path) -> _T:
        """Reads back what `write` wrote into `directory`."""

    @classmethod
    def is_default_of(cls, obj: Any) -> bool:
        """Whether this format should be used by default for `obj`."""
        return False


def _is_json_value(obj: Any) -> bool:
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return True
    if isinstance(obj, list):
        return all(_is_json_value(item) for item in obj)
    if isinstance(obj, dict):
        return all(isinstance(key, str) and _is_json_value(value) for key, value in obj.items())
    return False


@Format.register("pickle")
class PickleFormat(Format[Any]):
    """Any picklable object; the fallback when no other format claims an object."""

    def write(self, artifact: Any, directory: Path) -> None:
        with open(Path(directory) / "artifact.pkl", "wb") as file:
            pickle.dump(artifact, file)

    def read(self, directory: Path) -> Any:
        with open(Path(directory) / "artifact.pkl", "rb") as file:
            return pickle.load(file)

    @classmethod
    def is_default_of(cls, obj: Any) -> bool:
        return True


@Format.register("json")
class JsonFormat(Format[Any]):
    """Plain JSON values (dicts with string keys, lists, numbers, strings, booleans, None)."""

    def write(self, artifact: Any, directory: Path) -> None:
        with open(Path(directory) / "artifact.json", "w", encoding="utf-8") as file:
            json.dump(artifact, file, indent=2)  # keys in the result's order, e.g. a table's columns

    def read(self, directory: Path) -> Any:
        with open(Path(directory) / "artifact.json", encoding="utf-8") as file:
            return json.load(file)

    @classmethod
    def is_default_of(cls, obj: Any) -> bool:
        return _is_json_value(obj)


def default_format_for(obj: Any) -> Format[Any]:
    """The most recently registered format that claims `obj` (PickleFormat at worst)."""
    for name in reversed(Format.list_available()):
        format_class = Format.by_name(name)
        if format_class.is_default_of(obj):
            return format_class()
    return PickleFormat()
