"""Tests of MlflowCallback against a recording stand-in for the `mlflow` module."""

from __future__ import annotations

import sys
import types
from typing import Any

import optax
import pytest

from formed.training._callbacks import FlaxTrainingCallback
from formed.training._engine import DefaultFlaxTrainingEngine
from formed.training._mlflow_callback import MlflowCallback
from formed.training.testing import TinyClassifier, list_loader, make_records
from formed.training._trainer import FlaxTrainer


class FakeMlflow(types.ModuleType):
    """Records what would have gone to MLflow; `active` says whether a run is open."""

    def __init__(self, active: bool) -> None:
        super().__init__("mlflow")
        self.active = active
        self.metrics: list[tuple[str, float, int]] = []

    def active_run(self) -> Any:
        return object() if self.active else None

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        assert all(isinstance(value, float) for value in metrics.values())
        self.metrics.extend((name, value, step) for name, value in metrics.items())

    def log_metric(self, key: str, value: float, step: int) -> None:
        self.metrics.append((key, float(value), step))


def train(callback: MlflowCallback) -> None:
    records = make_records(64)
    FlaxTrainer(
        train_dataloader=list_loader(16), val_dataloader=list_loader(32),
        engine=DefaultFlaxTrainingEngine(optimizer=optax.sgd(0.1)), callbacks=[callback],
        max_epochs=2, logging_strategy="step", logging_interval=2, progress=False,
    ).train(TinyClassifier(), records, records)


def test_logs_metrics_under_their_prefixes_at_the_global_step(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeMlflow(active=True)
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    train(MlflowCallback())
    steps_of = lambda name: [step for key, _, step in fake.metrics if key == name]  # noqa: E731
    assert steps_of("train/loss") == [1, 2, 4, 6, 8]
    assert steps_of("val/loss") == [4, 8]
    assert [(value, step) for key, value, step in fake.metrics if key == "epoch"] == [(1.0, 4), (2.0, 8)]


def test_without_an_active_run_it_warns_and_logs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeMlflow(active=False)
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    with pytest.warns(RuntimeWarning, match="no MLflow run is active"):
        train(MlflowCallback())
    assert fake.metrics == []


def test_without_mlflow_installed_it_warns_and_training_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # makes `import mlflow` raise ImportError
    with pytest.warns(RuntimeWarning, match="not installed"):
        train(MlflowCallback())


def test_registered_and_buildable_by_name() -> None:
    assert FlaxTrainingCallback.by_name("mlflow") is MlflowCallback
