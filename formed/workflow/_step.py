"""Workflow steps: plain functions registered under a name, with the format of their result.

    @step("data::count_words")
    def count_words(texts: list[str]) -> dict[str, int]: ...

A workflow config then says ``{"type": "data::count_words", "texts": [...]}``, or names the
function by its import path, ``{"type": "my_project.steps:count_words", ...}`` (the module is
imported then, so its registrations happen too). The function's annotations drive
`formed.core.from_config`, so arguments can be components built from configs. Bump `version` when
a step's code changes in a way that makes cached results stale.

>>> from formed.workflow import get_step
>>> get_step("formed.workflow:load_dataset").name
'data::load_dataset'
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from typing import Any, Callable, TypeVar

from formed.core import unknown_name_message
from formed.workflow._format import Format

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class StepDefinition:
    """A registered step: its name, function, result format (None: chosen from the result) and
    version (part of every cache key)."""

    name: str
    function: Callable[..., Any]
    format: Format[Any] | None = None
    version: str = "1"
    cacheable: bool = True

    @property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.function)


_STEPS: dict[str, StepDefinition] = {}


def step(
    name: str,
    *,
    format: Format[Any] | None = None,
    version: str = "1",
    cacheable: bool = True,
    exist_ok: bool = False,
) -> Callable[[_F], _F]:
    """Registers the decorated function as the workflow step `name`.

    Raises:
        ValueError: if another function is already registered under `name`.
    """

    def decorator(function: _F) -> _F:
        existing = _STEPS.get(name)
        if existing is not None and existing.function is not function and not exist_ok:
            raise ValueError(f"a workflow step named {name!r} already exists ({existing.function.__module__}.{existing.function.__qualname__})")
        _STEPS[name] = StepDefinition(name, function, format, version, cacheable)
        return function

    return decorator


def get_step(name: str) -> StepDefinition:
    """The step registered as `name`, or the function named ``"package.module:function"``.

    A function named by its import path is imported first (with the registrations its module
    makes); if it is registered, its registered definition is returned, else a definition of
    version "1" named after the path.

    Raises:
        KeyError: naming the closest registered step, or why the import path cannot be used.
    """
    if name in _STEPS:
        return _STEPS[name]
    if ":" in name and "::" not in name:  # registered names are "family::name"
        return _import_step(name)
    raise KeyError(unknown_name_message(name, list(_STEPS)))


def _import_step(path: str) -> StepDefinition:
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise KeyError(f"cannot import {module_name!r} for step {path!r}: {error}") from None
    function = getattr(module, attribute, None)
    if function is None:
        raise KeyError(f"module {module_name!r} has no attribute {attribute!r}")
    if not callable(function) or isinstance(function, type):
        raise KeyError(f"{path!r} is not a function, so it cannot be a workflow step")
    for definition in _STEPS.values():
        if definition.function is function:
            return definition
    return StepDefinition(path, function)


def list_steps() -> list[str]:
    """Names of every registered step."""
    return sorted(_STEPS)
