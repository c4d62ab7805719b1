"""Training engines: what one training step and one evaluation step compute.

An engine owns the optimizer and the loss. The trainer calls `create_state` once, then compiles
``engine.train_step`` / ``engine.eval_step`` with its distributor, so both must be pure
functions of ``(inputs, state)`` (``trainer`` is a static argument).
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar

import jax
import optax
from flax import nnx

from formed.core import Registrable
from formed.core.random import RngsLike
from formed.training.state import TrainState

if TYPE_CHECKING:
    from formed.training.trainer import FlaxTrainer

ModelInputT = TypeVar("ModelInputT")
ModelOutputT = TypeVar("ModelOutputT")
ModelParamsT = TypeVar("ModelParamsT")


class FlaxTrainingEngine(abc.ABC, Registrable, Generic[ModelInputT, ModelOutputT, ModelParamsT]):
    """Defines state creation, the training step and the evaluation step."""

    default_implementation = "default"

    @abc.abstractmethod
    def create_state(self, rngs: RngsLike | None, trainer: FlaxTrainer, model: nnx.Module) -> TrainState:
        """The initial training state of `model`."""

    @abc.abstractmethod
    def train_step(self, inputs: ModelInputT, state: TrainState, trainer: FlaxTrainer) -> tuple[TrainState, ModelOutputT]:
        """One update on one batch: ``(new_state, model_output)``."""

    @abc.abstractmethod
    def eval_step(self, inputs: ModelInputT, state: TrainState, trainer: FlaxTrainer) -> ModelOutputT:
        """The model output on one batch, in evaluation mode (no dropout, no update)."""


def get_loss(output: Any, loss: str | Callable[[Any], jax.Array]) -> jax.Array:
    """Reads the scalar loss from a model output: an attribute / key name or a function."""
    if callable(loss):
        return loss(output)
    if isinstance(output, dict):
        if loss not in output:
            raise KeyError(f"the model output has no key {loss!r} (keys: {sorted(output)}); set the engine's loss=")
        return output[loss]
    if not hasattr(output, loss):
        raise AttributeError(f"the model output ({type(output).__name__}) has no attribute {loss!r}; set the engine's loss=")
    return getattr(output, loss)


@FlaxTrainingEngine.register("default")
class DefaultFlaxTrainingEngine(FlaxTrainingEngine[ModelInputT, ModelOutputT, ModelParamsT]):
    """Gradient descent on the model's loss with an optax optimizer.

    Args:
        loss: the name of the output attribute (or dict key) holding the scalar loss, or a
            function ``output -> loss``.
        optimizer: any optax transformation, learning-rate schedules included. From a config,
            ``{"type": "adamw", "learning_rate": 1e-3}`` (see `formed.training.optimizers`).

    Example::

        engine = DefaultFlaxTrainingEngine(loss="loss", optimizer=optax.adamw(1e-3))
    """

    def __init__(
        self,
        loss: str | Callable[[Any], jax.Array] = "loss",
        optimizer: optax.GradientTransformation = optax.adamw(1e-3),
    ) -> None:
        self.loss = loss
        self.optimizer = optimizer

    def create_state(self, rngs: RngsLike | None, trainer: FlaxTrainer, model: nnx.Module) -> TrainState:
        del rngs, trainer  # The model's parameters and RNG streams already exist.
        return TrainState.from_model(model, self.optimizer)

    def train_step(self, inputs: ModelInputT, state: TrainState, trainer: FlaxTrainer) -> tuple[TrainState, ModelOutputT]:
        model = nnx.merge(state.graphdef, state.params, *state.additional_states)
        model.train()

        def loss_fn(model: nnx.Module) -> tuple[jax.Array, Any]:
            output = model(inputs)
            return get_loss(output, self.loss), output

        # nnx.grad differentiates the parameters only and carries the other states' updates
        # (dropout RNG counters) back into `model`.
        grads, output = nnx.grad(loss_fn, has_aux=True)(model)
        grads = trainer.distributor.reduce(grads, "mean")
        _, _, *additional = nnx.split(model, nnx.Param, ...)
        state = state.apply_gradients(grads=grads, additional_states=tuple(additional))
        return state, output

    def eval_step(self, inputs: ModelInputT, state: TrainState, trainer: FlaxTrainer) -> ModelOutputT:
        del trainer
        model = nnx.merge(state.graphdef, state.params, *state.additional_states)
        model.eval()
        return model(inputs)
