"""The engine's options: gradient accumulation, clipping and chains, EMA, mixed precision,
and the logged gradient norm, each through `FlaxTrainer` as a user runs it."""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from formed.core import ConfigurationError, from_config
from formed.training._callbacks import FlaxTrainingCallback
from formed.training._engine import DefaultFlaxTrainingEngine
from formed.training._exceptions import StopEarly
from formed.training._optimizers import build_optimizer, learning_rate_of
from formed.training._checkpoints import CheckpointDirectory
from formed.training.testing import TinyClassifier, list_loader, make_records, params_of
from formed.training._trainer import FlaxTrainer


class Recorder(FlaxTrainingCallback):
    """Host copies of the parameters after every step, and every logged metric."""

    def __init__(self, stop_at: int | None = None):
        self.params: list[Any] = []
        self.logs: list[tuple[int, str, dict[str, float]]] = []
        self.stop_at = stop_at

    def on_batch_end(self, trainer, model, state, epoch, output):
        self.params.append(jax.device_get(trainer.distributor.unreplicate(state).params))
        if trainer.global_step == self.stop_at:
            raise StopEarly(f"stopped at {self.stop_at}")

    def on_log(self, trainer, model, state, metrics, prefix=""):
        self.logs.append((trainer.global_step, prefix, dict(metrics)))


def _train(engine, records, batch_size, max_epochs=1, state=None, callbacks=(), **kwargs):
    trainer = FlaxTrainer(
        train_dataloader=list_loader(batch_size), engine=engine, max_epochs=max_epochs, progress=False,
        callbacks=list(callbacks), **kwargs,
    )
    return trainer.train(TinyClassifier(dropout=0.0), records, state=state)


def _schedule_adam():
    return build_optimizer(
        {"type": "adam", "learning_rate": {"type": "linear_schedule", "init_value": 0.05, "end_value": 0.0, "transition_steps": 8}}
    )


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


# -- 1. gradient accumulation ----------------------------------------------------------------


def test_accumulating_k_micro_batches_equals_one_batch_k_times_larger():
    records = make_records(64)
    big = _train(DefaultFlaxTrainingEngine(optimizer=_schedule_adam()), records, batch_size=32, max_epochs=3)
    small = _train(
        DefaultFlaxTrainingEngine(optimizer=_schedule_adam(), accumulation_steps=4), records, batch_size=8, max_epochs=3
    )
    assert int(small.step) == 4 * int(big.step) == 24  # state.step counts batches
    for a, b in zip(params_of(big), params_of(small)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The schedule counted the 6 optimizer updates, not the 24 micro-batches.
    small_rate, big_rate = learning_rate_of(small.opt_state), learning_rate_of(big.opt_state)
    assert small_rate is not None and big_rate is not None
    assert float(small_rate) == pytest.approx(0.05 * (1 - 5 / 8))
    assert float(small_rate) == pytest.approx(float(big_rate))


def test_resuming_between_micro_batches_is_exact(tmp_path):
    records = make_records(64)
    engine = lambda: DefaultFlaxTrainingEngine(optimizer=_schedule_adam(), accumulation_steps=4)  # noqa: E731
    whole = _train(engine(), records, batch_size=8, max_epochs=2)
    # Killed after step 6 of 16: two micro-batches into the second update.
    first = _train(engine(), records, batch_size=8, max_epochs=2, callbacks=[Recorder(stop_at=6)])
    assert int(first.step) == 6
    directory = CheckpointDirectory(str(tmp_path))
    directory.save(first, 6)
    template = engine().create_state(None, None, TinyClassifier(dropout=0.0))
    restored = directory.restore(template)
    resumed = _train(engine(), records, batch_size=8, max_epochs=2, state=restored)
    assert int(resumed.step) == 16
    for a, b in zip(_leaves(whole.params) + _leaves(whole.opt_state), _leaves(resumed.params) + _leaves(resumed.opt_state)):
        np.testing.assert_array_equal(a, b)


def test_accumulation_steps_must_be_positive():
    with pytest.raises(ValueError, match="accumulation_steps"):
        DefaultFlaxTrainingEngine(accumulation_steps=0)


# -- 2. clipping, chains, grad_norm ----------------------------------------------------------


@pytest.mark.parametrize(
    "engine_config, bound",
    [
        ({"optimizer": {"type": "sgd", "learning_rate": 1.0}, "clip_by_global_norm": 0.01}, ("global", 0.01)),
        ({"optimizer": {"type": "sgd", "learning_rate": 1.0}, "clip": 0.001}, ("element", 0.001)),
        (
            {
                "optimizer": [{"type": "clip_by_global_norm", "max_norm": 0.02}, {"type": "sgd", "learning_rate": 1.0}],
                "log_grad_norm": True,
            },
            ("global", 0.02),
        ),
        (
            {
                "optimizer": {"type": "chain", "transforms": [{"type": "clip", "max_delta": 0.002}, {"type": "sgd", "learning_rate": 1.0}]},
                "log_grad_norm": True,
            },
            ("element", 0.002),
        ),
    ],
)
def test_clipping_bounds_every_update_and_grad_norm_is_logged(engine_config, bound):
    engine = from_config(DefaultFlaxTrainingEngine, engine_config, path="trainer.engine")
    records = make_records(48)
    recorder = Recorder()
    start = engine.create_state(None, None, TinyClassifier(dropout=0.0)).params
    _train(engine, records, batch_size=16, max_epochs=2, callbacks=[recorder], logging_strategy="step")
    kind, limit = bound
    previous = start
    for params in recorder.params:
        delta = [np.asarray(a) - np.asarray(b) for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(previous))]
        if kind == "global":
            assert np.sqrt(sum(float(np.sum(d**2)) for d in delta)) <= limit * (1 + 1e-4) + 1e-7  # float32 rounding of the parameters
        else:
            assert max(float(np.max(np.abs(d))) for d in delta) <= limit * (1 + 1e-4) + 1e-7  # float32 rounding of the parameters
        assert max(float(np.max(np.abs(d))) for d in delta) > 0
        previous = params
    grad_norms = [metrics["grad_norm"] for _, prefix, metrics in recorder.logs if prefix == "train/"]
    assert len(grad_norms) == 6 and all(norm > limit for norm in grad_norms)  # logged before clipping


def test_grad_norm_is_the_mean_global_norm_of_the_logged_steps():
    records = make_records(32)
    recorder = Recorder()
    engine = DefaultFlaxTrainingEngine(optimizer=optax.sgd(0.1), log_grad_norm=True)
    state = engine.create_state(None, None, TinyClassifier(dropout=0.0))
    batch = list_loader(32)(records)[0]
    expected = float(jax.jit(lambda p: optax.tree.norm(jax.grad(lambda q: _loss(state, q, batch))(p)))(state.params))
    _train(engine, records, batch_size=32, callbacks=[recorder], logging_strategy="step")
    assert recorder.logs[0][2]["grad_norm"] == pytest.approx(expected, rel=1e-5)


def test_grad_norm_is_off_without_clipping_unless_asked():
    recorder = Recorder()
    _train(DefaultFlaxTrainingEngine(optimizer=optax.sgd(0.1)), make_records(32), batch_size=16, callbacks=[recorder], logging_strategy="step")
    assert recorder.logs and all("grad_norm" not in metrics for _, _, metrics in recorder.logs)
    assert DefaultFlaxTrainingEngine(clip=1.0).step_metrics == ("grad_norm",)
    assert DefaultFlaxTrainingEngine(clip=1.0, log_grad_norm=False).step_metrics == ()


def _loss(state, params, batch):
    from flax import nnx

    return nnx.merge(state.graphdef, params, *state.additional_states)(batch).loss


def test_a_bad_optimizer_list_entry_names_its_position():
    with pytest.raises(ConfigurationError, match=r"trainer.engine.optimizer\[1\].type"):
        from_config(
            DefaultFlaxTrainingEngine,
            {"optimizer": [{"type": "clip", "max_delta": 1.0}, {"type": "adamw_typo", "learning_rate": 1e-3}]},
            path="trainer.engine",
        )


# -- 3. exponential moving average -----------------------------------------------------------


@pytest.mark.parametrize("accumulation_steps", [1, 2])
def test_ema_follows_the_numpy_recurrence(accumulation_steps):
    decay = 0.8
    records = make_records(64)
    engine = DefaultFlaxTrainingEngine(optimizer=optax.sgd(0.5), ema_decay=decay, accumulation_steps=accumulation_steps)
    expected = _leaves(engine.create_state(None, None, TinyClassifier(dropout=0.0)).params)
    recorder = Recorder()
    state = _train(engine, records, batch_size=8, callbacks=[recorder])
    for step, params in enumerate(recorder.params, start=1):
        if step % accumulation_steps == 0:  # only steps that apply an update move the average
            expected = [decay * e + (1 - decay) * p for e, p in zip(expected, _leaves(params))]
    assert len(recorder.params) == 8
    for a, b in zip(expected, _leaves(state.ema_params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(_leaves(state.ema_params)[0], _leaves(state.params)[0])


def test_ema_is_checkpointed_and_resume_is_exact(tmp_path):
    records = make_records(64)
    engine = lambda: DefaultFlaxTrainingEngine(optimizer=optax.adam(0.05), ema_decay=0.9)  # noqa: E731
    whole = _train(engine(), records, batch_size=8, max_epochs=2)
    first = _train(engine(), records, batch_size=8, max_epochs=2, callbacks=[Recorder(stop_at=5)])
    directory = CheckpointDirectory(str(tmp_path))
    directory.save(first, 5)
    template = engine().create_state(None, None, TinyClassifier(dropout=0.0))
    resumed = _train(engine(), records, batch_size=8, max_epochs=2, state=directory.restore(template))
    for a, b in zip(_leaves(whole.ema_params), _leaves(resumed.ema_params)):
        np.testing.assert_array_equal(a, b)


def test_evaluation_uses_the_ema_parameters():
    records = make_records(64)
    engine = DefaultFlaxTrainingEngine(optimizer=optax.adam(0.05), ema_decay=0.9)
    trainer = FlaxTrainer(train_dataloader=list_loader(8), val_dataloader=list_loader(32), engine=engine, max_epochs=1, progress=False)
    state = trainer.train(TinyClassifier(dropout=0.0), records)
    with_ema = trainer.evaluate(None, state, records)["loss"]
    ema_as_params = state.replace(params=state.ema_params, ema_params=None)
    without_ema = trainer.evaluate(None, state.replace(ema_params=None), records)["loss"]
    assert with_ema == pytest.approx(trainer.evaluate(None, ema_as_params, records)["loss"], rel=1e-6)
    assert with_ema != pytest.approx(without_ema, rel=1e-3)
    exported = state.to_model(use_ema=True)
    np.testing.assert_array_equal(np.asarray(exported.out.kernel[...]), np.asarray(state.ema_params["out"]["kernel"][...]))


def test_no_ema_means_no_extra_arrays():
    engine = DefaultFlaxTrainingEngine(optimizer=optax.sgd(0.1))
    state = engine.create_state(None, None, TinyClassifier())
    assert state.ema_params is None
    with pytest.raises(ValueError, match="ema_decay"):
        DefaultFlaxTrainingEngine(ema_decay=1.5)


# -- 4. mixed precision ----------------------------------------------------------------------


def test_bfloat16_compute_keeps_float32_parameters_and_optimizer_state():
    records = make_records(64)
    engine = DefaultFlaxTrainingEngine(optimizer=optax.adam(0.05), compute_dtype="bfloat16", ema_decay=0.9)
    trainer = FlaxTrainer(train_dataloader=list_loader(16), val_dataloader=list_loader(64), engine=engine, max_epochs=6, progress=False)
    model = TinyClassifier(dropout=0.0)
    initial_loss = trainer.evaluate(None, engine.create_state(None, trainer, model), records)["loss"]
    state = trainer.train(model, records)
    floating = lambda tree: [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)]  # noqa: E731
    assert floating(state.params) and all(x.dtype == jnp.float32 for x in floating(state.params))
    assert all(x.dtype == jnp.float32 for x in floating(state.opt_state))
    assert all(x.dtype == jnp.float32 for x in floating(state.ema_params))
    # The step computes in bfloat16 (the logits) and reads the loss in float32.
    batch = list_loader(16)(records)[0]
    new_state, output, metrics = jax.jit(engine.train_step_with_metrics, static_argnums=2)(batch, state, trainer)
    assert output.logits.dtype == jnp.bfloat16
    assert all(x.dtype == jnp.float32 for x in floating(new_state.params))
    assert engine.eval_step(batch, state, trainer).logits.dtype == jnp.bfloat16
    assert trainer.evaluate(None, state, records)["loss"] < 0.7 * initial_loss


def test_compute_dtype_must_be_floating():
    with pytest.raises(ValueError, match="compute_dtype"):
        DefaultFlaxTrainingEngine(compute_dtype="int8")
