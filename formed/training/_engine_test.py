import jax
import numpy as np
import optax
import pytest

from formed.training._engine import DefaultFlaxTrainingEngine, FlaxTrainingEngine, get_loss
from formed.training.testing import TinyClassifier, collate, make_records
from formed.training._trainer import FlaxTrainer


def _setup(**engine_kwargs):
    engine = DefaultFlaxTrainingEngine(optimizer=optax.sgd(0.5), **engine_kwargs)
    trainer = FlaxTrainer(train_dataloader=lambda d: [], engine=engine, progress=False)
    state = engine.create_state(None, trainer, TinyClassifier(dropout=0.0))
    return engine, trainer, state, collate(make_records(32))


def test_train_step_lowers_the_loss_and_counts_steps():
    engine, trainer, state, batch = _setup()
    step = jax.jit(engine.train_step, static_argnums=(2,))
    first = engine.eval_step(batch, state, trainer).loss
    for _ in range(20):
        state, output = step(batch, state, trainer)
    assert int(state.step) == 20
    assert float(engine.eval_step(batch, state, trainer).loss) < float(first)


def test_loss_by_function():
    engine, trainer, state, batch = _setup(loss=lambda output: 2.0 * output.loss)
    plain_engine, _, plain_state, _ = _setup()
    doubled, _ = engine.train_step(batch, state, trainer)
    plain, _ = plain_engine.train_step(batch, plain_state, trainer)
    # SGD: twice the loss, twice the step away from the same start.
    start = jax.tree.leaves(state.params)[0]
    np.testing.assert_allclose(jax.tree.leaves(doubled.params)[0] - start, 2 * (jax.tree.leaves(plain.params)[0] - start), rtol=1e-4, atol=1e-6)


def test_eval_step_does_not_update():
    engine, trainer, state, batch = _setup()
    a = engine.eval_step(batch, state, trainer)
    b = engine.eval_step(batch, state, trainer)
    np.testing.assert_array_equal(a.logits, b.logits)


def test_get_loss_errors_name_the_field():
    with pytest.raises(AttributeError, match="'total'"):
        get_loss(object(), "total")
    with pytest.raises(KeyError, match="'total'"):
        get_loss({"loss": 1.0}, "total")


def test_default_engine_is_registered():
    assert FlaxTrainingEngine.by_name("default") is DefaultFlaxTrainingEngine
