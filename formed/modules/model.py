"""`BaseFlaxModel`: the base class of every trainable model.

A model is an `nnx.Module` that is also `Registrable`, so a config can name it
(``{"type": "text_classifier", ...}``) and `formed.core.from_config` builds it. The trainer only
relies on the call convention ``model(inputs, params=None) -> output``.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from flax import nnx

from formed.core import Registrable

ModelInputT = TypeVar("ModelInputT")
ModelOutputT = TypeVar("ModelOutputT")
ModelParamsT = TypeVar("ModelParamsT")


class BaseFlaxModel(nnx.Module, Registrable, Generic[ModelInputT, ModelOutputT, ModelParamsT]):
    """Base class for Flax NNX models built from configuration.

    Type parameters: ``ModelInputT`` (the batch the model reads), ``ModelOutputT`` (what it
    returns) and ``ModelParamsT`` (extra call-time parameters, usually ``None``).

    Example::

        @BaseFlaxModel.register("my_model")
        class MyModel(BaseFlaxModel[dict, jax.Array, None]):
            def __init__(self, rngs: nnx.Rngs, hidden_dim: int):
                self.linear = nnx.Linear(10, hidden_dim, rngs=rngs)

            def __call__(self, inputs: dict, params: None = None) -> jax.Array:
                return self.linear(inputs["features"])

    Subclasses implement ``__call__``. Training mode follows nnx: ``model.train()`` turns dropout
    on and ``model.eval()`` turns it off.
    """

    def __call__(self, inputs: ModelInputT, params: ModelParamsT | None = None) -> ModelOutputT:
        """Runs the forward pass on one batch."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(inputs, params=None)")
