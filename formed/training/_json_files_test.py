import json
from pathlib import Path

import pytest

from formed.training._json_files import directory_written_atomically, nonfinite_values, write_json_atomically


def test_writes_atomically_and_refuses_nan_or_infinity_naming_the_key(tmp_path):
    path = str(tmp_path / "metrics.json")
    write_json_atomically(path, {"val": {"loss": 0.5}, "step": 3})
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"val": {"loss": 0.5}, "step": 3}
    with pytest.raises(ValueError, match=r"metrics.json: test.losses\[1\] is inf; JSON has no NaN or Infinity"):
        write_json_atomically(path, {"test": {"losses": [0.1, float("inf")]}})
    # The old file is intact and no temporary file is left.
    assert json.loads((tmp_path / "metrics.json").read_text())["step"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
    assert [key for key, _ in nonfinite_values({"a": float("nan"), "b": [1.0, {"c": -float("inf")}]})] == ["a", "b[1].c"]


def test_a_directory_is_replaced_whole_or_not_at_all(tmp_path):
    target = tmp_path / "model"
    with directory_written_atomically(str(target)) as staging:
        assert not target.exists()  # nothing at the target before the block ends
        (Path(staging) / "a.txt").write_text("first")
    assert [p.name for p in target.iterdir()] == ["a.txt"]

    class Crash(Exception):
        pass

    with pytest.raises(Crash):
        with directory_written_atomically(str(target)) as staging:
            (Path(staging) / "b.txt").write_text("half of the second")
            raise Crash()
    # The old directory is intact and the staging directory is gone.
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]

    with directory_written_atomically(str(target)) as staging:
        (Path(staging) / "b.txt").write_text("second")
    assert [p.name for p in target.iterdir()] == ["b.txt"]  # replaced, not merged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # the old one removed
