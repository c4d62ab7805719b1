"""formed.integrations.ml.metrics: evaluators (implemented in formed.training.metrics)."""

from formed.training.metrics import (
    AverageEvaluator,
    BaseEvaluator,
    FBeta,
    IEvaluator,
    MeanSquaredError,
    MulticlassAccuracy,
    MultiEvaluator,
    Precision,
    Recall,
)

__all__ = [
    "AverageEvaluator",
    "BaseEvaluator",
    "FBeta",
    "IEvaluator",
    "MeanSquaredError",
    "MultiEvaluator",
    "MulticlassAccuracy",
    "Precision",
    "Recall",
]
