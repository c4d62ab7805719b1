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
(see `formed.workflow._sweep`). A config without a ``steps`` key is taken to be the steps
themselves.

>>> workflow = workflow_from_config({"steps": {"data": {"type": "data::load_dataset",
...     "dataset": {"type": "spatial_relations", "train_size": 8}}}}, cache_dir=None)
>>> workflow.order
['data']
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from formed.core import ConfigurationError, closest_name
from formed.workflow._executor import Workflow
from formed.workflow._sweep import expand_sweep, normalize_sweep

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
