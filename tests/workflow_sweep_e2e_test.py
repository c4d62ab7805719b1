"""End to end: a learning-rate sweep through the workflow `run` binary (the shipped sweep on the
tiny workflow): the shared data steps run once, each rate trains and is evaluated, a table compares
them, and TensorBoard has one run per rate with its hyperparameters."""

from __future__ import annotations

import glob
import os

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

import workflow_binary as wb

TINY_SWEEP = os.path.join(wb.TESTS_DIR, "configs", "tiny_sweep.py")
KEY = "peak_value"


def test_a_sweep_trains_once_per_value_on_shared_data_and_tabulates(tmp_path) -> None:
    data, cache = str(tmp_path / "data"), str(tmp_path / "cache")
    wb.write_spatial_relations(data, train=128, validation=32, test=32)
    result = wb.run_workflow(*wb.tiny_flags(cache, data, config=TINY_SWEEP))

    assert wb.statuses(result.stdout) == {
        "dataset": "ran",
        "datamodule": "ran",
        f"train[{KEY}=0.01]": "ran",
        f"test_metrics[{KEY}=0.01]": "ran",
        f"train[{KEY}=0.05]": "ran",
        f"test_metrics[{KEY}=0.05]": "ran",
        "sweep_table": "ran",
    }
    table = result.stdout.split("done in", 1)[1].splitlines()
    header = next(line for line in table if line.startswith("variant"))
    assert header.split() == ["variant", KEY, "test_metrics/accuracy", "test_metrics/macro_f1"]
    rows = [line.split() for line in table if line.startswith(f"{KEY}=")]
    assert [row[:2] for row in rows] == [[f"{KEY}=0.01", "0.01"], [f"{KEY}=0.05", "0.05"]]
    assert all(0.0 <= float(value) <= 1.0 for row in rows for value in row[2:])

    runs = glob.glob(os.path.join(cache, "tensorboard", "tiny_sweep-*"))
    assert len(runs) == 1
    assert sorted(os.listdir(runs[0])) == [f"train[{KEY}=0.01]", f"train[{KEY}=0.05]"]
    for rate in ("0.01", "0.05"):
        events = event_accumulator.EventAccumulator(os.path.join(runs[0], f"train[{KEY}={rate}]"))
        events.Reload()
        assert "val/accuracy" in events.Tags()[event_accumulator.SCALARS]
        content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
        assert hparams[f"trainer.engine.optimizer.learning_rate.{KEY}"].number_value == float(rate)
