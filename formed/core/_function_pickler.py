"""Pickling objects that hold JAX functions, such as a model's graph definition (an exported
model built in code saves its structure this way).

Plain `pickle` stores a function by its module and name, but a jitted JAX function such as
`jax.numpy.tanh` (which `jax.nn.tanh` is, and an LSTM cell's default activation) reduces itself to
the Python function it wraps, ``jax._src.numpy.ufuncs.tanh``, which cannot be found again under
that name (the jitted object lives there). `dump_pickle` stores every callable that its module and name
find again by that module and name, and any other that a public JAX module holds by a public name
(``jax.numpy:tanh``). `pickle.load` reads the result.

>>> import io, pickle, jax
>>> buffer = io.BytesIO()
>>> dump_pickle({"activation": jax.nn.tanh}, buffer)
>>> pickle.loads(buffer.getvalue())["activation"] is jax.nn.tanh
True
"""

from __future__ import annotations

import importlib
import pickle
import sys
import types
from typing import IO, Any

# Public modules searched, in order, for a function that its own name does not find.
PUBLIC_MODULES = ("jax.numpy", "jax.nn", "jax.lax", "jax.scipy.special", "jax.random", "optax")


def public_attribute(module: str, qualname: str) -> Any:
    """The object at `qualname` (dotted) in `module`: how `dump_pickle` stores a function."""
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _found_by_name(function: Any) -> bool:
    module = sys.modules.get(getattr(function, "__module__", None) or "")
    target: Any = module
    for part in getattr(function, "__qualname__", "").split("."):
        target = getattr(target, part, None)
    return module is not None and target is function


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type) or not callable(obj) or not isinstance(getattr(obj, "__qualname__", None), str):
            return NotImplemented
        if _found_by_name(obj):
            if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
                return NotImplemented  # pickle stores these by name itself
            return public_attribute, (obj.__module__, obj.__qualname__)  # e.g. a jitted function
        name = getattr(obj, "__name__", "")
        for module_name in PUBLIC_MODULES:
            module = sys.modules.get(module_name)
            if module is not None and getattr(module, name, None) is obj:
                return public_attribute, (module_name, name)
        return NotImplemented


def dump_pickle(obj: Any, file: IO[bytes]) -> None:
    """`pickle.dump`, also for JAX functions whose own name does not find them (see the module docstring)."""
    _Pickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
