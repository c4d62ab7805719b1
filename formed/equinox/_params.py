"""An Equinox model's parameters by name: nested dicts keyed by attribute paths.

``named_params(model)`` gives ``{"embedder": {"surface": {"embedding": {"weight": array}}},
"head": {"weight": ..., "bias": ...}, "encoder": {"layers": {"0": ...}}}``: the floating-point
arrays of the model (what training updates), as host arrays under their names, the form an
orbax checkpoint or any exported file stores them in. ``load_named_params(model, named)`` puts
them back into a model of the same structure (e.g. one freshly built from the same config).

>>> import equinox as eqx, jax
>>> linear = eqx.nn.Linear(2, 3, key=jax.random.key(0))
>>> {name: value.shape for name, value in named_params(linear).items()}
{'weight': (3, 2), 'bias': (3,)}
>>> other = eqx.nn.Linear(2, 3, key=jax.random.key(1))
>>> bool(eqx.tree_equal(load_named_params(other, named_params(linear)), linear))
True
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import numpy as np

NamedParams = dict[str, Any]  # nested {name: {name: ... np.ndarray}}


def _name(key: Any) -> str:
    for attribute in ("name", "idx", "key"):
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    return str(key)


def _paths(model: eqx.Module) -> tuple[list[tuple[tuple[str, ...], Any]], Any]:
    params = eqx.filter(model, eqx.is_inexact_array)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    return [(tuple(_name(k) for k in path), leaf) for path, leaf in leaves], treedef


def named_params(model: eqx.Module) -> NamedParams:
    """The floating-point arrays of `model` as nested dicts of host arrays keyed by name."""
    named: NamedParams = {}
    for path, leaf in _paths(model)[0]:
        node = named
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = np.asarray(jax.device_get(leaf))
    return named


def load_named_params(model: eqx.Module, named: NamedParams) -> eqx.Module:
    """`model` with its floating-point arrays replaced by the `named` ones.

    Raises:
        ValueError: naming the first parameter that is missing from `named` or has another shape.
    """
    paths, treedef = _paths(model)
    values = []
    for path, leaf in paths:
        node: Any = named
        for depth, part in enumerate(path):
            if not isinstance(node, dict) or part not in node:
                where = ".".join(path[: depth + 1])
                saved = sorted(node) if isinstance(node, dict) else "an array"
                raise ValueError(f"parameter {where} is missing from the saved parameters (saved there: {saved})")
            node = node[part]
        array = np.asarray(node)
        if array.shape != leaf.shape:
            raise ValueError(f"parameter {'.'.join(path)}: saved shape {array.shape}, the model has {leaf.shape}")
        values.append(jax.numpy.asarray(array, dtype=leaf.dtype))
    params = jax.tree_util.tree_unflatten(treedef, values)
    return eqx.combine(params, eqx.filter(model, eqx.is_inexact_array, inverse=True))
