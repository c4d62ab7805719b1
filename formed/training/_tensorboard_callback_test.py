import optax
import pytest
from tensorboard.backend.event_processing import event_accumulator

from formed.training._engine import DefaultFlaxTrainingEngine
from formed.training._optimizers import build_optimizer
from formed.training._tensorboard_callback import TensorBoardCallback
from formed.training.testing import TinyClassifier, list_loader, make_records
from formed.training._trainer import FlaxTrainer


def _load(directory):
    accumulator = event_accumulator.EventAccumulator(str(directory), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return accumulator


def test_scalars_learning_rate_speed_and_config(tmp_path):
    records = make_records(64)
    callback = TensorBoardCallback(directory=str(tmp_path), run_config='{"model": "tiny"}')
    trainer = FlaxTrainer(
        train_dataloader=list_loader(16), val_dataloader=list_loader(32),
        engine=DefaultFlaxTrainingEngine(optimizer=build_optimizer({"type": "sgd", "learning_rate": 0.1})),
        callbacks=[callback], max_epochs=2, logging_strategy="step", logging_interval=2, progress=False,
    )
    trainer.train(TinyClassifier(), records, records)
    accumulator = _load(tmp_path)
    scalars = set(accumulator.Tags()["scalars"])
    assert {"train/loss", "val/loss", "train/learning_rate", "train/steps_per_sec"} <= scalars
    assert [event.step for event in accumulator.Scalars("val/loss")] == [4, 8]
    assert [event.step for event in accumulator.Scalars("train/loss")] == [1, 2, 4, 6, 8]
    assert all(abs(event.value - 0.1) < 1e-7 for event in accumulator.Scalars("train/learning_rate"))
    assert "config" in accumulator.Tags()["tensors"]
    text = accumulator.Tensors("config")[0].tensor_proto.string_val[0].decode()
    assert '"model": "tiny"' in text


def test_optimizer_without_injected_learning_rate_logs_no_rate(tmp_path):
    trainer = FlaxTrainer(
        train_dataloader=list_loader(16), engine=DefaultFlaxTrainingEngine(optimizer=optax.sgd(0.1)),
        callbacks=[TensorBoardCallback(directory=str(tmp_path))], max_epochs=1, progress=False,
    )
    trainer.train(TinyClassifier(), make_records(32))
    scalars = set(_load(tmp_path).Tags()["scalars"])
    assert "train/loss" in scalars and "train/learning_rate" not in scalars


def test_set_workdir_only_fills_a_missing_directory(tmp_path):
    callback = TensorBoardCallback()
    callback.set_workdir(str(tmp_path))
    assert callback.directory == str(tmp_path)
    configured = TensorBoardCallback(directory="elsewhere")
    configured.set_workdir(str(tmp_path))
    assert configured.directory == "elsewhere"


def test_steps_per_sec_is_the_rate_the_progress_line_shows(tmp_path):
    from formed.training._callbacks import FlaxTrainingCallback

    class Clock(FlaxTrainingCallback):
        """A fake clock: each step takes 0.1 s, each evaluation 5 s (left out of the rate)."""

        def __init__(self):
            self.now = 1000.0
            self.seen = []

        def __call__(self):
            return self.now

        def on_batch_start(self, trainer, model, state, epoch):
            self.now += 0.1

        def on_eval_start(self, trainer, model, state):
            self.now += 5.0

        def on_log(self, trainer, model, state, metrics, prefix=""):
            if prefix == trainer.train_prefix:
                self.seen.append((trainer.global_step, trainer.steps_per_sec, trainer._progress.render()))

    clock = Clock()
    trainer = FlaxTrainer(
        train_dataloader=list_loader(8), val_dataloader=list_loader(32),
        engine=DefaultFlaxTrainingEngine(optimizer=optax.sgd(0.1)),
        callbacks=[TensorBoardCallback(directory=str(tmp_path)), clock], max_epochs=2,
        logging_strategy="step", logging_interval=4, progress=False, clock=clock,
    )
    trainer.train(TinyClassifier(), make_records(64), make_records(32))
    logged = {event.step: event.value for event in _load(tmp_path).Scalars("train/steps_per_sec")}
    assert sorted(logged) == [4, 8, 12, 16]  # step 1 has no rate yet: its time is compilation
    assert {step for step, _, _ in clock.seen} >= set(logged)
    for step, rate, line in clock.seen:
        if step in logged:
            assert logged[step] == pytest.approx(rate, rel=1e-6) and rate == pytest.approx(10.0)
            assert "10.0 steps/s" in line


def test_final_metrics_and_hparams_are_written_for_the_hparams_tab(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.plugins.hparams import metadata as hparams_metadata

    from formed.training._tensorboard_callback import flatten_config, write_final_summaries

    config = {"model": {"type": "text_classifier", "encoder": {"features": 16}}, "seed": 3, "sizes": [1, 2]}
    assert flatten_config(config) == {"model.type": "text_classifier", "model.encoder.features": 16, "seed": 3, "sizes": "[1, 2]"}
    metrics = {"validation": {"accuracy": 0.5}, "test": {"accuracy": 0.25, "loss": 1.5}, "step": 7}
    write_final_summaries(str(tmp_path), metrics, 7, config, trial="run-a")
    accumulator = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0})
    accumulator.Reload()
    assert [(e.step, e.value) for e in accumulator.Scalars("test/accuracy")] == [(7, 0.25)]
    assert [(e.step, e.value) for e in accumulator.Scalars("final_val/accuracy")] == [(7, 0.5)]
    content = accumulator.PluginTagToContent(hparams_metadata.PLUGIN_NAME)
    start = hparams_metadata.parse_session_start_info_plugin_data(content[hparams_metadata.SESSION_START_INFO_TAG])
    assert start.hparams["model.encoder.features"].number_value == 16
    assert start.hparams["model.type"].string_value == "text_classifier"
