"""Building objects from configuration, guided by constructor type annotations.

`from_config(cls, config)` turns a plain dict (or an `ml_collections.ConfigDict`) into an
instance of `cls`. The rules, applied recursively at every key:

* A dict whose target type is a class is passed to that class's constructor as keyword
  arguments; each value is built against the annotation of its parameter.
* If the class is `Registrable`, a ``type`` key picks the registered implementation (or the
  base's ``default_implementation`` when ``type`` is absent).
* ``list[X]``, ``tuple[X, ...]``, ``tuple[X, Y]``, ``dict[str, X]``, ``Sequence[X]``,
  ``Mapping[str, X]``, ``Optional[X]`` and unions are followed.
* Plain values are checked against their annotation; a string given for a ``Callable`` is
  resolved as ``"gelu"`` (from `jax.nn`) or ``"package.module:function"``.
* Extra rules for library types (e.g. optax optimizers) are added with `register_builder`.

Every error is a `ConfigurationError` that names the full path of the offending key, e.g.
``model.encoder.type: unknown 'lstmm'; did you mean 'lstm'?``.
"""

from __future__ import annotations

import collections.abc
import copy
import importlib
import inspect
import types
import typing
import weakref
from typing import Any, Callable, Mapping, TypeVar, Union, overload

from formed.core._registrable import Registrable, RegistrationError, closest_name, unknown_name_message

_T = TypeVar("_T")

TYPE_KEY = "type"


class ConfigurationError(ValueError):
    """A configuration could not be turned into objects; the message starts with the key path."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{path or '<root>'}: {message}")


# Builders for types that are not plain constructors: (predicate, build) pairs tried in order.
# `build(annotation, value, path)` returns the built object.
_Builder = Callable[[Any, Any, str], Any]
_BUILDERS: list[tuple[Callable[[Any], bool], _Builder]] = []


def register_builder(predicate: Callable[[Any], bool], build: _Builder) -> None:
    """Teaches `from_config` to build values whose annotation satisfies `predicate`.

    Used by packages whose parameters are library types, e.g. `formed.training` registers a
    builder for ``optax.GradientTransformation`` so that ``{"type": "adamw", ...}`` works.
    """
    _BUILDERS.insert(0, (predicate, build))


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _to_plain(config: Any) -> Any:
    """Converts ConfigDict / FrozenConfigDict (and nested ones) into plain dicts and lists."""
    to_dict = getattr(config, "to_dict", None)
    if callable(to_dict) and type(config).__module__.startswith("ml_collections"):
        return to_dict()
    return config


@overload
def from_config(cls: type[_T], config: Any, *, path: str = "") -> _T: ...


@overload
def from_config(cls: Any, config: Any, *, path: str = "") -> Any: ...


def from_config(cls: Any, config: Any, *, path: str = "") -> Any:
    """Builds an instance of `cls` (any annotation, in fact) from `config`.

    Args:
        cls: the class or type annotation to build, e.g. ``BaseSequenceEncoder`` or
            ``list[FlaxTrainingCallback]``.
        config: a dict, ``ml_collections.ConfigDict``, list or plain value.
        path: the key path of `config` inside a larger configuration, used in error messages.

    Raises:
        ConfigurationError: naming the key path, for unknown types (with the closest registered
            name), missing or unexpected arguments, and values of the wrong type.
    """
    return _build(cls, _to_plain(config), path)


def _is_instance_of_annotation(value: Any, annotation: Any) -> bool:
    try:
        return isinstance(value, annotation)
    except TypeError:
        return False


def _build(annotation: Any, value: Any, path: str) -> Any:
    value = _to_plain(value)
    if annotation is inspect.Parameter.empty or annotation is Any or annotation is object:
        return value
    if isinstance(annotation, TypeVar):
        bound = annotation.__bound__
        return value if bound is None else _build(bound, value, path)
    if isinstance(annotation, str):
        # An unresolved forward reference: nothing to check against.
        return value

    for predicate, build in _BUILDERS:
        if predicate(annotation):
            return build(annotation, value, path)

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)

    if origin is Union or origin is types.UnionType:
        return _build_union(args, value, path)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigurationError(path, f"expected one of {list(args)}, got {value!r}")
        return value
    if annotation is typing.Callable or origin is collections.abc.Callable:
        return _build_callable(value, path)
    if origin in (list, collections.abc.Sequence, collections.abc.MutableSequence, tuple):
        return _build_sequence(origin, args, value, path)
    if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
        return _build_mapping(args, value, path)
    if origin is type:
        return _build_class_reference(args, value, path)
    if origin is not None:
        # A parametrised generic class such as BaseEmbedder[IIDSequenceBatch]: build the class.
        annotation = origin

    if not isinstance(annotation, type):
        return value
    if annotation in (list, tuple, dict):
        return _build(annotation[Any] if annotation is not tuple else tuple[Any, ...], value, path)
    return _build_class(annotation, value, path)


def _build_union(args: tuple[Any, ...], value: Any, path: str) -> Any:
    if value is None:
        if type(None) in args:
            return None
        raise ConfigurationError(path, "a value is required here, got None")
    candidates = [arg for arg in args if arg is not type(None)]
    if len(candidates) == 1:
        return _build(candidates[0], value, path)
    # A value that already satisfies one member is taken as it is (e.g. int | Callable).
    for candidate in candidates:
        base = typing.get_origin(candidate) or candidate
        if isinstance(base, type) and not isinstance(value, Mapping) and _is_instance_of_annotation(value, base):
            if isinstance(value, (str, bytes)) and not issubclass(base, (str, bytes)):
                continue  # A string is a Sequence to Python but never a list in a config.
            return _build(candidate, value, path)
    errors = []
    for candidate in candidates:
        try:
            return _build(candidate, value, path)
        except ConfigurationError as error:
            errors.append(error)
    # Report the error of the member that got furthest into the config (the longest path).
    deepest = max(errors, key=lambda error: len(error.path))
    if deepest.path != path:
        raise deepest
    expected = " or ".join(_describe(candidate) for candidate in candidates)
    raise ConfigurationError(path, f"expected {expected}, got {_describe_value(value)}")


def _build_sequence(origin: Any, args: tuple[Any, ...], value: Any, path: str) -> Any:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, collections.abc.Iterable):
        raise ConfigurationError(path, f"expected a list, got {_describe_value(value)}")
    items = list(value)
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        if len(items) != len(args):
            raise ConfigurationError(path, f"expected {len(args)} items, got {len(items)}")
        return tuple(_build(arg, item, _join(path, index)) for index, (arg, item) in enumerate(zip(args, items)))
    item_type = args[0] if args else Any
    built = [_build(item_type, item, _join(path, index)) for index, item in enumerate(items)]
    return tuple(built) if origin is tuple else built


def _build_mapping(args: tuple[Any, ...], value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise ConfigurationError(path, f"expected a mapping, got {_describe_value(value)}")
    value_type = args[1] if len(args) == 2 else Any
    return {key: _build(value_type, item, _join(path, str(key))) for key, item in value.items()}


def _build_callable(value: Any, path: str) -> Any:
    if callable(value) and not isinstance(value, (str, type(None))):
        return value
    if isinstance(value, str):
        return resolve_callable(value, path)
    raise ConfigurationError(path, f"expected a function or its name, got {_describe_value(value)}")


def resolve_callable(name: str, path: str = "") -> Callable[..., Any]:
    """Resolves ``"gelu"`` (looked up in `jax.nn`) or ``"package.module:function"``."""
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise ConfigurationError(path, f"cannot resolve {name!r}: {error}") from error
    else:
        import jax.nn  # Imported here so that formed.core._config itself does not need JAX.

        target = getattr(jax.nn, name, None)
        if target is None or not callable(target):
            available = [n for n in dir(jax.nn) if not n.startswith("_") and callable(getattr(jax.nn, n))]
            raise ConfigurationError(path, f"jax.nn has no function {unknown_name_message(name, available)}")
    if not callable(target):
        raise ConfigurationError(path, f"{name!r} is not callable")
    return target


def _build_class_reference(args: tuple[Any, ...], value: Any, path: str) -> Any:
    base = args[0] if args else object
    if isinstance(value, type):
        return value
    if isinstance(value, str):
        if isinstance(base, type) and issubclass(base, Registrable):
            try:
                return base.by_name(value)
            except RegistrationError as error:
                raise ConfigurationError(path, str(error)) from error
        return resolve_callable(value if ":" in value else f"builtins:{value}", path)
    raise ConfigurationError(path, f"expected a class name, got {_describe_value(value)}")


def _build_class(cls: type, value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        return _coerce_plain(cls, value, path)
    if isinstance(value, cls):
        return value

    config = dict(value)
    target = cls
    if issubclass(cls, Registrable):
        type_name = config.pop(TYPE_KEY, None)
        if type_name is None:
            type_name = cls.default_implementation
        if type_name is not None:
            if not isinstance(type_name, str):
                raise ConfigurationError(_join(path, TYPE_KEY), f"expected a registered name, got {type_name!r}")
            try:
                target = cls.by_name(type_name)
            except RegistrationError:
                available = cls.list_available()
                message = unknown_name_message(type_name, available)
                if ":" in type_name:
                    message = f"cannot import or use {type_name!r}"
                raise ConfigurationError(_join(path, TYPE_KEY), message) from None
        elif inspect.isabstract(cls):
            available = cls.list_available()
            raise ConfigurationError(
                path,
                f"{cls.__name__} is abstract: give a 'type' key, one of {sorted(available)}",
            )
    elif TYPE_KEY in config and TYPE_KEY not in _parameters(cls):
        raise ConfigurationError(_join(path, TYPE_KEY), f"{cls.__name__} is not registrable; remove the 'type' key")
    built = _construct(target, config, path)
    if getattr(target, "remembers_config", False):
        remember_config(built, value)
    return built


# The config each registrable object was built from, by object id (dropped with the object).
_BUILT_FROM: dict[int, dict[str, Any]] = {}


def remember_config(obj: Any, config: Mapping[str, Any]) -> None:
    """Records that `obj` is what `config` builds (a copy of `config` is kept while `obj` lives),
    so that `config_of(obj)` can rebuild its structure, e.g. to load saved parameters into."""
    key = id(obj)
    try:
        weakref.finalize(obj, _BUILT_FROM.pop, key, None)
    except TypeError:  # not weak-referenceable: cannot know when it goes, so do not record
        return
    _BUILT_FROM[key] = copy.deepcopy(dict(config))


def config_of(obj: Any) -> dict[str, Any] | None:
    """The config `from_config` built `obj` from (with its ``type``), if it did and `obj`'s class
    sets ``remembers_config = True`` (as `formed.modules.BaseFlaxModel` does: a saved model is
    rebuilt from its config).

    >>> from formed.core import Registrable
    >>> class Greeter(Registrable):
    ...     remembers_config = True
    >>> @Greeter.register("hello")
    ... class Hello(Greeter):
    ...     def __init__(self, name: str = "world") -> None:
    ...         self.name = name
    >>> config_of(from_config(Greeter, {"type": "hello", "name": "formed"}))
    {'type': 'hello', 'name': 'formed'}
    """
    config = _BUILT_FROM.get(id(obj))
    return copy.deepcopy(config) if config is not None else None


def _parameters(cls: type) -> dict[str, inspect.Parameter]:
    init = getattr(cls, "__init__", object.__init__)
    if init is not object.__init__:
        # Read __init__ itself: a metaclass __call__ (e.g. flax.nnx.Module's) hides it from
        # inspect.signature(cls) behind (*args, **kwargs).
        try:
            parameters = list(inspect.signature(init).parameters.values())
        except (TypeError, ValueError):
            parameters = None
        if parameters:
            return {parameter.name: parameter for parameter in parameters[1:]}
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return {}
    return dict(signature.parameters)


def _type_hints(cls: type) -> dict[str, Any]:
    init = getattr(cls, "__init__")  # the class's own __init__, looked up on the class
    try:
        return typing.get_type_hints(init)
    except Exception:
        pass
    # Some annotation cannot be resolved (e.g. a class local to a function): resolve the others
    # one by one, and leave that one unchecked.
    hints: dict[str, Any] = {}
    namespace = getattr(init, "__globals__", {})
    for name, annotation in getattr(init, "__annotations__", {}).items():
        try:
            hints[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation  # noqa: S307
        except Exception:
            hints[name] = annotation
    return hints


def _construct(cls: type, config: dict[str, Any], path: str) -> Any:
    parameters = _parameters(cls)
    hints = _type_hints(cls)
    accepts_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    named = {
        name: parameter
        for name, parameter in parameters.items()
        if parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }

    unexpected = [key for key in config if key not in named and not accepts_kwargs]
    if unexpected:
        key = unexpected[0]
        message = f"unexpected key {key!r} for {cls.__name__}"
        suggestion = closest_name(key, list(named))
        if suggestion is not None:
            message += f"; did you mean {suggestion!r}?"
        raise ConfigurationError(_join(path, key), f"{message} Accepted keys: {', '.join(named)}.")

    kwargs: dict[str, Any] = {}
    for name, parameter in named.items():
        if name in config:
            annotation = hints.get(name, parameter.annotation)
            kwargs[name] = _build(annotation, config[name], _join(path, name))
        elif parameter.default is inspect.Parameter.empty:
            raise ConfigurationError(
                _join(path, name), f"missing required argument {name!r} of {cls.__name__}"
            )
    for key in config:
        if key not in named:
            kwargs[key] = config[key]
    try:
        return cls(**kwargs)
    except ConfigurationError:
        raise
    except (TypeError, ValueError) as error:
        raise ConfigurationError(path, f"{cls.__name__}(...) failed: {error}") from error


def _coerce_plain(cls: type, value: Any, path: str) -> Any:
    """Checks (and where lossless, converts) a plain value against a class annotation."""
    if value is None:
        raise ConfigurationError(path, f"expected {_describe(cls)}, got None")
    if cls is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if cls is int and isinstance(value, bool):
        raise ConfigurationError(path, f"expected int, got bool {value!r}")
    if _is_array_type(cls) and isinstance(value, (list, tuple, int, float)):
        import jax.numpy as jnp

        return jnp.asarray(value)
    if isinstance(value, cls):
        return value
    raise ConfigurationError(path, f"expected {_describe(cls)}, got {_describe_value(value)}")


def _is_array_type(cls: type) -> bool:
    module = getattr(cls, "__module__", "")
    # jax.Array reports __name__ "jaxlib._jax.Array" in recent jax: compare the last component.
    name = cls.__name__.rsplit(".", 1)[-1]
    return (module.startswith("jax") and name in ("Array", "ArrayImpl")) or (
        module == "numpy" and cls.__name__ == "ndarray"
    )


def _describe(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _describe_value(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
