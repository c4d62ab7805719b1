import jax
import numpy as np
import optax
import pytest

from formed.core import from_config
from formed.training._callbacks import EarlyStoppingCallback, EvaluationCallback, FlaxTrainingCallback, parse_metric
from formed.training._engine import DefaultFlaxTrainingEngine
from formed.training._exceptions import StopEarly
from formed.training._metrics import MulticlassAccuracy
from formed.training._checkpoints import CheckpointCallback
from formed.training.testing import TinyClassifier, list_loader, make_records, params_of
from formed.training._trainer import FlaxTrainer


class Recorder(FlaxTrainingCallback):
    def __init__(self):
        self.calls = []

    def on_training_start(self, trainer, model, state):
        self.calls.append("training_start")

    def on_training_end(self, trainer, model, state):
        self.calls.append("training_end")

    def on_epoch_start(self, trainer, model, state, epoch):
        self.calls.append(f"epoch_start {epoch}")

    def on_epoch_end(self, trainer, model, state, epoch):
        self.calls.append(f"epoch_end {epoch}")

    def on_batch_start(self, trainer, model, state, epoch):
        self.calls.append("batch_start")

    def on_batch_end(self, trainer, model, state, epoch, output):
        self.calls.append("batch_end")

    def on_eval_start(self, trainer, model, state):
        self.calls.append("eval_start")
        return None

    def on_eval_end(self, trainer, model, state, metrics, prefix=""):
        self.calls.append(f"eval_end {prefix}")

    def on_log(self, trainer, model, state, metrics, prefix=""):
        self.calls.append(f"log {prefix}")


def _trainer(callbacks, max_epochs=2, lr=0.1, **kwargs):
    return FlaxTrainer(
        train_dataloader=list_loader(16),
        val_dataloader=list_loader(32),
        engine=DefaultFlaxTrainingEngine(optimizer=optax.sgd(lr)),
        callbacks=callbacks,
        max_epochs=max_epochs,
        progress=False,
        **kwargs,
    )


def test_hook_order_follows_the_reference():
    recorder = Recorder()
    records = make_records(32)  # 2 batches per epoch
    _trainer([recorder], max_epochs=2, logging_first_step=False).train(TinyClassifier(), records, records)
    epoch = ["batch_start", "batch_end", "batch_start", "batch_end", "eval_start", "eval_end val/", "log val/", "log train/"]
    assert recorder.calls == (
        ["training_start", "epoch_start 1", *epoch, "epoch_end 1", "epoch_start 2", *epoch, "epoch_end 2", "training_end"]
    )


def test_evaluation_callback_adds_its_metrics():
    logged = []

    class Logs(FlaxTrainingCallback):
        def on_log(self, trainer, model, state, metrics, prefix=""):
            logged.append((prefix, dict(metrics)))

    records = make_records(32)
    _trainer([EvaluationCallback(MulticlassAccuracy()), Logs()], max_epochs=1).train(TinyClassifier(), records, records)
    val = [metrics for prefix, metrics in logged if prefix == "val/"]
    assert set(val[-1]) == {"loss", "accuracy"}


def test_parse_metric_sign_convention():
    assert parse_metric("-loss") == ("loss", -1.0)
    assert parse_metric("+accuracy") == ("accuracy", 1.0)
    assert parse_metric("accuracy") == ("accuracy", 1.0)


class ScriptedMetrics(FlaxTrainingCallback):
    """Replaces the validation metrics with a scripted sequence, one value per evaluation."""

    def __init__(self, values):
        self.values = list(values)
        self.steps = []

    def on_eval_start(self, trainer, model, state):
        values, steps = self.values, self.steps

        class Scripted:
            def update(self, inputs, output):
                pass

            def compute(self):
                steps.append(trainer.global_step)
                return {"score": values.pop(0)}

            def reset(self):
                pass

        return Scripted()


def test_early_stopping_stops_and_restores_the_best_state():
    seen = {}

    class Snapshot(FlaxTrainingCallback):
        def on_eval_end(self, trainer, model, state, metrics, prefix=""):
            seen[trainer.global_step] = params_of(state)

    records = make_records(32)
    scripted = ScriptedMetrics([0.1, 0.5, 0.3, 0.2, 0.9])
    early = EarlyStoppingCallback(patience=2, metric="+score")
    trainer = _trainer([scripted, Snapshot(), early], max_epochs=5)
    state = trainer.train(TinyClassifier(), records, records)
    # Best at the 2nd evaluation (step 4); two evaluations without improvement stop at step 8.
    assert scripted.steps == [2, 4, 6, 8]
    assert trainer.global_step == 8
    assert early.best_step == 4
    for restored, best in zip(params_of(state), seen[4]):
        np.testing.assert_array_equal(restored, best)
    assert not np.allclose(params_of(state)[0], seen[8][0])


def test_early_stopping_minimises_with_minus():
    records = make_records(32)
    early = EarlyStoppingCallback(patience=1, metric="-score")
    trainer = _trainer([ScriptedMetrics([0.5, 0.3, 0.4]), early], max_epochs=3)
    trainer.train(TinyClassifier(), records, records)
    assert early.best_step == 4 and trainer.global_step == 6


def test_early_stopping_accepts_prefixed_names_and_names_missing_metrics():
    early = EarlyStoppingCallback(metric="-val/loss")
    trainer = _trainer([], max_epochs=1)
    state = trainer.engine.create_state(None, trainer, TinyClassifier())
    early.on_training_start(trainer, None, state)  # type: ignore[arg-type]  # the callback does not use the model
    early.on_eval_end(trainer, None, state, {"loss": 1.0}, prefix="val/")  # type: ignore[arg-type]  # the callback does not use the model
    assert early.best_score == -1.0
    with pytest.raises(ValueError) as error:
        EarlyStoppingCallback(metric="+accuracy").on_eval_end(trainer, None, state, {"loss": 1.0}, prefix="val/")  # type: ignore[arg-type]  # the callback does not use the model
    assert str(error.value) == (
        "EarlyStoppingCallback watches 'accuracy', but the evaluation reported only ['loss'] (prefix 'val/'); "
        "set metric= to one of them"
    )


def test_checkpointing_names_a_missing_metric_as_early_stopping_does(tmp_path):
    # One helper keeps "the best so far" for both callbacks, so the same mistake reads the same.
    trainer = _trainer([], max_epochs=1)
    state = trainer.engine.create_state(None, trainer, TinyClassifier())
    checkpoint = CheckpointCallback(directory=str(tmp_path), metric="+accuracy")
    with pytest.raises(ValueError) as error:
        checkpoint.on_eval_end(trainer, None, state, {"loss": 1.0}, prefix="val/")  # type: ignore[arg-type]  # the callback does not use the model
    assert str(error.value) == (
        "CheckpointCallback watches 'accuracy', but the evaluation reported only ['loss'] (prefix 'val/'); "
        "set metric= to one of them"
    )


def test_stop_early_raised_by_any_callback_ends_training_cleanly():
    class Stop(FlaxTrainingCallback):
        def on_batch_end(self, trainer, model, state, epoch, output):
            if trainer.global_step == 3:
                raise StopEarly("enough")

    recorder = Recorder()
    state = _trainer([Stop(), recorder], max_epochs=5).train(TinyClassifier(), make_records(32))
    assert int(state.step) == 3 and recorder.calls[-1] == "training_end"


def test_callbacks_are_registered_and_buildable():
    callback = from_config(FlaxTrainingCallback, {"type": "early_stopping", "patience": 2, "metric": "+accuracy"})
    assert isinstance(callback, EarlyStoppingCallback) and callback.patience == 2
    evaluation = from_config(FlaxTrainingCallback, {"type": "evaluation", "evaluator": {"type": "accuracy"}})
    assert isinstance(evaluation, EvaluationCallback) and isinstance(evaluation.evaluator, MulticlassAccuracy)
    import formed.training  # the public package registers every callback, TensorBoard and checkpoints too

    assert {"evaluation", "early_stopping", "tensorboard", "checkpoint"} <= set(FlaxTrainingCallback.list_available())
