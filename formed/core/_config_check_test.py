"""Tests for formed.core._config_check: the mistakes from_config finds, found without building."""

from __future__ import annotations

import abc
from typing import Any, Callable, Literal, Optional, Sequence

import pytest

from formed.core._config import ConfigurationError, from_config
from formed.core._config_check import check_config
from formed.core._registrable import Registrable

BUILT: list[str] = []


class Layer(Registrable, abc.ABC):
    @abc.abstractmethod
    def size(self) -> int: ...


@Layer.register("config_check_test::dense")
class Dense(Layer):
    def __init__(self, features: int, activation: Callable[..., Any] | None = None, mode: Literal["a", "b"] = "a") -> None:
        BUILT.append("dense")
        self.features = features

    def size(self) -> int:
        return self.features


@Layer.register("config_check_test::stack")
class Stack(Layer):
    def __init__(self, layers: Sequence[Layer], dropout: float = 0.0, head: Optional[Layer] = None) -> None:
        BUILT.append("stack")
        self.layers = layers

    def size(self) -> int:
        return self.layers[-1].size()


def deferred(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "later"


GOOD = {
    "type": "config_check_test::stack",
    "layers": [{"type": "config_check_test::dense", "features": 4, "activation": "relu"}],
    "dropout": 0,
}

MISTAKES = [
    ({**GOOD, "type": "config_check_test::stak"}, "stack.type"),
    ({**GOOD, "dropuot": 0.1}, "stack.dropuot"),
    ({**GOOD, "layers": [{"type": "config_check_test::dense"}]}, "stack.layers[0].features"),
    ({**GOOD, "layers": [{"type": "config_check_test::dense", "features": "4"}]}, "stack.layers[0].features"),
    ({**GOOD, "layers": [{"type": "config_check_test::dense", "features": 4, "mode": "c"}]}, "stack.layers[0].mode"),
    ({**GOOD, "layers": [{"type": "config_check_test::dense", "features": 4, "activation": "relux"}]}, "stack.layers[0].activation"),
    ({**GOOD, "layers": {"type": "config_check_test::dense"}}, "stack.layers"),
    ({**GOOD, "head": {"features": 2}}, "stack.head"),
    ({**GOOD, "dropout": None}, "stack.dropout"),
]


@pytest.mark.parametrize(("config", "path"), MISTAKES)
def test_finds_the_mistakes_from_config_finds_with_the_same_message(config: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigurationError) as built:
        from_config(Layer, config, path="stack")
    BUILT.clear()
    with pytest.raises(ConfigurationError) as checked:
        check_config(Layer, config, path="stack")
    assert checked.value.path == built.value.path == path
    assert str(checked.value) == str(built.value)
    assert BUILT == []


def test_a_good_config_passes_and_nothing_is_built() -> None:
    BUILT.clear()
    check_config(Layer, GOOD, path="stack")
    assert BUILT == []


def test_deferred_values_are_accepted_anywhere_but_their_neighbours_are_checked() -> None:
    later = {"type": "later"}
    config = {**GOOD, "layers": [{"type": "config_check_test::dense", "features": later}], "head": later}
    check_config(Layer, config, path="stack", is_deferred=deferred)
    check_config(Layer, later, path="stack", is_deferred=deferred)
    with pytest.raises(ConfigurationError, match=r"^stack.layers\[0\].featurs: unexpected key 'featurs'"):
        check_config(Layer, {**config, "layers": [{"type": "config_check_test::dense", "featurs": later}]}, path="stack", is_deferred=deferred)
