import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from formed.training._state import TrainState
from formed.training.testing import TinyClassifier, collate, make_records


def test_from_model_splits_params_and_other_states():
    model = TinyClassifier()
    state = TrainState.from_model(model, optax.sgd(0.1))
    assert isinstance(state.graphdef, nnx.GraphDef)
    assert len(state.additional_states) == 1  # the dropout RNG stream
    assert {type(v) for v in jax.tree.leaves(state.params, is_leaf=lambda x: isinstance(x, nnx.Variable))} == {nnx.Param}


def test_step_starts_as_an_int32_array():
    state = TrainState.from_model(TinyClassifier(), optax.sgd(0.1))
    assert isinstance(state.step, jax.Array) and state.step.dtype == jnp.int32 and int(state.step) == 0
    grads = jax.tree.map(jnp.ones_like, state.params)
    after = state.apply_gradients(grads=grads)
    assert jax.tree.structure(after) == jax.tree.structure(state)  # type: ignore[operator]  # jax types treedefs with an alias mypy cannot resolve
    assert int(after.step) == 1


def test_to_model_round_trips_the_model():
    model = TinyClassifier()
    model.eval()
    batch = collate(make_records(8))
    expected = model(batch).logits
    restored = TrainState.from_model(model, optax.sgd(0.1)).to_model()
    restored.eval()
    np.testing.assert_allclose(restored(batch).logits, expected, rtol=1e-6)


def test_create_with_explicit_parts_as_in_the_reference():
    graphdef, params, *states = nnx.split(TinyClassifier(), nnx.Param, ...)
    state = TrainState.create(apply_fn=None, graphdef=graphdef, additional_states=tuple(states), params=params, tx=optax.adam(1e-3))
    model = nnx.merge(state.graphdef, state.params, *state.additional_states)
    assert isinstance(model, TinyClassifier)
    # graphdef and tx are static: they are not leaves of the pytree.
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(state))
