"""Workflow config files: an ml_collections file whose `get_config()` returns the steps.

    def get_config():
        config = ml_collections.ConfigDict()
        config.steps = dict(
            dataset=dict(type="data::load_dataset", dataset=dict(type="spatial_relations")),
            ...
        )
        config.sweep = dict(key="train.trainer.engine.optimizer.learning_rate", values=[1e-3, 1e-2])  # optional
        return config

``steps`` maps step names to step configs (see `formed.workflow.Workflow`); ``sweep`` is optional
(see `formed.workflow.sweep`). A config without a ``steps`` key is taken to be the steps
themselves. `import_modules` imports the user's modules (``--import``) so that the steps, models
and datasets they register can be named.

>>> workflow = workflow_from_config({"steps": {"data": {"type": "data::load_dataset",
...     "dataset": {"type": "spatial_relations", "train_size": 8}}}}, cache_dir=None)
>>> workflow.order
['data']
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any, Iterable, Mapping

from formed.core import ConfigurationError
from formed.core.registrable import closest_name
from formed.workflow.executor import Workflow
from formed.workflow.sweep import expand_sweep, normalize_sweep

TOP_LEVEL_KEYS = ("steps", "sweep")


def _plain(config: Any) -> Any:
    to_dict = getattr(config, "to_dict", None)
    return to_dict() if callable(to_dict) else config


def steps_of(config: Any) -> dict[str, dict[str, Any]]:
    """The expanded steps of a workflow config (sweeps applied).

    Raises:
        ConfigurationError: naming the key, for an unknown top-level key or a malformed step.
    """
    config = _plain(config)
    if not isinstance(config, Mapping):
        raise ConfigurationError("", f"get_config() must return a dict of steps, got {type(config).__name__}")
    if "steps" in config:
        for key in config:
            if key not in TOP_LEVEL_KEYS:
                suggestion = closest_name(key, list(TOP_LEVEL_KEYS))
                hint = f"did you mean {suggestion!r}? " if suggestion else ""
                raise ConfigurationError(key, f"unknown top-level key; {hint}a workflow config has {', '.join(TOP_LEVEL_KEYS)}")
        steps = _plain(config["steps"])
    else:
        steps = {key: value for key, value in config.items() if key != "sweep"}
    if not isinstance(steps, Mapping) or not steps:
        raise ConfigurationError("steps", "expected a dict of {step name: step config} with at least one step")
    for name, step in steps.items():
        if not isinstance(step, Mapping):
            raise ConfigurationError(f"steps.{name}", f"a step is a dict with a 'type' key, got {type(step).__name__} {step!r}")
    sweep = normalize_sweep(_plain(config.get("sweep")))
    return expand_sweep({name: dict(step) for name, step in steps.items()}, sweep)


def workflow_from_config(config: Any, cache_dir: str | os.PathLike[str] | None, name: str = "workflow") -> Workflow:
    """The `Workflow` of a config (see the module docstring), checked before anything runs."""
    return Workflow(steps_of(config), cache_dir=cache_dir, name=name)


def import_modules(names: Iterable[str]) -> None:
    """Imports each of `names`: a dotted module on the Python path, or the path of a ``.py`` file.

    Raises:
        ImportError: naming the module or file that cannot be imported.
    """
    for name in names:
        if name.endswith(".py"):
            if not os.path.isfile(name):
                raise ImportError(f"--import: no file {name!r}")
            module_name = os.path.splitext(os.path.basename(name))[0]
            spec = importlib.util.spec_from_file_location(module_name, os.path.abspath(name))
            if spec is None or spec.loader is None:
                raise ImportError(f"--import: cannot load {name!r}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        else:
            try:
                importlib.import_module(name)
            except ImportError as error:
                raise ImportError(f"--import: cannot import {name!r}: {error}") from error
