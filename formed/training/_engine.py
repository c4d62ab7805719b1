"""Training engines: what one training step and one evaluation step compute.

An engine owns the optimizer and the loss. The trainer calls `create_state` once, then compiles
``engine.train_step_with_metrics`` / ``engine.eval_step`` with its distributor, so both must be
pure functions of ``(inputs, state)`` (``trainer`` is a static argument). The scalars that
``train_step_with_metrics`` returns besides the output (named by ``step_metrics``, e.g.
``grad_norm``) are summed on the device and logged as ``train/<name>`` means.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, Callable, Generic

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from typing_extensions import TypeVar

from formed.core import Registrable, RngsLike
from formed.training._ema import check_decay, ema_init, ema_update
from formed.training._optimizers import applied_update, training_optimizer
from formed.training._precision import MixedPrecision
from formed.training._state import TrainState

if TYPE_CHECKING:
    from formed.training._trainer import FlaxTrainer

ModelInputT = TypeVar("ModelInputT", default=Any)
ModelOutputT = TypeVar("ModelOutputT", default=Any)
ModelParamsT = TypeVar("ModelParamsT", default=Any)


class FlaxTrainingEngine(abc.ABC, Registrable, Generic[ModelInputT, ModelOutputT, ModelParamsT]):
    """Defines state creation, the training step and the evaluation step."""

    default_implementation = "default"
    #: Names of the scalars `train_step_with_metrics` returns (logged as ``train/<name>``).
    step_metrics: tuple[str, ...] = ()

    @abc.abstractmethod
    def create_state(self, rngs: RngsLike | None, trainer: FlaxTrainer, model: Any) -> TrainState:
        """The initial training state of `model`, a model of the engine's kind (an NNX module for
        the default engine, an Equinox module for the ``equinox`` one)."""

    @abc.abstractmethod
    def train_step(self, inputs: ModelInputT, state: TrainState, trainer: FlaxTrainer) -> tuple[TrainState, ModelOutputT]:
        """One update on one batch: ``(new_state, model_output)``."""

    def train_step_with_metrics(
        self, inputs: ModelInputT, state: TrainState, trainer: FlaxTrainer
    ) -> tuple[TrainState, ModelOutputT, dict[str, jax.Array]]:
        """`train_step` plus the scalars named by `step_metrics` (none by default); the trainer
        compiles this one."""
        state, output = self.train_step(inputs, state, trainer)
        return state, output, {}

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
            ``{"type": "adamw", "learning_rate": 1e-3}``, or a list of transformations chained
            in order (see `formed.training._optimizers`).
        accumulation_steps: micro-batches per optimizer update (`optax.MultiSteps`): ``k``
            batches of size ``b`` give the update of one batch of size ``k * b``; the
            learning-rate schedule counts updates, ``state.step`` counts batches.
        clip_by_global_norm: scale the gradient down to this global norm when it is larger.
        clip: clip each gradient element to ``[-clip, clip]``.
        ema_decay: keep an exponential moving average of the parameters in
            ``state.ema_params`` (e.g. 0.999); evaluation, and so the best checkpoint and the
            final metrics, use it.
        compute_dtype: mixed precision (e.g. ``"bfloat16"``): the step casts the float32
            parameters and floating inputs to this dtype, and reads the loss in float32;
            parameters and optimizer state stay float32. ``"float32"`` (or None) casts nothing.
        log_grad_norm: compute the gradient's global norm (before clipping) in every step,
            logged as ``train/grad_norm``. By default only when the engine clips (the clipping
            computes it anyway): on a small model the extra reduction costs the step about 15%.

    With clipping (or ``log_grad_norm=True``) every training step also computes the global
    norm of the gradient (before clipping), logged as ``train/grad_norm``.

    >>> engine = DefaultFlaxTrainingEngine(loss="loss", optimizer=optax.adamw(1e-3),
    ...                                    accumulation_steps=4, clip_by_global_norm=1.0)
    >>> engine.step_metrics  # clipping computes the gradient norm anyway, so it is logged
    ('grad_norm',)
    """

    def __init__(
        self,
        loss: str | Callable[[Any], jax.Array] = "loss",
        optimizer: optax.GradientTransformation = optax.adamw(1e-3),
        accumulation_steps: int = 1,
        clip_by_global_norm: float | None = None,
        clip: float | None = None,
        ema_decay: float | None = None,
        compute_dtype: str | None = None,
        log_grad_norm: bool | None = None,
    ) -> None:
        self.loss = loss
        self.optimizer = optimizer
        self.accumulation_steps = accumulation_steps
        self.tx = training_optimizer(
            optimizer, accumulation_steps=accumulation_steps, clip_by_global_norm=clip_by_global_norm, clip=clip
        )
        self.ema_decay = check_decay(ema_decay)
        policy = MixedPrecision(compute_dtype) if compute_dtype is not None else None
        # float32 compute is no policy at all: nothing to cast.
        self.precision = None if policy is None or policy.compute_dtype == jnp.float32 else policy
        if log_grad_norm is None:
            log_grad_norm = clip_by_global_norm is not None or clip is not None
        self.log_grad_norm = log_grad_norm
        self.step_metrics = ("grad_norm",) if log_grad_norm else ()

    def create_state(self, rngs: RngsLike | None, trainer: FlaxTrainer | None, model: nnx.Module) -> TrainState:
        del rngs, trainer  # The model's parameters and RNG streams already exist.
        state = TrainState.from_model(model, self.tx)
        if self.ema_decay is not None:
            state = state.replace(ema_params=ema_init(state.params))
        return state

    def _compute_params(self, params: Any) -> Any:
        return params if self.precision is None else self.precision.cast_to_compute(params)

    def _compute_inputs(self, inputs: Any) -> Any:
        return inputs if self.precision is None else self.precision.cast_to_compute(inputs)

    def train_step(self, inputs: ModelInputT, state: TrainState, trainer: FlaxTrainer) -> tuple[TrainState, ModelOutputT]:
        state, output, _ = self.train_step_with_metrics(inputs, state, trainer)
        return state, output

    def train_step_with_metrics(
        self, inputs: ModelInputT, state: TrainState, trainer: FlaxTrainer
    ) -> tuple[TrainState, ModelOutputT, dict[str, jax.Array]]:
        inputs = self._compute_inputs(inputs)

        model = nnx.merge(state.graphdef, state.params, *state.additional_states)
        model.train()

        def loss_fn(model: nnx.Module) -> tuple[jax.Array, Any]:
            if self.precision is None:
                output = model(inputs)
            else:
                # The float32 parameters go through the cast, so their gradients are float32.
                graphdef, params, *rest = nnx.split(model, nnx.Param, ...)
                compute_model = nnx.merge(graphdef, self._compute_params(params), *rest)
                output = compute_model(inputs)
                nnx.update(model, *nnx.split(compute_model, nnx.Param, ...)[2:])  # advanced RNG counters
            return get_loss(output, self.loss).astype(jnp.float32), output

        # nnx.grad differentiates the parameters only and carries the other states' updates
        # (dropout RNG counters) back into `model`.
        grads, output = nnx.grad(loss_fn, has_aux=True)(model)
        _, _, *additional = nnx.split(model, nnx.Param, ...)
        grads = trainer.distributor.reduce(grads, "mean")
        metrics = {"grad_norm": optax.tree.norm(grads)} if self.log_grad_norm else {}
        state = state.apply_gradients(grads=grads, additional_states=tuple(additional))
        if self.ema_decay is not None:
            ema = ema_update(state.ema_params, state.params, self.ema_decay, applied_update(state.opt_state))
            state = state.replace(ema_params=ema)
        return state, output, metrics

    def eval_step(self, inputs: ModelInputT, state: TrainState, trainer: FlaxTrainer) -> ModelOutputT:
        del trainer
        model = nnx.merge(state.graphdef, self._compute_params(state.eval_params), *state.additional_states)
        model.eval()
        return model(self._compute_inputs(inputs))
