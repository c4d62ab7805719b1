import jax.numpy as jnp
import numpy as np
import optax
import pytest

from formed.core import ConfigurationError, from_config
from formed.training._engine import DefaultFlaxTrainingEngine
from formed.training._optimizers import build_optimizer, learning_rate_of


def _lr_after(tx: optax.GradientTransformation, steps: int) -> float:
    params = {"w": jnp.ones(2)}
    state = tx.init(params)
    for _ in range(steps):
        _, state = tx.update({"w": jnp.ones(2)}, state, params)
    rate = learning_rate_of(state)
    assert rate is not None
    return float(rate)


def test_builds_an_optimizer_that_matches_optax():
    tx = build_optimizer({"type": "sgd", "learning_rate": 0.5})
    params = {"w": jnp.ones(2)}
    updates, _ = tx.update({"w": jnp.ones(2)}, tx.init(params), params)
    np.testing.assert_allclose(updates["w"], [-0.5, -0.5])
    assert _lr_after(tx, 0) == 0.5


def test_schedules_are_built_and_reported():
    tx = build_optimizer(
        {"type": "adamw", "learning_rate": {"type": "linear_schedule", "init_value": 0.0, "end_value": 1.0, "transition_steps": 10}}
    )
    # The stored rate is the one the latest update used: update k (from 0) uses schedule(k).
    assert _lr_after(tx, 5) == pytest.approx(0.4)
    assert _lr_after(tx, 8) == pytest.approx(0.7)


def test_chain():
    tx = build_optimizer({"type": "chain", "transforms": [{"type": "clip_by_global_norm", "max_norm": 1.0}, {"type": "sgd", "learning_rate": 1.0}]})
    params = {"w": jnp.zeros(2)}
    updates, _ = tx.update({"w": jnp.full(2, 10.0)}, tx.init(params), params)
    assert float(jnp.linalg.norm(updates["w"])) == pytest.approx(1.0, rel=1e-5)


def test_engine_config_uses_the_builder():
    engine = from_config(DefaultFlaxTrainingEngine, {"optimizer": {"type": "adam", "learning_rate": 1e-2}})
    assert isinstance(engine.optimizer, optax.GradientTransformation)


@pytest.mark.parametrize(
    "config, key, words",
    [
        ({"optimizer": {"type": "adamww"}}, "trainer.engine.optimizer.type", "did you mean 'adamw'"),
        ({"optimizer": {"type": "adamw", "lr": 1.0}}, "trainer.engine.optimizer.lr", "learning_rate"),
        ({"optimizer": {"type": "adamw", "learning_rate": {"type": "cosine_schedul"}}}, "trainer.engine.optimizer.learning_rate.type", "schedule"),
    ],
)
def test_errors_name_the_config_key(config, key, words):
    with pytest.raises(ConfigurationError) as error:
        from_config(DefaultFlaxTrainingEngine, config, path="trainer.engine")
    assert error.value.path == key
    assert words in str(error.value)
