from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest

from formed.core import from_config
from formed.training._metrics import (
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

# Two batches; predictions vs truth over classes 0, 1, 2.
PREDICTIONS = [np.array([0, 0, 1, 2]), np.array([2, 1, 0])]
TARGETS = [np.array([0, 1, 1, 2]), np.array([1, 1, 0])]


def _feed(evaluator: IEvaluator) -> dict[str, float]:
    for prediction, target in zip(PREDICTIONS, TARGETS):
        evaluator.update({"label": target}, SimpleNamespace(label=jnp.asarray(prediction)))
    return evaluator.compute()


def test_accuracy():
    assert _feed(MulticlassAccuracy()) == {"accuracy": pytest.approx(5 / 7)}


def test_precision_recall_f1_micro_and_macro():
    # Per class: tp = [2, 2, 1], predicted = [3, 2, 2], actual = [2, 4, 1].
    precision = np.array([2 / 3, 2 / 2, 1 / 2])
    recall = np.array([2 / 2, 2 / 4, 1 / 1])
    f1 = 2 * precision * recall / (precision + recall)
    assert _feed(Precision(average="macro")) == {"macro_precision": pytest.approx(precision.mean())}
    assert _feed(Recall(average="macro")) == {"macro_recall": pytest.approx(recall.mean())}
    assert _feed(FBeta(average="macro")) == {"macro_f1": pytest.approx(f1.mean())}
    # Micro averages of single-label predictions all equal the accuracy.
    assert _feed(Precision()) == {"micro_precision": pytest.approx(5 / 7)}
    assert _feed(Recall()) == {"micro_recall": pytest.approx(5 / 7)}
    assert _feed(FBeta()) == {"micro_f1": pytest.approx(5 / 7)}


def test_fbeta_weighs_recall_by_beta():
    p, r = 2 / 3, 1.0  # class 0 only
    evaluator = FBeta(beta=2.0, average="macro", name="f2")
    evaluator.update({"label": np.array([0, 0, 1])}, SimpleNamespace(label=np.array([0, 0, 0])))
    f2_class0 = 5 * p * r / (4 * p + r)
    assert evaluator.compute()["f2"] == pytest.approx((f2_class0 + 0.0) / 2)


def test_average_and_reset():
    evaluator = AverageEvaluator("loss")
    evaluator.update({}, {"loss": jnp.float32(1.0)})
    evaluator.update({}, {"loss": jnp.float32(3.0)})
    assert evaluator.compute() == {"loss": 2.0}
    evaluator.reset()
    assert evaluator.compute() == {}


def test_mean_squared_error():
    evaluator = MeanSquaredError()
    evaluator.update({"target": np.array([1.0, 2.0])}, SimpleNamespace(prediction=jnp.array([1.5, 0.0])))
    assert evaluator.compute() == {"mean_squared_error": pytest.approx((0.25 + 4.0) / 2)}


def test_multi_evaluator_from_config_merges_metrics():
    evaluator = from_config(
        BaseEvaluator,
        {"type": "multi", "evaluators": [{"type": "accuracy"}, {"type": "fbeta", "average": "macro"}, {"type": "average", "field": "loss"}]},
    )
    assert isinstance(evaluator, MultiEvaluator)
    evaluator.update({"label": np.array([1, 0])}, SimpleNamespace(label=np.array([1, 1]), loss=jnp.float32(0.5)))
    assert set(evaluator.compute()) == {"accuracy", "macro_f1", "loss"}


def test_duplicate_metric_names_are_an_error():
    evaluator = MultiEvaluator([MulticlassAccuracy(), MulticlassAccuracy()])
    evaluator.update({"label": np.array([1])}, SimpleNamespace(label=np.array([1])))
    with pytest.raises(ValueError, match="'accuracy'"):
        evaluator.compute()


def test_missing_fields_are_named():
    with pytest.raises(ValueError, match="output.label"):
        MulticlassAccuracy().update({"label": np.array([1])}, SimpleNamespace(logits=None))


def test_registered_names():
    assert {"accuracy", "precision", "recall", "fbeta", "average", "mean_squared_error", "multi"} <= set(BaseEvaluator.list_available())
