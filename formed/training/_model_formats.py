"""How a model library's models are rebuilt from a config and their parameters saved by name.

An exported model (see `formed.training.export`) stores its parameters as a nested dict keyed
by their paths in the model (``{"embedder": {"surface": {"embedding": array}}, "head":
{"kernel": array, "bias": array}}``), so any tool that reads orbax checkpoints finds them by
name. A `ModelFormat` knows, for one kind of model, how to get those named arrays out of a model
and how to put them back into a freshly built one; `format_of(model)` picks the registered
format that handles a model, and the exported ``formed_model.json`` names it (``"flax_nnx"``),
so loading needs no guess. Another model library (Equinox) adds its own registered format.

    >>> model = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
    >>> fmt = format_of(model)
    >>> named = fmt.named_params(model)
    >>> {name: array.shape for name, array in named.items()}
    {'bias': (3,), 'kernel': (2, 3)}
    >>> fresh = fmt.load_params(nnx.Linear(2, 3, rngs=nnx.Rngs(1)), named)  # the same parameters, by name
    >>> bool((fresh.kernel[...] == model.kernel[...]).all())
    True
"""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax
import numpy as np
from flax import nnx

from formed.core import Registrable
from formed.equinox import BaseEquinoxModel, load_named_params, named_params
from formed.modules import BaseFlaxModel

NamedParams = dict[str, Any]  # nested {name: {name: ... np.ndarray}}


class ModelFormat(Registrable, abc.ABC):
    """Named parameters of one kind of model.

    `model_base` is the registry a saved config's ``model`` section is built from when the
    config names no training engine (a workflow's cached model saves only its ``model``
    section); a run's config picks it from ``trainer.engine`` instead.
    """

    model_base: type = BaseFlaxModel

    @classmethod
    @abc.abstractmethod
    def handles(cls, model: Any) -> bool:
        """Whether `model` is of this format's kind."""

    @abc.abstractmethod
    def named_params(self, model: Any, params: Any = None) -> NamedParams:
        """The trainable parameters of `model` (or `params`, a parameter state of the same
        model, e.g. a checkpoint's) as nested dicts of host arrays keyed by str names."""

    def structure(self, model: Any) -> Any:
        """A picklable description of `model` without its parameters, for models that have no
        config to be rebuilt from (built in code)."""
        raise TypeError(f"{type(self).__name__} cannot save the structure of a model built without a config")

    def from_structure(self, structure: Any) -> Any:
        """A model with placeholder parameters from what `structure` returned."""
        raise TypeError(f"{type(self).__name__} cannot rebuild a model from a structure")

    @abc.abstractmethod
    def load_params(self, model: Any, named: NamedParams) -> Any:
        """`model` (freshly built from the same config) holding the `named` parameters.

        Raises:
            ValueError: naming the first parameter path that is missing or has another shape.
        """


def _to_named(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {str(key): _to_named(value) for key, value in tree.items()}
    return np.asarray(jax.device_get(tree))


def _from_named(template: Any, named: Any, path: str) -> Any:
    if isinstance(template, dict):
        if not isinstance(named, dict):
            raise ValueError(f"parameter {path or '<root>'}: expected a group of parameters, found an array")
        result = {}
        for key, value in template.items():
            name = str(key)
            where = f"{path}.{name}" if path else name
            if name not in named:
                raise ValueError(f"parameter {where} is missing from the saved parameters (saved: {sorted(named)})")
            result[key] = _from_named(value, named[name], where)
        return result
    array = np.asarray(named)
    if array.shape != np.shape(template):
        raise ValueError(f"parameter {path}: saved shape {array.shape}, the model built from the config has {np.shape(template)}")
    return jax.numpy.asarray(array, dtype=getattr(template, "dtype", None))


@ModelFormat.register("flax_nnx")
class FlaxNnxFormat(ModelFormat):
    """Flax NNX modules: the ``nnx.Param`` variables, by their attribute paths."""

    model_base = BaseFlaxModel

    @classmethod
    def handles(cls, model: Any) -> bool:
        return isinstance(model, nnx.Module)

    def named_params(self, model: Any, params: Any = None) -> NamedParams:
        state = params if params is not None else nnx.state(model, nnx.Param)
        return _to_named(nnx.State(state).to_pure_dict() if not isinstance(state, nnx.State) else state.to_pure_dict())

    def structure(self, model: Any) -> Any:
        graphdef, _, rest = nnx.split(model, nnx.Param, ...)  # type: ignore[misc]  # flax types the states as tuple[State, ...], so mypy cannot count them
        params = nnx.state(model, nnx.Param)
        shapes = jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype), params)
        return {"graphdef": graphdef, "param_shapes": shapes, "rest": rest}

    def from_structure(self, structure: Any) -> Any:
        params = jax.tree.map(lambda s: jax.numpy.zeros(s.shape, s.dtype), structure["param_shapes"])
        return nnx.merge(structure["graphdef"], params, structure["rest"])

    def load_params(self, model: Any, named: NamedParams) -> Any:
        state = nnx.state(model, nnx.Param)
        restored = _from_named(state.to_pure_dict(), named, "")
        state.replace_by_pure_dict(restored)
        nnx.update(model, state)
        return model


@ModelFormat.register("equinox")
class EquinoxFormat(ModelFormat):
    """Equinox models: the floating-point arrays, by their attribute paths
    (`formed.equinox.named_params`). The structure of a model built without a config keeps its
    other arrays (integer tables, masks) by value, since they are not parameters."""

    model_base = BaseEquinoxModel

    @classmethod
    def handles(cls, model: Any) -> bool:
        return isinstance(model, eqx.Module)

    def named_params(self, model: Any, params: Any = None) -> NamedParams:
        return named_params(model if params is None else eqx.combine(params, model))

    def structure(self, model: Any) -> Any:
        def describe(x: Any) -> Any:
            if eqx.is_inexact_array(x):
                return jax.ShapeDtypeStruct(np.shape(x), x.dtype)
            return np.asarray(jax.device_get(x)) if eqx.is_array(x) else x

        return jax.tree.map(describe, model)

    def from_structure(self, structure: Any) -> Any:
        def build(s: Any) -> Any:
            if isinstance(s, jax.ShapeDtypeStruct):
                return jax.numpy.zeros(s.shape, s.dtype)
            return jax.numpy.asarray(s) if isinstance(s, np.ndarray) else s

        return jax.tree.map(build, structure)

    def load_params(self, model: Any, named: NamedParams) -> Any:
        return load_named_params(model, named)


def format_of(model: Any) -> ModelFormat:
    """The registered format that handles `model` (the latest registered first).

    Raises:
        TypeError: if no format handles it.
    """
    for name in reversed(ModelFormat.list_available()):
        cls = ModelFormat.by_name(name)
        if cls.handles(model):
            return cls()
    raise TypeError(f"no ModelFormat handles {type(model).__name__}; registered: {ModelFormat.list_available()}")


def format_named(name: str) -> ModelFormat:
    """The registered format `name` (as ``formed_model.json`` records it)."""
    return ModelFormat.by_name(name)()
