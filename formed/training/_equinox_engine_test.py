"""The ``equinox`` engine: its steps equal a hand-written Equinox loop, evaluation runs in
inference mode, and a crashed run resumes from its checkpoint to the uninterrupted result."""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np
import optax
import pytest

from formed.core import from_config
from formed.data import BasicBatchSampler, DataLoader
from formed.training.testing import TinyClassifier, TinyEquinoxClassifier, collate, list_loader, make_records, params_of
from formed.training._callbacks import EarlyStoppingCallback, EvaluationCallback, FlaxTrainingCallback
from formed.training._checkpoints import CheckpointCallback, CheckpointDirectory
from formed.training._engine import FlaxTrainingEngine
from formed.training._equinox_engine import EquinoxTrainingEngine, EquinoxTrainState
from formed.training._metrics import MulticlassAccuracy
from formed.training._optimizers import build_optimizer  # noqa: F401  (registers optimizer configs)
from formed.training._trainer import FlaxTrainer


def _trainer(tx: optax.GradientTransformation, **kwargs) -> FlaxTrainer:
    return FlaxTrainer(
        train_dataloader=list_loader(16), engine=EquinoxTrainingEngine(optimizer=tx), progress=False, **kwargs
    )


def test_the_engine_is_selected_by_name_from_a_config():
    engine = from_config(FlaxTrainingEngine, {"type": "equinox", "optimizer": {"type": "adam", "learning_rate": 1e-3}})
    assert isinstance(engine, EquinoxTrainingEngine)


def test_trainer_steps_equal_a_hand_written_equinox_loop():
    records = make_records(96)  # 6 batches of 16, 2 epochs: 12 steps with dropout on
    tx = optax.adamw(1e-2)
    trainer = _trainer(tx, max_epochs=2)
    model = TinyEquinoxClassifier(dropout=0.3)
    start = trainer.engine.create_state(5, trainer, model)
    trained = trainer.train(model, records, state=start)

    # The same updates by hand: eqx.filter_jit, eqx.filter_value_and_grad and optax.
    @eqx.filter_jit
    def step(model, opt_state, batch, key):
        grads = eqx.filter_grad(lambda m: m(batch, key=key).loss)(model)
        updates, opt_state = tx.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), opt_state

    assert isinstance(start, EquinoxTrainState) and start.key is not None
    key = start.key
    opt_state = tx.init(eqx.filter(model, eqx.is_inexact_array))
    for _ in range(2):
        for batch in list_loader(16)(records):
            key, step_key = jax.random.split(key)
            model, opt_state = step(model, opt_state, batch, step_key)

    assert int(trained.step) == 12
    expected = jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))
    for a, b in zip(expected, params_of(trained)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The model that comes back is the one the hand-written loop trained.
    rebuilt = eqx.nn.inference_mode(trained.to_model())
    batch = collate(records[:8])
    np.testing.assert_allclose(rebuilt(batch).logits, eqx.nn.inference_mode(model)(batch).logits, rtol=1e-5, atol=1e-6)


def test_the_seed_decides_the_dropout_keys():
    records = make_records(32)
    runs = [_trainer(optax.adam(1e-2), max_epochs=1).train(TinyEquinoxClassifier(dropout=0.5), records, rngs=seed) for seed in (1, 1, 2)]
    for a, b in zip(params_of(runs[0]), params_of(runs[1])):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(params_of(runs[0]), params_of(runs[2])))


def test_evaluation_runs_in_inference_mode():
    records = make_records(32)
    evaluator = MulticlassAccuracy()
    trainer = _trainer(optax.adam(1e-2), max_epochs=1, val_dataloader=list_loader(32))
    state = trainer.train(TinyEquinoxClassifier(dropout=0.9), records)
    first = trainer.evaluate(None, state, records, evaluators=[evaluator])
    second = trainer.evaluate(None, state, records)
    assert first["loss"] == second["loss"]  # no dropout: the same twice
    expected = eqx.nn.inference_mode(state.to_model())(collate(records))
    assert first["loss"] == pytest.approx(float(expected.loss), rel=1e-5)
    assert 0.0 <= first["accuracy"] <= 1.0


def test_a_flax_model_is_refused_with_a_hint():
    trainer = _trainer(optax.adam(1e-2))
    with pytest.raises(TypeError, match="default engine"):
        trainer.engine.create_state(None, trainer, TinyClassifier())


def test_the_state_holds_non_float_arrays_apart_and_rebuilds_the_model():
    model = TinyEquinoxClassifier()
    state = EquinoxTrainState.from_model(model, optax.sgd(0.1))
    assert len(jax.tree.leaves(state.params)) == 4  # two weights, two biases
    rebuilt = state.to_model()
    assert eqx.tree_equal(rebuilt, model)


class Crash(FlaxTrainingCallback):
    """Stands for a kill: raises after the given step (whatever a kill interrupts later, the
    checkpoint code is built so that the index and the step directories stay consistent)."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_batch_end(self, trainer, model, state, epoch, output):
        if trainer.global_step == self.at_step:
            raise RuntimeError("simulated crash")


def _checkpointed_run(directory: str, *extra: FlaxTrainingCallback) -> FlaxTrainer:
    return FlaxTrainer(
        train_dataloader=DataLoader(BasicBatchSampler(batch_size=16, shuffle=True, seed=1), collator=collate),
        val_dataloader=list_loader(32),
        engine=EquinoxTrainingEngine(optimizer=optax.adam(1e-2)),
        callbacks=[
            EvaluationCallback(MulticlassAccuracy()),
            CheckpointCallback(directory=directory, interval=3, keep_last=2, metric="+accuracy"),
            EarlyStoppingCallback(patience=5, metric="+accuracy"),
            *extra,
        ],
        max_epochs=3,
        progress=False,
    )


def test_a_crashed_equinox_run_resumes_to_the_same_parameters(tmp_path):
    records = make_records(80)  # 5 steps per epoch, 15 in all, dropout on
    uninterrupted = _checkpointed_run(str(tmp_path / "a")).train(TinyEquinoxClassifier(), records, records, rngs=3)

    with pytest.raises(RuntimeError, match="simulated crash"):
        _checkpointed_run(str(tmp_path / "b"), Crash(at_step=8)).train(TinyEquinoxClassifier(), records, records, rngs=3)
    directory = CheckpointDirectory(str(tmp_path / "b"))
    assert directory.latest_step() == 6
    trainer = _checkpointed_run(str(tmp_path / "b"))
    model = TinyEquinoxClassifier()
    state = directory.resume(trainer, trainer.engine.create_state(3, trainer, model))
    assert isinstance(state, EquinoxTrainState) and int(state.step) == 6
    resumed = trainer.train(model, records, records, state=state)

    assert int(resumed.step) == int(uninterrupted.step)
    for a, b in zip(jax.tree.leaves(uninterrupted), jax.tree.leaves(resumed)):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    best_a = CheckpointDirectory(str(tmp_path / "a")).read_index()["best"]
    assert directory.read_index()["best"] == best_a
