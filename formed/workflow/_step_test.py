"""Tests for formed.workflow._step."""

import pytest

from formed.workflow._format import JsonFormat
from formed.workflow._step import get_step, list_steps, step


@step("test_step::double", format=JsonFormat(), version="2")
def double(x: int) -> int:
    return 2 * x


def test_registered_step_is_found_with_its_settings():
    definition = get_step("test_step::double")
    assert definition.function is double
    assert definition.version == "2"
    assert isinstance(definition.format, JsonFormat)
    assert "test_step::double" in list_steps()


def test_unknown_step_suggests_the_closest():
    with pytest.raises(KeyError, match="did you mean 'test_step::double'"):
        get_step("test_step::doubel")


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(ValueError, match="already exists"):

        @step("test_step::double")
        def other(x: int) -> int:
            return x
