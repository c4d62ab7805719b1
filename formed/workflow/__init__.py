"""Workflows: registered steps, their result formats, a cache, and an executor.

This is the public API of `//formed/workflow`.
"""

from formed.workflow.cache import StepCache
from formed.workflow.executor import Workflow
from formed.workflow.format import Format, JsonFormat, PickleFormat, default_format_for
from formed.workflow.step import StepDefinition, get_step, list_steps, step

__all__ = [
    "Format",
    "JsonFormat",
    "PickleFormat",
    "StepCache",
    "StepDefinition",
    "Workflow",
    "default_format_for",
    "get_step",
    "list_steps",
    "step",
]
