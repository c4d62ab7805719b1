"""Tests for formed.workflow._refs: references to steps' results and to parts of them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from formed.workflow._refs import is_ref, map_refs, ref, refs_in, resolve_path, substitute


@dataclasses.dataclass
class Field:
    vocab_size: int


def test_a_reference_is_a_dict_with_type_ref_and_an_optional_path() -> None:
    assert ref("data") == {"type": "ref", "ref": "data"}
    assert is_ref(ref("data")) and is_ref(ref("data", "train"))
    assert not is_ref({"type": "ref"})
    assert not is_ref({"type": "ref", "ref": "x", "extra": 1})  # a component whose type is "ref"
    assert not is_ref("data")


def test_refs_are_found_at_any_depth_in_order() -> None:
    config = {"a": ref("x"), "b": [1, {"c": ref("y", "p")}], "d": {"e": ref("x")}}
    assert refs_in(config) == ["x", "y", "x"]
    assert map_refs(config, lambda r: r["ref"].upper()) == {"a": "X", "b": [1, {"c": "Y"}], "d": {"e": "X"}}


def test_substitute_reads_keys_attributes_and_indices() -> None:
    results: dict[str, Any] = {"data": {"train": [{"text": "a"}, {"text": "b"}]}, "module": {"fields": {"text": Field(7)}}}
    config = {"items": ref("data", "train"), "first": ref("data", "train.-1.text"), "size": ref("module", "fields.text.vocab_size")}
    assert substitute(config, results) == {"items": results["data"]["train"], "first": "b", "size": 7}


def test_a_missing_part_names_the_step_the_path_and_the_keys_there() -> None:
    with pytest.raises(ValueError, match=r"steps.train \(ref 'data'\): path 'tran': the result \(dict\) has no 'tran'; its keys: test, train"):
        substitute({"x": ref("data", "tran")}, {"data": {"train": [], "test": []}}, where="steps.train")
    with pytest.raises(ValueError, match=r"path 'fields.text.size': fields.text \(Field\) has no 'size'"):
        resolve_path({"fields": {"text": Field(3)}}, "fields.text.size")
    with pytest.raises(ValueError, match="has no '5'"):
        resolve_path([1, 2], "5")
