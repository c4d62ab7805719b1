"""Workflows: registered steps, their result formats, a cache, and an executor.

This is the public API of `//formed/workflow`. Importing it registers every step formed defines
(``data::load_dataset``, ``data::fit_datamodule``, ``flax::train``, ``flax::evaluate``,
``flax::predict``, ``flax::export``,
``equinox::train``, ``equinox::evaluate``, ``sweep::table``) and their formats, so a workflow
config can name them without importing anything else first.
"""

from formed.workflow._cache import CacheEntry, StepCache
from formed.workflow._context import StepContext, current_step
from formed.workflow._executor import PlannedStep, StepReport, Workflow
from formed.workflow._format import Format, JsonFormat, PickleFormat, default_format_for
from formed.workflow._refs import ref
from formed.workflow._step import StepDefinition, get_step, list_steps, step

# The steps and formats formed defines (imported after the modules they build on).
from formed.workflow._data_steps import DataModuleFormat, fit_datamodule, load_dataset  # isort: skip
from formed.workflow._flax_steps import FlaxModelFormat, evaluate_flax_model, train_flax_model  # isort: skip
from formed.workflow._equinox_steps import EquinoxModelFormat, evaluate_equinox_model, train_equinox_model  # isort: skip
from formed.workflow._model_steps import ExportedModelFormat, JsonlFormat, export_flax_model, predict_flax_model  # isort: skip
from formed.workflow._sweep import expand_sweep, tabulate_sweep  # isort: skip

__all__ = [
    "CacheEntry",
    "DataModuleFormat",
    "EquinoxModelFormat",
    "ExportedModelFormat",
    "FlaxModelFormat",
    "Format",
    "JsonFormat",
    "JsonlFormat",
    "PickleFormat",
    "PlannedStep",
    "StepCache",
    "StepContext",
    "StepDefinition",
    "StepReport",
    "Workflow",
    "current_step",
    "default_format_for",
    "evaluate_equinox_model",
    "evaluate_flax_model",
    "export_flax_model",
    "expand_sweep",
    "fit_datamodule",
    "get_step",
    "list_steps",
    "load_dataset",
    "predict_flax_model",
    "ref",
    "step",
    "tabulate_sweep",
    "train_equinox_model",
    "train_flax_model",
]
