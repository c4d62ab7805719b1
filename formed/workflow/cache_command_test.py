"""Tests for the `cache` binary's listing and removal."""

from __future__ import annotations

from pathlib import Path

import pytest

from formed.workflow._cache import StepCache
from formed.workflow._format import JsonFormat
from formed.workflow.cache_command import format_entries, remove


def filled(tmp_path: Path) -> StepCache:
    cache = StepCache(tmp_path)
    cache.save("aa11" + "0" * 28, {"n": 1}, JsonFormat(), "data::load_dataset", name="dataset", workflow="wf")
    cache.save("aa22" + "0" * 28, {"n": 2}, JsonFormat(), "flax::evaluate", name="test_metrics", workflow="wf")
    (cache.work_dir("bb33" + "0" * 28) / "checkpoints").mkdir(parents=True)
    return cache


def test_list_shows_results_then_unfinished_work(tmp_path: Path) -> None:
    cache = filled(tmp_path)
    created = cache.metadata("aa22" + "0" * 28)["created"]
    lines = format_entries(cache.entries(), now=created + 120).splitlines()
    assert lines[0].split() == ["fingerprint", "name", "step", "workflow", "size", "created"]
    assert lines[1].split()[:4] == ["aa110000", "dataset", "data::load_dataset", "wf"]
    assert lines[2].split()[:4] == ["aa220000", "test_metrics", "flax::evaluate", "wf"]
    assert lines[2].endswith("2 min ago")
    assert lines[3].split()[:3] == ["bb330000", "(unfinished", "work)"]
    assert lines[4].startswith("2 results, 1 unfinished")
    assert format_entries([], now=0.0) == "the cache is empty"


def test_remove_by_prefix_or_all(tmp_path: Path) -> None:
    cache = filled(tmp_path)
    with pytest.raises(ValueError, match="'aa' is ambiguous"):
        remove(cache, ["aa"])
    with pytest.raises(ValueError, match="starting with 'cc'"):
        remove(cache, ["cc"])
    assert remove(cache, ["aa2"]) == [f"removed {cache.path_for('aa22' + '0' * 28)}"]
    assert cache.has("aa11" + "0" * 28) and not cache.has("aa22" + "0" * 28)
    assert len(remove(cache, [], everything=True)) == 2
    assert cache.entries() == []
