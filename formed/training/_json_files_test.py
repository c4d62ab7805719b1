import json

import pytest

from formed.training._json_files import nonfinite_values, write_json_atomically


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
