"""Checking a config against what `from_config` would build, without building anything.

`check_config(cls, config)` walks a config the way `from_config` does and raises the same
`ConfigurationError` (naming the key path) for an unknown ``type``, an unexpected or missing key
or a value of the wrong kind, but constructs no object. Values that only become known later
(e.g. a workflow's references to the results of other steps) are accepted anywhere when
`is_deferred` says so. A workflow checks every step this way before running the first one.

>>> from formed.core import Registrable
>>> class Pool(Registrable): ...
>>> @Pool.register("mean")
... class MeanPool(Pool):
...     def __init__(self, normalize: bool = False) -> None: ...
>>> check_config(Pool, {"type": "mean", "normalise": True}, path="pool")
Traceback (most recent call last):
...
formed.core._config.ConfigurationError: pool.normalise: unexpected key 'normalise' for MeanPool; did you mean 'normalize'? Accepted keys: normalize.
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from typing import Any, Callable, Mapping, TypeVar, Union

from formed.core._config import (
    _BUILDERS,
    TYPE_KEY,
    ConfigurationError,
    _build,
    _join,
    _parameters,
    _to_plain,
    _type_hints,
)
from formed.core._registrable import Registrable, RegistrationError, closest_name, unknown_name_message


def _never(value: Any) -> bool:
    return False


def contains(value: Any, predicate: Callable[[Any], bool]) -> bool:
    """Whether `predicate` holds for `value` or anything nested inside it."""
    if predicate(value):
        return True
    if isinstance(value, Mapping):
        return any(contains(item, predicate) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains(item, predicate) for item in value)
    return False


def check_config(cls: Any, config: Any, *, path: str = "", is_deferred: Callable[[Any], bool] = _never) -> None:
    """Raises the `ConfigurationError` that ``from_config(cls, config)`` would raise for a
    mistake in the config itself, without constructing objects.

    Args:
        cls: the class or annotation the config is for.
        config: a dict, ``ml_collections.ConfigDict``, list or plain value.
        path: the key path of `config`, for messages.
        is_deferred: values for which this is true are accepted wherever they appear.

    Errors that only a constructor can find (e.g. a value out of its range) are not found.
    """
    _check(cls, _to_plain(config), path, is_deferred)


def _check(annotation: Any, value: Any, path: str, deferred: Callable[[Any], bool]) -> None:
    value = _to_plain(value)
    if deferred(value):
        return
    if annotation is inspect.Parameter.empty or annotation is Any or annotation is object or isinstance(annotation, str):
        return
    if isinstance(annotation, TypeVar):
        if annotation.__bound__ is not None:
            _check(annotation.__bound__, value, path, deferred)
        return
    for predicate, _ in _BUILDERS:
        if predicate(annotation):
            if not contains(value, deferred):
                _build(annotation, value, path)  # library objects (e.g. optax): cheap to build
            return
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Union or origin is types.UnionType:
        _check_union(args, value, path, deferred)
    elif origin is typing.Literal or annotation is typing.Callable or origin is collections.abc.Callable:
        _build(annotation, value, path)
    elif origin in (list, collections.abc.Sequence, collections.abc.MutableSequence, tuple):
        if isinstance(value, (list, tuple)):
            fixed = origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis)
            if fixed and len(value) != len(args):
                raise ConfigurationError(path, f"expected {len(args)} items, got {len(value)}")
            for index, item in enumerate(value):
                item_type = args[index] if fixed else (args[0] if args else Any)
                _check(item_type, item, _join(path, index), deferred)
        else:
            _build(annotation, value, path)
    elif origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
        if not isinstance(value, Mapping):
            raise ConfigurationError(path, f"expected a mapping, got {type(value).__name__} {value!r}")
        for key, item in value.items():
            _check(args[1] if len(args) == 2 else Any, item, _join(path, str(key)), deferred)
    elif origin is type:
        _build(annotation, value, path)
    else:
        target = origin if origin is not None else annotation
        if isinstance(target, type):
            _check_class(target, value, path, deferred)


def _check_union(args: tuple[Any, ...], value: Any, path: str, deferred: Callable[[Any], bool]) -> None:
    if value is None:
        if type(None) not in args:
            raise ConfigurationError(path, "a value is required here, got None")
        return
    errors = []
    for candidate in (arg for arg in args if arg is not type(None)):
        try:
            _check(candidate, value, path, deferred)
            return
        except ConfigurationError as error:
            errors.append(error)
    if contains(value, deferred):
        # The member that fits may depend on what the deferred values turn out to be.
        deepest = max(errors, key=lambda error: len(error.path))
        if deepest.path == path:
            return
        raise deepest
    _build(Union[tuple(args)], value, path)  # from_config's own message for the mismatch


def _check_class(cls: type, value: Any, path: str, deferred: Callable[[Any], bool]) -> None:
    if not isinstance(value, Mapping):
        _build(cls, value, path)  # a plain value: checked (and converted) as from_config does
        return
    config = dict(value)
    target = cls
    if issubclass(cls, Registrable):
        type_name = config.pop(TYPE_KEY, None) or cls.default_implementation
        if type_name is not None:
            if not isinstance(type_name, str):
                raise ConfigurationError(_join(path, TYPE_KEY), f"expected a registered name, got {type_name!r}")
            try:
                target = cls.by_name(type_name)
            except RegistrationError:
                message = unknown_name_message(type_name, cls.list_available())
                if ":" in type_name:
                    message = f"cannot import or use {type_name!r}"
                raise ConfigurationError(_join(path, TYPE_KEY), message) from None
        elif inspect.isabstract(cls):
            raise ConfigurationError(path, f"{cls.__name__} is abstract: give a 'type' key, one of {sorted(cls.list_available())}")
    elif TYPE_KEY in config and TYPE_KEY not in _parameters(cls):
        raise ConfigurationError(_join(path, TYPE_KEY), f"{cls.__name__} is not registrable; remove the 'type' key")
    parameters = _parameters(target)
    hints = _type_hints(target)
    accepts_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    named = {
        name: parameter
        for name, parameter in parameters.items()
        if parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }
    for key in config:
        if key not in named and not accepts_kwargs:
            message = f"unexpected key {key!r} for {target.__name__}"
            suggestion = closest_name(key, list(named))
            if suggestion is not None:
                message += f"; did you mean {suggestion!r}?"
            raise ConfigurationError(_join(path, key), f"{message} Accepted keys: {', '.join(named)}.")
    for name, parameter in named.items():
        if name in config:
            _check(hints.get(name, parameter.annotation), config[name], _join(path, name), deferred)
        elif parameter.default is inspect.Parameter.empty:
            raise ConfigurationError(_join(path, name), f"missing required argument {name!r} of {target.__name__}")
