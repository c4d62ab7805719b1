"""Tests for workflow config files: their shape, their mistakes, and the ready workflows."""

from __future__ import annotations

import ml_collections
import pytest

from formed.core import ConfigurationError
from formed.workflow._workflow_config import steps_of, workflow_from_config
from formed.workflow.configs import learning_rate_sweep, text_classifier

DATA = {"type": "data::load_dataset", "dataset": {"type": "spatial_relations", "train_size": 8}}


def test_steps_come_from_a_steps_key_or_are_the_config_itself() -> None:
    config = ml_collections.ConfigDict({"steps": {"data": DATA}})
    assert steps_of(config) == {"data": DATA}
    assert steps_of({"data": DATA}) == {"data": DATA}


def test_mistakes_in_the_shape_name_the_key() -> None:
    with pytest.raises(ConfigurationError, match=r"^swep: unknown top-level key; did you mean 'sweep'"):
        steps_of({"steps": {"data": DATA}, "swep": {}})
    with pytest.raises(ConfigurationError, match=r"^steps.data: a step is a dict with a 'type' key, got str"):
        steps_of({"steps": {"data": "data::load_dataset"}})
    with pytest.raises(ConfigurationError, match=r"^steps: expected a dict"):
        steps_of({"steps": {}})


def test_the_ready_workflows_pass_every_check() -> None:
    workflow = workflow_from_config(text_classifier.get_config(), cache_dir=None, name="text_classifier")
    assert workflow.order == ["dataset", "datamodule", "train", "test_metrics", "export", "predictions"]
    sweep = workflow_from_config(learning_rate_sweep.get_config(), cache_dir=None)
    trains = [name for name in sweep.order if name.startswith("train[")]
    assert trains == ["train[peak_value=0.0001]", "train[peak_value=0.001]", "train[peak_value=0.01]"]
    assert sweep.order[:2] == ["dataset", "datamodule"] and sweep.order[-1] == "sweep_table"
    # The sweep's data steps are the single workflow's: a shared cache runs them once for both.
    assert sweep.fingerprints["datamodule"] == workflow.fingerprints["datamodule"]


def test_a_mistake_in_a_ready_workflow_names_the_step_and_key() -> None:
    config = text_classifier.get_config()
    config.steps.train.model.encoder.type = "lstmm"
    with pytest.raises(ConfigurationError, match=r"^steps.train.model.encoder.type: unknown 'lstmm'; did you mean 'lstm'"):
        workflow_from_config(config, cache_dir=None)


def test_the_reference_s_typed_trainer_is_accepted() -> None:
    # The API reference writes `trainer: {type: "flax_trainer", ...}` in a flax::train step.
    config = text_classifier.get_config()
    config.steps.train.trainer.type = "flax_trainer"
    workflow = workflow_from_config(config, cache_dir=None)
    assert workflow.steps["train"]["trainer"]["type"] == "flax_trainer"
    config.steps.train.trainer.type = "flax_trainr"
    with pytest.raises(ConfigurationError, match=r"^steps.train.trainer.type: unknown 'flax_trainr'; did you mean 'flax_trainer'"):
        workflow_from_config(config, cache_dir=None)
