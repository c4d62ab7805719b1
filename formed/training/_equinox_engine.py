"""Training Equinox models with `FlaxTrainer`: the ``equinox`` engine and its `EquinoxTrainState`.

Select it in a config with ``trainer.engine = dict(type="equinox", optimizer=...)``; the model
is then a registered `formed.equinox.BaseEquinoxModel` (the `train` binary builds it from that
registry, see `model_base`). Everything else (distributors, callbacks, checkpoints, resuming)
is the trainer's, unchanged: an Equinox model splits, as an NNX model does, into a static part
(``graphdef``), its trainable arrays (``params``, the floating-point arrays, as
``eqx.partition(model, eqx.is_inexact_array)``) and its other arrays (``additional_states``),
and the state adds the PRNG key that dropout draws from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from formed.core import RngsLike, use_rngs
from formed.equinox import BaseEquinoxModel
from formed.training._engine import FlaxTrainingEngine, get_loss
from formed.training._state import TrainState

if TYPE_CHECKING:
    from formed.training._trainer import FlaxTrainer


class EquinoxTrainState(TrainState):
    """Training state of an Equinox model.

    Attributes:
        graphdef: the model with its arrays removed (static: the pytree's structure).
        params: the model's floating-point arrays (a model-shaped pytree, ``None`` elsewhere).
        additional_states: ``(constants,)``: the model's other arrays (integer tables...).
        key: the PRNG key the next step splits its dropout key from.
        opt_state / step / tx: as in `TrainState`.

    >>> model = eqx.nn.Linear(2, 3, key=jax.random.key(0))
    >>> state = EquinoxTrainState.from_model(model, optax.adam(1e-3), key=jax.random.key(1))
    >>> int(state.step), state.to_model().weight.shape
    (0, (3, 2))
    """

    key: jax.Array | None = None

    @classmethod
    def from_model(  # type: ignore[override]  # an Equinox model (not NNX), and the dropout key
        cls, model: eqx.Module, tx: optax.GradientTransformation, key: jax.Array | None = None
    ) -> EquinoxTrainState:
        """Partitions `model` and initialises the optimizer state; `key` seeds dropout."""
        params, rest = eqx.partition(model, eqx.is_inexact_array)
        constants, static = eqx.partition(rest, eqx.is_array)
        if key is None:
            key = jax.random.key(0)
        # Not `create`: Flax's looks for a key in `params` (a dict there, a model here).
        return cls(
            step=jnp.zeros((), dtype=jnp.int32),
            apply_fn=None,  # type: ignore[arg-type]  # flax's TrainState types it as a Callable; formed never calls it
            params=params,
            tx=tx,
            opt_state=tx.init(params),
            graphdef=static,
            additional_states=(constants,),
            key=key,
        )

    def to_model(self, use_ema: bool = False) -> Any:
        """The model holding this state's arrays (in training mode, as it was given); with
        `use_ema`, the moving average of the parameters when the state keeps one."""
        params = self.eval_params if use_ema else self.params
        return eqx.combine(params, *self.additional_states, self.graphdef)


@FlaxTrainingEngine.register("equinox")
class EquinoxTrainingEngine(FlaxTrainingEngine[Any, Any, Any]):
    """Gradient descent on an Equinox model's loss with an optax optimizer.

    Each training step splits the state's key, calls ``model(inputs, key=step_key)`` with the
    model's ``inference`` flags off (`eqx.nn.inference_mode(model, False)`), differentiates the
    loss with respect to the floating-point arrays and applies the optimizer. Evaluation calls
    ``eqx.nn.inference_mode(model)(inputs)`` with no key: dropout off.

    Args:
        loss: the name of the output attribute (or dict key) holding the scalar loss, or a
            function ``output -> loss``.
        optimizer: any optax transformation; from a config, ``{"type": "adamw", ...}`` (see
            `formed.training._optimizers`).

    The dropout key comes from ``create_state``'s `rngs` (the `train` binary passes the config's
    ``seed``): the same seed gives the same run.

    A trainer config selects it with ``engine: {"type": "equinox", ...}``; ``trainer.train(model,
    items)`` then returns an `EquinoxTrainState` whose ``to_model()`` is the trained model.

    >>> from formed.core import from_config
    >>> engine = from_config(FlaxTrainingEngine, {"type": "equinox", "optimizer": {"type": "adam", "learning_rate": 1e-3}})
    >>> type(engine).__name__, engine.loss
    ('EquinoxTrainingEngine', 'loss')
    """

    model_base = BaseEquinoxModel

    def __init__(
        self,
        loss: str | Callable[[Any], jax.Array] = "loss",
        optimizer: optax.GradientTransformation = optax.adamw(1e-3),
    ) -> None:
        self.loss = loss
        self.optimizer = optimizer

    def create_state(self, rngs: RngsLike | None, trainer: FlaxTrainer, model: eqx.Module) -> EquinoxTrainState:
        del trainer
        if not isinstance(model, eqx.Module):
            raise TypeError(
                f"the equinox engine trains eqx.Module models, got {type(model).__name__}; use the "
                "default engine for Flax NNX models"
            )
        with use_rngs(rngs) as generator:  # None: the current use_rngs generator, else seed 0
            key = generator.dropout()
        return EquinoxTrainState.from_model(model, self.optimizer, key=key)

    def train_step(self, inputs: Any, state: EquinoxTrainState, trainer: FlaxTrainer) -> tuple[EquinoxTrainState, Any]:  # type: ignore[override]  # an engine is handed only models of its kind and the states its create_state made
        if state.key is None:
            raise ValueError("the state has no dropout key; make it with EquinoxTrainState.from_model")
        key, step_key = jax.random.split(state.key)
        rest = (*state.additional_states, state.graphdef)

        def loss_fn(params: Any) -> tuple[jax.Array, Any]:
            model = eqx.nn.inference_mode(eqx.combine(params, *rest), False)
            output = model(inputs, key=step_key)
            return get_loss(output, self.loss), output

        grads, output = jax.grad(loss_fn, has_aux=True)(state.params)
        grads = trainer.distributor.reduce(grads, "mean")
        updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state, key=key), output

    def eval_step(self, inputs: Any, state: EquinoxTrainState, trainer: FlaxTrainer) -> Any:  # type: ignore[override]  # an engine is handed only models of its kind and the states its create_state made
        del trainer
        return eqx.nn.inference_mode(state.to_model())(inputs)



