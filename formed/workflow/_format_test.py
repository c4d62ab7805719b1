"""Tests for formed.workflow._format."""

from pathlib import Path

import numpy as np

from formed.workflow._format import Format, JsonFormat, PickleFormat, default_format_for


def test_json_round_trip(tmp_path: Path):
    value = {"a": [1, 2.5, None, True], "b": {"c": "d"}}
    JsonFormat().write(value, tmp_path)
    assert JsonFormat().read(tmp_path) == value


def test_pickle_round_trip(tmp_path: Path):
    value = {"array": np.arange(3), (1, 2): "tuple key"}
    PickleFormat().write(value, tmp_path)
    read = PickleFormat().read(tmp_path)
    np.testing.assert_array_equal(read["array"], value["array"])
    assert read[(1, 2)] == "tuple key"


def test_default_format_prefers_json_for_json_values_and_falls_back_to_pickle():
    assert isinstance(default_format_for({"x": [1, 2]}), JsonFormat)
    assert isinstance(default_format_for({1: "int key"}), PickleFormat)
    assert isinstance(default_format_for(np.zeros(2)), PickleFormat)


def test_identifier_is_the_registered_name():
    assert JsonFormat().identifier == "json"
    assert PickleFormat().identifier == "pickle"
    assert Format.by_name("json") is JsonFormat
