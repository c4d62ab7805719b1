"""Tests for formed.workflow._cache: round trips and atomic writes."""

from pathlib import Path

import pytest

from formed.workflow._cache import StepCache
from formed.workflow._format import Format, JsonFormat


class ExplodingFormat(Format):
    """Writes part of an artifact, then fails, as a crash mid-write would."""

    def write(self, artifact, directory):
        (Path(directory) / "partial").write_text("half")
        raise RuntimeError("disk full")

    def read(self, directory):
        raise AssertionError("never read")


def test_save_and_load(tmp_path: Path):
    cache = StepCache(tmp_path)
    assert not cache.has("abc")
    cache.save("abc", {"x": 1}, JsonFormat(), "my::step")
    assert cache.has("abc")
    assert cache.load("abc") == {"x": 1}
    assert cache.metadata("abc")["step"] == "my::step"


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path):
    cache = StepCache(tmp_path)
    with pytest.raises(RuntimeError, match="disk full"):
        cache.save("abc", {"x": 1}, ExplodingFormat(), "my::step")
    assert not cache.has("abc")
    assert list(cache.results_dir.iterdir()) == []
    assert cache.entries() == []


def test_a_failed_rewrite_keeps_the_previous_entry(tmp_path: Path):
    cache = StepCache(tmp_path)
    cache.save("abc", {"x": 1}, JsonFormat(), "my::step")
    with pytest.raises(RuntimeError):
        cache.save("abc", {"x": 2}, ExplodingFormat(), "my::step")
    assert cache.load("abc") == {"x": 1}


def test_missing_entry_is_a_key_error(tmp_path: Path):
    with pytest.raises(KeyError, match="no cached result"):
        StepCache(tmp_path).load("nope")
