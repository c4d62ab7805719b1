"""Datasets: named sources of records split into ``train``, ``validation`` and ``test``.

`BaseDataset` is `Registrable`; a config picks one by ``type``. File datasets ("jsonl", "csv",
"tsv") take one path per split; generated datasets (see `formed.data._generated`) need nothing
downloaded and are the default data of the train command.

    splits = from_config(BaseDataset, {"type": "jsonl", "train": "train.jsonl", "validation": "dev.jsonl"}).load()
    splits["train"][0]   # {"text": "...", "label": "..."}
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable
from typing import Any

from formed.core import Registrable
from formed.data._readers import read_csv, read_jsonl, read_tsv

SPLITS = ("train", "validation", "test")

Splits = dict[str, list[dict[str, Any]]]


class BaseDataset(Registrable, abc.ABC):
    """A source of records; `load` returns every split (empty lists for absent ones)."""

    default_implementation = "spatial_relations"

    @abc.abstractmethod
    def load(self) -> Splits:
        """``{"train": [...], "validation": [...], "test": [...]}`` of record dicts."""


class _FileDataset(BaseDataset):
    """Reads one file per split with `reader`.

    Args:
        train / validation / test: paths of the splits' files (``None``: the split is empty).
        skip_malformed: drop malformed rows (their count is logged) instead of failing.
    """

    reader: Callable[..., list[dict[str, Any]]]

    def __init__(
        self,
        train: str,
        validation: str | None = None,
        test: str | None = None,
        skip_malformed: bool = False,
    ) -> None:
        self.paths = {"train": train, "validation": validation, "test": test}
        self.skip_malformed = skip_malformed

    def load(self) -> Splits:
        splits: Splits = {}
        for split, path in self.paths.items():
            if path is None:
                splits[split] = []
                continue
            if not os.path.exists(path):
                raise FileNotFoundError(f"{split} file {path!r} of the {type(self).__name__} does not exist")
            splits[split] = type(self).reader(path, skip_malformed=self.skip_malformed)
        return splits


@BaseDataset.register("jsonl")
class JsonlDataset(_FileDataset):
    """One JSON object per line and split file."""

    reader = staticmethod(read_jsonl)


@BaseDataset.register("csv")
class CsvDataset(_FileDataset):
    """Comma-separated split files with a header row."""

    reader = staticmethod(read_csv)


@BaseDataset.register("tsv")
class TsvDataset(_FileDataset):
    """Tab-separated split files with a header row."""

    reader = staticmethod(read_tsv)
