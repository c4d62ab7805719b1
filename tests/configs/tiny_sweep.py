"""The shipped learning-rate sweep (`formed/workflow/configs/learning_rate_sweep.py`) on the tiny
workflow of `tiny_workflow.py` (beside this file; same ``:<data directory>`` argument): two peak
learning rates, one epoch each."""

import importlib.util
import os

import ml_collections

from formed.workflow.configs import learning_rate_sweep

RATES = [0.01, 0.05]

_spec = importlib.util.spec_from_file_location("tiny_workflow", os.path.join(os.path.dirname(__file__), "tiny_workflow.py"))
tiny_workflow = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_workflow)


def get_config(data_dir: str | None = None) -> ml_collections.ConfigDict:
    config = tiny_workflow.get_config(data_dir)
    config.steps.train.trainer.max_epochs = 1
    del config.steps["predictions"], config.steps["export"]  # as the shipped sweep does
    config.sweep = dict(learning_rate_sweep.get_config().sweep, values=RATES)
    return config
