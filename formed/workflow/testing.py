"""Test utilities for workflow steps: the workflow that trains a model with a ``<framework>::train``
step and evaluates it with ``<framework>::evaluate``, as the step tests of each framework run it.

>>> config = train_and_evaluate_workflow("flax", "my_test", "my_test::linear", max_epochs=2, seed=0)
>>> sorted(config), config["model"]["type"], config["metrics"]["dataloader"]
(['metrics', 'model', 'train_data', 'trainer', 'val_data'], 'flax::train', 'my_test:loader')
"""

from __future__ import annotations

from typing import Any


def train_and_evaluate_workflow(framework: str, test_module: str, model_type: str, max_epochs: int, seed: int) -> dict[str, Any]:
    """The workflow's steps: ``train_data`` and ``val_data`` from the test module's
    ``"<test name>::records"`` step, ``trainer`` from its ``"<test name>::trainer"`` step, ``model``
    (`framework`'s train step on `model_type` with hidden size 8, seeded by `seed`) and ``metrics``
    (its accuracy on ``val_data``, batched by the test module's ``loader``).

    Args:
        framework: ``"flax"`` or ``"equinox"``.
        test_module: the test's importable module name; its last part names its steps.
    """
    name = test_module.rsplit(".", 1)[-1].lstrip("_")
    return {
        "train_data": {"type": f"{name}::records", "n": 96},
        "val_data": {"type": f"{name}::records", "n": 48, "seed": 1},
        "trainer": {"type": f"{name}::trainer", "max_epochs": max_epochs},
        "model": {
            "type": f"{framework}::train",
            "model": {"type": model_type, "hidden": 8},
            "trainer": {"type": "ref", "ref": "trainer"},
            "train_dataset": {"type": "ref", "ref": "train_data"},
            "val_dataset": {"type": "ref", "ref": "val_data"},
            "random_seed": seed,
        },
        "metrics": {
            "type": f"{framework}::evaluate",
            "model": {"type": "ref", "ref": "model"},
            "evaluator": {"type": "accuracy"},
            "dataset": {"type": "ref", "ref": "val_data"},
            "dataloader": f"{test_module}:loader",
        },
    }
