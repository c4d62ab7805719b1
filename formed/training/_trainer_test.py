import numpy as np
import optax
import pytest

from formed.data import BasicBatchSampler, DataLoader
from formed.training._callbacks import FlaxTrainingCallback
from formed.training._engine import DefaultFlaxTrainingEngine
from formed.training.testing import TinyClassifier, collate, list_loader, make_records, params_of
from formed.training._trainer import FlaxTrainer


def _trainer(**kwargs):
    defaults = dict(
        train_dataloader=list_loader(16),
        val_dataloader=list_loader(32),
        engine=DefaultFlaxTrainingEngine(optimizer=optax.adam(1e-2)),
        max_epochs=3,
        progress=False,
    )
    return FlaxTrainer(**{**defaults, **kwargs})


class Logs(FlaxTrainingCallback):
    def __init__(self):
        self.entries = []

    def on_log(self, trainer, model, state, metrics, prefix=""):
        self.entries.append((trainer.global_step, prefix, dict(metrics)))


def test_training_lowers_the_validation_loss_and_leaves_the_model_alone():
    records = make_records(96)
    model = TinyClassifier()
    before = [np.asarray(x) for x in params_of(_trainer().engine.create_state(None, None, model))]
    logs = Logs()
    state = _trainer(callbacks=[logs], max_epochs=8).train(model, records, records)
    val_losses = [metrics["loss"] for _, prefix, metrics in logs.entries if prefix == "val/"]
    assert len(val_losses) == 8 and val_losses[-1] < val_losses[0]
    assert int(state.step) == 8 * 6
    # The model's own arrays are intact (the trainer donates a copy of them).
    for a, b in zip(before, params_of(_trainer().engine.create_state(None, None, model))):
        np.testing.assert_array_equal(a, b)


class TraceCountingClassifier(TinyClassifier):
    """Counts how often its Python code runs, by mode: once per trace under jit."""

    traces: dict[str, int] = {}

    def __call__(self, inputs, params=None):
        mode = "eval" if self.dropout.deterministic else "train"
        self.traces[mode] = self.traces.get(mode, 0) + 1
        return super().__call__(inputs, params)


def test_each_step_is_traced_once():
    TraceCountingClassifier.traces = {}
    # 96 and 64 records in batches of 16 and 32: every batch has the same shape.
    _trainer(max_epochs=3).train(TraceCountingClassifier(), make_records(96), make_records(64))
    assert TraceCountingClassifier.traces == {"train": 1, "eval": 1}


def test_step_strategies():
    logs = Logs()
    trainer = _trainer(
        callbacks=[logs], max_epochs=2, eval_strategy="step", eval_interval=4,
        logging_strategy="step", logging_interval=5, logging_first_step=True,
    )
    trainer.train(TinyClassifier(), make_records(96), make_records(32))  # 6 steps per epoch
    assert [step for step, prefix, _ in logs.entries if prefix == "train/"] == [1, 5, 10]
    assert [step for step, prefix, _ in logs.entries if prefix == "val/"] == [4, 8, 12]


def test_epoch_intervals_and_custom_prefixes():
    logs = Logs()
    trainer = _trainer(callbacks=[logs], max_epochs=4, eval_interval=2, logging_interval=2, logging_first_step=False,
                       train_prefix="t:", val_prefix="v:")
    trainer.train(TinyClassifier(), make_records(32), make_records(32))
    assert [(step, prefix) for step, prefix, _ in logs.entries] == [(4, "v:"), (4, "t:"), (8, "v:"), (8, "t:")]


def test_val_dataset_without_val_dataloader_is_an_error():
    with pytest.raises(ValueError, match="val_dataloader"):
        _trainer(val_dataloader=None).train(TinyClassifier(), make_records(32), make_records(32))


def test_invalid_strategy_is_an_error():
    with pytest.raises(ValueError, match="eval_strategy"):
        _trainer(eval_strategy="batch")


def _loader():
    return DataLoader(BasicBatchSampler(batch_size=16, shuffle=True, seed=3), collator=collate)


def test_resuming_from_a_mid_epoch_state_matches_an_uninterrupted_run():
    records = make_records(80)  # 5 batches per epoch
    full = _trainer(train_dataloader=_loader(), max_epochs=3).train(TinyClassifier(), records)

    class Stop(FlaxTrainingCallback):
        def on_batch_end(self, trainer, model, state, epoch, output):
            if trainer.global_step == 7:
                from formed.training._exceptions import StopEarly

                raise StopEarly("halfway")

    half = _trainer(train_dataloader=_loader(), max_epochs=3, callbacks=[Stop()]).train(TinyClassifier(), records)
    assert int(half.step) == 7
    resumed = _trainer(train_dataloader=_loader(), max_epochs=3).train(TinyClassifier(), records, state=half)
    assert int(resumed.step) == 15
    for a, b in zip(params_of(full), params_of(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_the_logged_training_loss_is_the_mean_over_the_interval():
    class Outputs(FlaxTrainingCallback):
        def __init__(self):
            self.losses = []

        def on_batch_end(self, trainer, model, state, epoch, output):
            self.losses.append(float(output.loss))

    logs, outputs = Logs(), Outputs()
    trainer = _trainer(callbacks=[logs, outputs], max_epochs=1, logging_strategy="step", logging_interval=3)
    trainer.train(TinyClassifier(), make_records(96))  # 6 steps: logs after steps 1, 3 and 6
    logged = [(step, metrics["loss"]) for step, prefix, metrics in logs.entries if prefix == "train/"]
    assert [step for step, _ in logged] == [1, 3, 6]
    expected = [outputs.losses[0], np.mean(outputs.losses[1:3]), np.mean(outputs.losses[3:6])]
    np.testing.assert_allclose([loss for _, loss in logged], expected, rtol=1e-6)


def test_a_loss_that_is_not_finite_stops_training_naming_the_step_and_the_epoch(tmp_path):
    from formed.training._checkpoints import CheckpointCallback, CheckpointDirectory
    from formed.training._exceptions import NonFiniteLossError

    records = make_records(80)  # batches of 16: 5 steps per epoch
    records[2 * 16 + 3]["x"] = np.full(4, np.nan, dtype=np.float32)  # the loss of step 3 is NaN
    logs = Logs()
    directory = str(tmp_path / "checkpoints")
    trainer = _trainer(callbacks=[logs, CheckpointCallback(directory=directory, interval=1, keep_last=10)])
    with pytest.raises(NonFiniteLossError) as error:
        trainer.train(TinyClassifier(), records, make_records(32))
    assert (error.value.step, error.value.epoch) == (3, 1)
    assert "at step 3 (epoch 1); lower trainer.engine.optimizer.learning_rate" in str(error.value)
    # Found before the checkpoint of step 3 was written: the latest is the last finite state.
    assert CheckpointDirectory(directory).latest_step() == 2
    assert all(np.isfinite(metrics["loss"]) for _, _, metrics in logs.entries)
    # Without checkpoints or evaluations, the next log finds it (logging once per epoch).
    trainer = _trainer(callbacks=[logs], val_dataloader=None)
    with pytest.raises(NonFiniteLossError, match="at step 3 \\(epoch 1\\)"):
        trainer.train(TinyClassifier(), records)


def test_the_evaluation_that_stops_training_early_is_logged_like_every_other():
    from formed.training._callbacks import EarlyStoppingCallback

    records = make_records(96)
    logs = Logs()
    # With a learning rate of 0 the loss never improves: the second evaluation stops training.
    stopper = EarlyStoppingCallback(patience=1, metric="-loss")
    trainer = _trainer(callbacks=[stopper, logs], max_epochs=20, engine=DefaultFlaxTrainingEngine(optimizer=optax.sgd(0.0)))
    trainer.train(TinyClassifier(), records, records)
    assert trainer.stop_reason is not None and "has not improved for 1 evaluations" in trainer.stop_reason
    val_steps = [step for step, prefix, _ in logs.entries if prefix == "val/"]
    assert val_steps == [6, 12] and trainer.global_step == 12  # the deciding evaluation (step 12) is there


class BatchRecorder(FlaxTrainingCallback):
    """Records what the batch hooks see: the state's step before and after each step, and the loss."""

    keeps_states = False

    def __init__(self):
        self.starts, self.ends = [], []

    def on_batch_start(self, trainer, model, state, epoch):
        self.starts.append(int(state.step))

    def on_batch_end(self, trainer, model, state, epoch, output):
        self.ends.append((int(state.step), float(output.loss)))


def test_batch_hooks_see_each_state_and_output_and_change_nothing():
    # The loop builds states and returns outputs only for callbacks with batch hooks: a run
    # without them must train exactly as one with them.
    records = make_records(64)
    recorder = BatchRecorder()
    with_hooks = _trainer(callbacks=[recorder], max_epochs=2).train(TinyClassifier(), records)
    without = _trainer(callbacks=[Logs()], max_epochs=2).train(TinyClassifier(), records)
    assert recorder.starts == list(range(8))
    assert [step for step, _ in recorder.ends] == list(range(1, 9))
    assert all(np.isfinite(loss) for _, loss in recorder.ends)
    for a, b in zip(params_of(with_hooks), params_of(without)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # A hook set on the instance counts too.
    seen = []
    trainer = _trainer(max_epochs=1)
    hooks = FlaxTrainingCallback()
    hooks.on_batch_end = lambda trainer, model, state, epoch, output: seen.append(float(output.loss))  # type: ignore[method-assign]  # on the instance is the point
    trainer.callbacks.append(hooks)
    trainer.train(TinyClassifier(), records)
    assert len(seen) == 4


class ReshapingEngine(DefaultFlaxTrainingEngine):
    """A broken engine: its step returns a state with an extra optimizer-state leaf."""

    def train_step_with_metrics(self, inputs, state, trainer):
        state, output, metrics = super().train_step_with_metrics(inputs, state, trainer)
        return state.replace(opt_state=(state.opt_state, state.step)), output, metrics


def test_an_engine_that_changes_the_state_structure_is_named():
    with pytest.raises(ValueError, match="ReshapingEngine.train_step returned a state shaped differently"):
        _trainer(engine=ReshapingEngine(optimizer=optax.adam(1e-2)), max_epochs=1).train(TinyClassifier(), make_records(32))
