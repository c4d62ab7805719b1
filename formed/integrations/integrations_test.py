"""The API reference's module paths hold formed's own objects, every documented name included."""

from __future__ import annotations

import importlib

import pytest

import formed.core
import formed.data
import formed.modules
import formed.training
import formed.workflow.flax_steps

# Every name the reference documents, by module (plus formed's additions where noted).
REFERENCE = {
    "formed.integrations.flax.distributors": ["BaseDistributor", "SingleDeviceDistributor", "DataParallelDistributor"],
    "formed.integrations.flax.model": ["BaseFlaxModel"],
    "formed.integrations.flax.modules.embedders": ["EmbedderOutput", "BaseEmbedder", "TokenEmbedder", "AnalyzedTextEmbedder"],
    "formed.integrations.flax.modules.encoders": [
        "BasePositionEncoder", "SinusoidalPositionEncoder", "LearnablePositionEncoder", "BaseSequenceEncoder",
        "RNNSequenceEncoder", "LSTMSequenceEncoder", "OptimizedLSTMSequenceEncoder", "GRUSequenceEncoder",
        "TransformerSequenceEncoder",
    ],
    "formed.integrations.flax.modules.feedforward": ["Block", "FeedForward"],
    "formed.integrations.flax.modules.losses": ["BaseClassificationLoss", "CrossEntropyLoss"],
    "formed.integrations.flax.modules.samplers": [
        "BaseLabelSampler", "ArgmaxLabelSampler", "MultinomialLabelSamplerParams", "MultinomialLabelSampler",
    ],
    "formed.integrations.flax.modules.vectorizers": ["BaseSequenceVectorizer", "BagOfEmbeddingsSequenceVectorizer"],
    "formed.integrations.flax.modules.weighters": [
        "BaseLabelWeighter", "StaticLabelWeighter", "BalancedByDistributionLabelWeighter",
    ],
    "formed.integrations.flax.training.callbacks": [
        "FlaxTrainingCallback", "EvaluationCallback", "EarlyStoppingCallback", "MlflowCallback",
        "TensorBoardCallback", "CheckpointCallback",  # formed's additions
    ],
    "formed.integrations.flax.training.engine": ["FlaxTrainingEngine", "DefaultFlaxTrainingEngine"],
    "formed.integrations.flax.training.exceptions": ["StopEarly"],
    "formed.integrations.flax.training.state": ["TrainState"],
    "formed.integrations.flax.training.trainer": ["FlaxTrainer"],
    "formed.integrations.flax.random": ["use_rngs", "require_rngs"],
    "formed.integrations.flax.utils": [
        "PoolingMethod", "ensure_jax_array", "masked_pool", "sequence_distribute", "sequence_undistribute", "determine_ndim",
    ],
    "formed.integrations.flax.workflow": ["FlaxModelFormat", "train_flax_model", "evaluate_flax_model"],
    # Names the reference's examples import from the package itself.
    "formed.integrations.flax": [
        "BaseFlaxModel", "DataParallelDistributor", "DefaultFlaxTrainingEngine", "EarlyStoppingCallback",
        "EvaluationCallback", "FlaxTrainer", "MlflowCallback", "train_flax_model",
    ],
    "formed.integrations.flax.modules": ["TokenEmbedder", "AnalyzedTextEmbedder", "BagOfEmbeddingsSequenceVectorizer", "FeedForward"],
    "formed.integrations.ml": ["DataLoader", "BasicBatchSampler"],
    "formed.integrations.ml.metrics": ["MulticlassAccuracy"],
    # Upstream formed's batch types (issue 11 item 5).
    "formed.integrations.ml.types": ["IDSequenceBatch", "AnalyzedTextBatch", "IIDSequenceBatch", "IAnalyzedTextBatch"],
}

# Where each name is implemented: one of formed's own public packages.
HOMES = [formed.core, formed.modules, formed.training, formed.data, formed.workflow.flax_steps]


def home_of(name: str) -> object:
    for package in HOMES:
        if hasattr(package, name):
            return getattr(package, name)
    raise AssertionError(f"{name} is not exported by any of formed's packages")


@pytest.mark.parametrize("module_name", sorted(REFERENCE))
def test_every_reference_name_is_formeds_own_object(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in REFERENCE[module_name]:
        assert hasattr(module, name), f"{module_name} lacks {name}"
        assert getattr(module, name) is home_of(name), f"{module_name}.{name} is a different object"


@pytest.mark.parametrize("module_name", sorted(REFERENCE))
def test_all_lists_only_names_the_module_has(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(REFERENCE[module_name]) <= set(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.__all__ names missing {name}"


def test_the_flax_package_exports_the_whole_training_api() -> None:
    import formed.integrations.flax as flax_api
    import formed.integrations.flax.training as training_api

    assert set(training_api.__all__) <= set(flax_api.__all__)
