"""The one list of the API reference's names: each module path of the reference, and where each of
its names comes from.

A source is one of formed's packages (its object is re-exported as is), another module of this
table (``"*"``: all of that module's names), or the module itself (the few names the reference
spells differently from formed, defined there). Each module of `formed.integrations` exports its
entry through `names` (its ``__all__``) and `lookup` (its module ``__getattr__``, PEP 562), and
``integrations_test`` checks every entry.

>>> names("formed.integrations.flax.random")
['require_rngs', 'use_rngs']
>>> import formed.core
>>> lookup("formed.integrations.flax.random", "use_rngs") is formed.core.use_rngs
True
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

_FLAX = "formed.integrations.flax"
_MODULES = "formed.integrations.flax.modules"
_TRAINING = "formed.integrations.flax.training"

API: dict[str, dict[str, str]] = {
    f"{_FLAX}.distributors": {"formed.training": "BaseDistributor DataParallelDistributor SingleDeviceDistributor"},
    f"{_FLAX}.model": {"formed.modules": "BaseFlaxModel"},
    f"{_FLAX}.random": {"formed.core": "require_rngs use_rngs"},
    f"{_FLAX}.utils": {
        "formed.core": "PoolingMethod determine_ndim ensure_jax_array masked_pool sequence_distribute sequence_undistribute"
    },
    f"{_FLAX}.workflow": {"formed.workflow": "FlaxModelFormat evaluate_flax_model train_flax_model"},
    f"{_MODULES}.embedders": {"formed.modules": "AnalyzedTextEmbedder BaseEmbedder EmbedderOutput TokenEmbedder"},
    f"{_MODULES}.encoders": {
        "formed.modules": (
            "BasePositionEncoder BaseSequenceEncoder GRUSequenceEncoder LSTMSequenceEncoder LearnablePositionEncoder "
            "OptimizedLSTMSequenceEncoder RNNSequenceEncoder SinusoidalPositionEncoder"
        ),
        f"{_MODULES}.encoders": "TransformerSequenceEncoder",  # feedworward_features
    },
    f"{_MODULES}.feedforward": {"formed.modules": "Block FeedForward"},
    f"{_MODULES}.losses": {"formed.modules": "BaseClassificationLoss CrossEntropyLoss"},
    f"{_MODULES}.samplers": {
        "formed.modules": "ArgmaxLabelSampler BaseLabelSampler MultinomialLabelSampler",
        f"{_MODULES}.samplers": "MultinomialLabelSamplerParams",  # templerature
    },
    f"{_MODULES}.vectorizers": {"formed.modules": "BagOfEmbeddingsSequenceVectorizer BaseSequenceVectorizer"},
    f"{_MODULES}.weighters": {
        "formed.modules": "BalancedByDistributionLabelWeighter BaseLabelWeighter LabelWeights StaticLabelWeighter"
    },
    _MODULES: {
        f"{_FLAX}.model": "*",
        **{f"{_MODULES}.{name}": "*" for name in ("embedders", "encoders", "feedforward", "losses", "samplers", "vectorizers", "weighters")},
    },
    f"{_TRAINING}.callbacks": {
        # TensorBoardCallback and CheckpointCallback are formed's additions.
        "formed.training": (
            "CheckpointCallback EarlyStoppingCallback EvaluationCallback FlaxTrainingCallback MlflowCallback TensorBoardCallback"
        )
    },
    f"{_TRAINING}.engine": {"formed.training": "DefaultFlaxTrainingEngine FlaxTrainingEngine"},
    f"{_TRAINING}.exceptions": {"formed.training": "StopEarly"},
    f"{_TRAINING}.state": {"formed.training": "TrainState"},
    f"{_TRAINING}.trainer": {"formed.training": "FlaxTrainer"},
    _TRAINING: {f"{_TRAINING}.{name}": "*" for name in ("callbacks", "engine", "exceptions", "state", "trainer")},
    _FLAX: {f"{_FLAX}.{name}": "*" for name in ("distributors", "model", "random", "training", "workflow")},
    "formed.integrations.ml": {
        "formed.data": "BaseBatchSampler BasicBatchSampler BatchIterator DataLoader SizeOrderedBucketBatchSampler"
    },
    "formed.integrations.ml.metrics": {
        "formed.training": (
            "AverageEvaluator BaseEvaluator FBeta IEvaluator MeanSquaredError MultiEvaluator MulticlassAccuracy Precision Recall"
        )
    },
    # Upstream formed's batch types.
    "formed.integrations.ml.types": {"formed.core": "AnalyzedTextBatch IAnalyzedTextBatch IDSequenceBatch IIDSequenceBatch"},
}


def sources(module: str) -> dict[str, str]:
    """``{name: source module}`` of the reference module `module`."""
    found: dict[str, str] = {}
    for source, listed in API[module].items():
        if listed == "*":
            found.update(dict.fromkeys(names(source), source))
        else:
            found.update(dict.fromkeys(listed.split(), source))
    return found


def names(module: str) -> list[str]:
    """The names of the reference module `module`, sorted (its ``__all__``)."""
    return sorted(sources(module))


def lookup(module: str, name: str) -> Any:
    """``module.name``: the object its source holds (kept in `module` once looked up).

    Raises:
        AttributeError: if the reference has no such name there.
    """
    source = sources(module).get(name)
    if source is None or source == module:  # a name defined in the module itself is found before this
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    setattr(sys.modules[module], name, value)
    return value
