"""Tests for the data steps: loading any registered dataset, fitting a data module, caching it."""

from __future__ import annotations

import json
from pathlib import Path

from formed.core import from_config
from formed.data import DataModule
from formed.workflow import DataModuleFormat, Workflow, default_format_for, fit_datamodule, get_step, load_dataset, ref


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def data_steps(directory: Path) -> dict:
    return {
        "dataset": {
            "type": "data::load_dataset",
            "dataset": {"type": "jsonl", "train": str(directory / "train.jsonl"), "test": str(directory / "test.jsonl")},
        },
        "datamodule": {
            "type": "data::fit_datamodule",
            "datamodule": {"fields": {"text": {"type": "text"}, "label": {"type": "label"}}},
            "dataset": ref("dataset", "train"),
        },
        "sizes": {
            "type": "formed.workflow._data_steps_test:sizes",
            "vocab_size": ref("datamodule", "fields.text.vocab_size"),
            "num_labels": ref("datamodule", "fields.label.num_labels"),
            "first_test_text": ref("dataset", "test.0.text"),
        },
    }


def sizes(vocab_size: int, num_labels: int, first_test_text: str = "") -> dict[str, int]:
    """Not registered: named by its import path in the config."""
    return {"vocab_size": vocab_size, "num_labels": num_labels}


def test_the_steps_are_registered_by_importing_formed_workflow() -> None:
    assert get_step("data::load_dataset").function is load_dataset
    assert get_step("data::fit_datamodule").function is fit_datamodule
    assert get_step("formed.workflow._data_steps:load_dataset").name == "data::load_dataset"
    assert get_step("formed.workflow._data_steps_test:sizes").name == "formed.workflow._data_steps_test:sizes"


def test_the_data_module_format_round_trips_a_fitted_module(tmp_path: Path) -> None:
    module = from_config(DataModule, {"fields": {"text": {"type": "text"}, "label": {"type": "label"}}})
    module.build([{"text": "a b", "label": "x"}, {"text": "b c", "label": "y"}])
    fmt = default_format_for(module)
    assert isinstance(fmt, DataModuleFormat) and fmt.identifier == "datamodule"
    fmt.write(module, tmp_path)
    restored = fmt.read(tmp_path)
    batch, expected = restored.batch([{"text": "c a", "label": "y"}]), module.batch([{"text": "c a", "label": "y"}])
    assert (batch["label"] == expected["label"]).all()
    assert (batch["text"].surfaces.ids == expected["text"].surfaces.ids).all()


def test_data_steps_in_a_workflow_rerun_when_a_file_changes(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", [{"text": "a b", "label": "x"}, {"text": "c", "label": "y"}])
    write_jsonl(tmp_path / "test.jsonl", [{"text": "a", "label": "x"}])
    cache = tmp_path / "cache"
    first = Workflow(data_steps(tmp_path), cache_dir=cache)
    assert first.run(["sizes"])["sizes"]["num_labels"] == 2
    assert [r.status for r in Workflow(data_steps(tmp_path), cache_dir=cache).execute()] == ["cached"] * 3

    write_jsonl(tmp_path / "test.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": "x"}])
    second = Workflow(data_steps(tmp_path), cache_dir=cache)
    assert {p.name: p.action for p in second.plan()} == {"dataset": "run", "datamodule": "run", "sizes": "run"}
    assert second.fingerprints["dataset"] != first.fingerprints["dataset"]

    write_jsonl(tmp_path / "train.jsonl", [{"text": "a b", "label": "x"}, {"text": "c", "label": "z"}, {"text": "d", "label": "w"}])
    assert Workflow(data_steps(tmp_path), cache_dir=cache).run(["sizes"])["sizes"] == {"vocab_size": first.result("sizes")["vocab_size"] + 1, "num_labels": 3}
