"""Registrable base classes: named implementations that configs can pick by name.

A class that inherits from `Registrable` becomes a *base* with its own namespace of named
implementations::

    class Encoder(Registrable):
        default_implementation = "lstm"

    @Encoder.register("lstm")
    class LSTMEncoder(Encoder): ...

    Encoder.by_name("lstm")            # -> LSTMEncoder
    Encoder.by_name("my.pkg:MyEncoder")  # imported on demand
    Encoder.list_available()           # -> ["lstm"]

Each direct subclass of `Registrable` owns a namespace; subclasses of a base share the namespace
of their base unless they are themselves registered as new bases with `Registrable` in their
bases again (which is how, e.g., an nnx module base and its implementations stay together).
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Callable, ClassVar, TypeVar

_T = TypeVar("_T", bound=type)


class RegistrationError(ValueError):
    """A name was registered twice, or a looked-up name does not exist."""


def closest_name(name: str, candidates: list[str]) -> str | None:
    """The candidate most similar to `name`, if any is close enough to be a likely typo."""
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    return matches[0] if matches else None


def unknown_name_message(name: str, available: list[str]) -> str:
    """Explains an unknown registered name, listing what exists and suggesting the closest."""
    message = f"unknown {name!r}"
    suggestion = closest_name(name, available)
    if suggestion is not None:
        message += f"; did you mean {suggestion!r}?"
    if available:
        message += f" Registered names: {', '.join(sorted(available))}."
    else:
        message += " Nothing is registered under this base yet."
    return message


class Registrable:
    """Mixin that gives a class hierarchy a registry of named implementations.

    Attributes:
        default_implementation: name used by `formed.core.from_config` when a config for this
            base gives no ``type`` key.
    """

    default_implementation: ClassVar[str | None] = None
    # Maps each base class to {name: implementation}. Keyed by the base so that two bases never
    # see each other's names.
    _registry: ClassVar[dict[type, dict[str, type]]] = {}

    @classmethod
    def _registry_base(cls) -> type:
        """The class whose namespace `cls` registers into: the first ancestor that lists
        `Registrable` among its direct bases."""
        for klass in cls.__mro__:
            if Registrable in klass.__bases__:
                return klass
        return cls

    @classmethod
    def register(cls, name: str, exist_ok: bool = False) -> Callable[[_T], _T]:
        """Class decorator that registers a subclass of this base under `name`.

        Raises:
            RegistrationError: if `name` is already taken in this base's namespace by another
                class (unless `exist_ok`), or the decorated class is not a subclass of the base.
        """
        base = cls._registry_base()
        names = Registrable._registry.setdefault(base, {})

        def decorator(subclass: _T) -> _T:
            if not (isinstance(subclass, type) and issubclass(subclass, base)):
                raise RegistrationError(
                    f"cannot register {subclass!r} as {name!r}: it is not a subclass of "
                    f"{base.__name__}"
                )
            existing = names.get(name)
            if existing is not None and existing is not subclass and not exist_ok:
                raise RegistrationError(
                    f"{base.__name__} already has an implementation named {name!r} "
                    f"({existing.__module__}.{existing.__qualname__}); choose another name "
                    f"for {subclass.__module__}.{subclass.__qualname__}"
                )
            names[name] = subclass
            return subclass

        return decorator

    @classmethod
    def by_name(cls, name: str) -> type[Any]:
        """Returns the implementation registered as `name`.

        `name` may also be ``"package.module:ClassName"``: the module is imported (which runs its
        `register` decorators) and the class is returned if it is a subclass of this base.

        Raises:
            RegistrationError: if no such implementation exists.
        """
        base = cls._registry_base()
        names = Registrable._registry.get(base, {})
        if name in names:
            return names[name]
        if ":" in name:
            module_name, _, attribute = name.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as error:
                raise RegistrationError(f"cannot import {module_name!r} for {name!r}: {error}") from error
            try:
                subclass = getattr(module, attribute)
            except AttributeError as error:
                raise RegistrationError(f"module {module_name!r} has no attribute {attribute!r}") from error
            if not (isinstance(subclass, type) and issubclass(subclass, base)):
                raise RegistrationError(f"{name!r} is not a subclass of {base.__name__}")
            return subclass
        raise RegistrationError(f"{base.__name__}: " + unknown_name_message(name, list(names)))

    @classmethod
    def list_available(cls) -> list[str]:
        """Names registered under this base, in registration order."""
        return list(Registrable._registry.get(cls._registry_base(), {}))

    @classmethod
    def name_of(cls, subclass: type) -> str | None:
        """The name `subclass` is registered under in this base, if any."""
        for name, registered in Registrable._registry.get(cls._registry_base(), {}).items():
            if registered is subclass:
                return name
        return None
