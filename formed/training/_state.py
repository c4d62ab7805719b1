"""`TrainState`: the whole of a training run's device state as one pytree.

Flax's `flax.training.train_state.TrainState` holds ``step``, ``params``, ``opt_state`` and the
optimizer ``tx``. An NNX model is split into its graph definition (static structure), its
trainable parameters and its other state (RNG streams, batch statistics); this class adds the
two missing pieces so that ``nnx.merge(state.graphdef, state.params, *state.additional_states)``
gives the model back. Every array of the run lives here, so one `jax.jit` of a step function
``state -> state`` covers training, and a checkpoint of this pytree is enough to resume.
"""

from __future__ import annotations

from typing import Any, Generic

import jax.numpy as jnp
import optax
from flax import nnx, struct
from flax.training import train_state
from typing_extensions import TypeVar

Node = TypeVar("Node", default=Any)


class TrainState(train_state.TrainState, Generic[Node]):
    """Training state of an NNX model.

    Attributes:
        graphdef: the model's `nnx.GraphDef` (static: part of the pytree structure, not a leaf).
        additional_states: the non-parameter states of the model (``nnx.RngState``,
            ``nnx.BatchStat``, ...), in the order they were split.
        params: the trainable parameters (an ``nnx.State`` of ``nnx.Param``).
        opt_state: the optimizer state.
        step: the number of updates applied, an int32 scalar array.
        tx: the optax transformation (static).
        ema_params: the exponential moving average of ``params`` when the engine keeps one
            (``ema_decay``), else ``None`` (no leaves: nothing saved, nothing computed).

    >>> model = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
    >>> graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    >>> state = TrainState.create(graphdef=graphdef, additional_states=(rest,), params=params, tx=optax.adamw(1e-3))
    >>> state.step.dtype, nnx.merge(state.graphdef, state.params, *state.additional_states).kernel.shape
    (dtype('int32'), (2, 3))

    `from_model` does the split and the ``create``.
    """

    graphdef: nnx.GraphDef[Node] = struct.field(pytree_node=False)
    additional_states: tuple[nnx.State, ...] = ()
    ema_params: Any = None

    @classmethod
    def create(cls, *, apply_fn: Any = None, params: Any, tx: optax.GradientTransformation, **kwargs: Any) -> TrainState:
        """Like Flax's ``TrainState.create``, with ``graphdef`` / ``additional_states`` in kwargs.

        The step starts as an int32 *array* (not the Python int 0), so the pytree of the state
        has the same leaf types before and after the first update and a jitted step function is
        traced once.
        """
        state = super().create(apply_fn=apply_fn, params=params, tx=tx, **kwargs)
        return state.replace(step=jnp.zeros((), dtype=jnp.int32))

    @classmethod
    def from_model(cls, model: nnx.Module, tx: optax.GradientTransformation) -> TrainState:
        """Splits `model` into parameters and the rest and initialises the optimizer state."""
        graphdef, params, *rest = nnx.split(model, nnx.Param, ...)
        return cls.create(apply_fn=None, graphdef=graphdef, additional_states=tuple(rest), params=params, tx=tx)

    @property
    def eval_params(self) -> Any:
        """The parameters to evaluate and export: the moving average when kept, else ``params``."""
        return self.params if self.ema_params is None else self.ema_params

    def to_model(self, use_ema: bool = False) -> Node:
        """A new model object holding this state's parameters (the moving average instead,
        with `use_ema`, when the state keeps one) and other states."""
        params = self.eval_params if use_ema else self.params
        return nnx.merge(self.graphdef, params, *self.additional_states)
