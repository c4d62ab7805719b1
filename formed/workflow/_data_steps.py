"""Workflow steps that load a dataset and fit a data module, and the format that caches the latter.

    "dataset": {"type": "data::load_dataset",
                "dataset": {"type": "jsonl", "train": "data/train.jsonl", "test": "data/test.jsonl"}},
    "datamodule": {"type": "data::fit_datamodule",
                   "datamodule": {"fields": {"text": {"type": "text"}, "label": {"type": "label"}}},
                   "dataset": {"type": "ref", "ref": "dataset", "path": "train"}},

``data::load_dataset`` returns the splits, ``{"train": [...], "validation": [...], "test": [...]}``
(a step refers to one with ``path``); a file dataset's files are part of the step's fingerprint,
so editing one reruns the step and what follows. ``data::fit_datamodule`` returns the data module
fitted on the records it is given (cached with `DataModuleFormat`): other steps read its sizes
(``{"type": "ref", "ref": "datamodule", "path": "fields.text.vocab_size"}``) and use it as the
collator of their data loaders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from formed.data import BaseDataset, DataModule
from formed.workflow._format import Format
from formed.workflow._step import step


@Format.register("datamodule")
class DataModuleFormat(Format[DataModule]):
    """A fitted `DataModule`, as `DataModule.save` writes it (``datamodule.json``)."""

    def write(self, artifact: DataModule, directory: Path) -> None:
        if not isinstance(artifact, DataModule):
            raise TypeError(f"DataModuleFormat writes DataModule objects, got {type(artifact).__name__}")
        artifact.save(directory)

    def read(self, directory: Path) -> DataModule:
        return DataModule.load(directory)

    @classmethod
    def is_default_of(cls, obj: Any) -> bool:
        return isinstance(obj, DataModule)


@step("data::load_dataset")
def load_dataset(dataset: BaseDataset) -> dict[str, list[dict[str, Any]]]:
    """Every split of `dataset` (any registered `formed.data.BaseDataset`): ``{"train": [...],
    "validation": [...], "test": [...]}``, empty lists for absent splits.

    >>> splits = load_dataset(BaseDataset.by_name("spatial_relations")(train_size=8, validation_size=2, test_size=2))
    >>> {split: len(records) for split, records in splits.items()}
    {'train': 8, 'validation': 2, 'test': 2}
    """
    return dataset.load()


@step("data::fit_datamodule", format=DataModuleFormat())
def fit_datamodule(datamodule: DataModule, dataset: Sequence[dict[str, Any]]) -> DataModule:
    """`datamodule` fitted (vocabularies, label sets) on `dataset`, the training records.

    >>> from formed.core import from_config
    >>> fitted = fit_datamodule(from_config(DataModule, {"fields": {"label": {"type": "label"}}}),
    ...                         [{"label": "b"}, {"label": "a"}])
    >>> fitted.fields["label"].num_labels
    2
    """
    return datamodule.build(dataset)
