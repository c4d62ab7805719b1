"""Metrics and evaluators: what the trainer reports during training and validation.

An evaluator follows the `IEvaluator` protocol: ``update(inputs, output)`` after each batch,
``compute() -> {name: float}`` when metrics are logged, ``reset()`` to start over. Every
evaluator here is registered under `BaseEvaluator`, so a config can say::

    {"type": "multi", "evaluators": [{"type": "average", "field": "loss"},
                                     {"type": "accuracy"},
                                     {"type": "fbeta", "average": "macro"}]}

`update` never waits for the device: it keeps the (possibly not yet computed) arrays and
`compute` fetches all of them at once. This is what lets the trainer's step loop run ahead of
the device between two logging points.

Classification metrics read the predicted class ids from ``output.<prediction>`` (default
``label``) and the true ones from ``inputs[<target>]`` (default ``"label"``); both ``(batch,)``.
"""

from __future__ import annotations

import abc
from typing import Any, Literal, Mapping, Protocol, Sequence, runtime_checkable

import jax
import numpy as np

from formed.core import Registrable

Average = Literal["micro", "macro"]


@runtime_checkable
class IEvaluator(Protocol):
    """Accumulates metrics over batches."""

    def update(self, inputs: Any, output: Any) -> None: ...

    def compute(self) -> dict[str, float]: ...

    def reset(self) -> None: ...


def read_field(source: Any, name: str) -> Any:
    """``source[name]`` for mappings, else ``getattr(source, name)``; None when absent."""
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


class BaseEvaluator(Registrable, abc.ABC):
    """A registered `IEvaluator` that keeps a list of pending (device or host) values."""

    def __init__(self) -> None:
        self._pending: list[Any] = []

    def reset(self) -> None:
        self._pending = []

    @abc.abstractmethod
    def update(self, inputs: Any, output: Any) -> None:
        """Records one batch."""

    @abc.abstractmethod
    def compute(self) -> dict[str, float]:
        """The metrics of every batch since the last `reset` (empty dict when none)."""

    def _fetch(self) -> list[Any]:
        # One transfer for everything recorded since the last compute.
        return jax.device_get(self._pending)


@BaseEvaluator.register("average")
class AverageEvaluator(BaseEvaluator):
    """The mean over batches of a scalar output field, e.g. the loss.

    Args:
        field: the output attribute (or key) to average.
        name: the metric name, `field` by default.
    """

    def __init__(self, field: str = "loss", name: str | None = None) -> None:
        super().__init__()
        self.field = field
        self.name = name or field

    def update(self, inputs: Any, output: Any) -> None:
        value = read_field(output, self.field)
        if value is not None:
            self._pending.append(value)

    def compute(self) -> dict[str, float]:
        if not self._pending:
            return {}
        return {self.name: float(np.mean([np.mean(v) for v in self._fetch()]))}


class _PairEvaluator(BaseEvaluator):
    """Keeps (prediction, target) pairs; subclasses compute from the concatenated arrays."""

    def __init__(self, prediction: str = "label", target: str = "label", name: str | None = None) -> None:
        super().__init__()
        self.prediction = prediction
        self.target = target
        self.name = name

    def update(self, inputs: Any, output: Any) -> None:
        prediction = read_field(output, self.prediction)
        target = read_field(inputs, self.target)
        if prediction is None or target is None:
            raise ValueError(
                f"{type(self).__name__} needs output.{self.prediction} and inputs[{self.target!r}]; "
                f"got output {type(output).__name__} and inputs {type(inputs).__name__}; set prediction= / target="
            )
        self._pending.append((prediction, target))

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        pairs = self._fetch()
        predictions = np.concatenate([np.reshape(p, -1) for p, _ in pairs])
        targets = np.concatenate([np.reshape(t, -1) for _, t in pairs])
        if predictions.shape != targets.shape:
            raise ValueError(f"{len(predictions)} predictions but {len(targets)} targets")
        return predictions, targets

    def compute(self) -> dict[str, float]:
        if not self._pending:
            return {}
        predictions, targets = self._arrays()
        return self._compute(predictions, targets)

    @abc.abstractmethod
    def _compute(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]: ...


@BaseEvaluator.register("accuracy")
class MulticlassAccuracy(_PairEvaluator):
    """Fraction of examples whose predicted class equals the true one: ``{"accuracy": ...}``."""

    def _compute(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        return {self.name or "accuracy": float(np.mean(predictions == targets))}


def _counts(predictions: np.ndarray, targets: np.ndarray, num_classes: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class true positives, predicted counts and true counts."""
    n = int(max(predictions.max(initial=0), targets.max(initial=0)) + 1)
    if num_classes is not None:
        n = max(n, num_classes)
    true_positives = np.bincount(targets[predictions == targets], minlength=n)
    predicted = np.bincount(predictions, minlength=n)
    actual = np.bincount(targets, minlength=n)
    return true_positives, predicted, actual


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros(np.shape(numerator), dtype=np.float64), where=denominator > 0)


class _ClassCountEvaluator(_PairEvaluator):
    def __init__(
        self,
        average: Average = "micro",
        num_classes: int | None = None,
        prediction: str = "label",
        target: str = "label",
        name: str | None = None,
    ) -> None:
        if average not in ("micro", "macro"):
            raise ValueError(f"average must be 'micro' or 'macro', got {average!r}")
        super().__init__(prediction, target, name)
        self.average = average
        self.num_classes = num_classes

    def _scores(self, predictions: np.ndarray, targets: np.ndarray) -> tuple[Any, Any]:
        """(precision, recall), micro-averaged scalars or per-class arrays (macro)."""
        tp, predicted, actual = _counts(predictions.astype(np.int64), targets.astype(np.int64), self.num_classes)
        if self.average == "micro":
            return _ratio(tp.sum(), predicted.sum()), _ratio(tp.sum(), actual.sum())
        return _ratio(tp, predicted), _ratio(tp, actual)

    def _classes_seen(self, predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
        _, predicted, actual = _counts(predictions.astype(np.int64), targets.astype(np.int64), self.num_classes)
        # Macro averages run over the classes that occur (predicted or true), or all num_classes.
        if self.num_classes is not None:
            return np.arange(self.num_classes)
        return np.nonzero((predicted + actual) > 0)[0]


@BaseEvaluator.register("precision")
class Precision(_ClassCountEvaluator):
    """Precision, micro (over all examples) or macro (mean over classes): ``{"micro_precision": ...}``.

    Args:
        average: ``"micro"`` or ``"macro"``.
        num_classes: classes to average over in macro mode (default: the classes seen).
    """

    def _compute(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        precision, _ = self._scores(predictions, targets)
        if self.average == "macro":
            precision = precision[self._classes_seen(predictions, targets)].mean()
        return {self.name or f"{self.average}_precision": float(precision)}


@BaseEvaluator.register("recall")
class Recall(_ClassCountEvaluator):
    """Recall, micro or macro: ``{"micro_recall": ...}`` (arguments as `Precision`)."""

    def _compute(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        _, recall = self._scores(predictions, targets)
        if self.average == "macro":
            recall = recall[self._classes_seen(predictions, targets)].mean()
        return {self.name or f"{self.average}_recall": float(recall)}


@BaseEvaluator.register("fbeta")
class FBeta(_ClassCountEvaluator):
    """F-beta, micro or macro: ``{"macro_f1": ...}`` for ``beta=1, average="macro"``.

    Macro F-beta is the mean of the per-class F-beta scores.
    """

    def __init__(
        self,
        beta: float = 1.0,
        average: Average = "micro",
        num_classes: int | None = None,
        prediction: str = "label",
        target: str = "label",
        name: str | None = None,
    ) -> None:
        if beta <= 0:
            raise ValueError(f"beta must be positive, got {beta}")
        super().__init__(average, num_classes, prediction, target, name)
        self.beta = beta

    def _compute(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        precision, recall = self._scores(predictions, targets)
        b2 = self.beta**2
        score = _ratio((1 + b2) * precision * recall, b2 * precision + recall)
        if self.average == "macro":
            score = score[self._classes_seen(predictions, targets)].mean()
        return {self.name or f"{self.average}_f{self.beta:g}": float(score)}


@BaseEvaluator.register("mean_squared_error")
class MeanSquaredError(_PairEvaluator):
    """Mean of ``(prediction - target) ** 2`` over all elements: ``{"mean_squared_error": ...}``.

    Args:
        prediction: the output field with predictions (default ``"prediction"``).
        target: the input field with targets (default ``"target"``).
    """

    def __init__(self, prediction: str = "prediction", target: str = "target", name: str | None = None) -> None:
        super().__init__(prediction, target, name)

    def _compute(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        error = predictions.astype(np.float64) - targets.astype(np.float64)
        return {self.name or "mean_squared_error": float(np.mean(error**2))}


@BaseEvaluator.register("multi")
class MultiEvaluator(BaseEvaluator):
    """Several evaluators as one; their metric dicts are merged (a repeated name is an error).

    Args:
        evaluators: the evaluators to run on every batch (any `IEvaluator` works).
    """

    def __init__(self, evaluators: Sequence[BaseEvaluator]) -> None:
        super().__init__()
        self.evaluators = list(evaluators)

    def update(self, inputs: Any, output: Any) -> None:
        for evaluator in self.evaluators:
            evaluator.update(inputs, output)

    def compute(self) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for evaluator in self.evaluators:
            for name, value in evaluator.compute().items():
                if name in metrics:
                    raise ValueError(f"two evaluators report a metric named {name!r}; give one of them name=")
                metrics[name] = value
        return metrics

    def reset(self) -> None:
        for evaluator in self.evaluators:
            evaluator.reset()
