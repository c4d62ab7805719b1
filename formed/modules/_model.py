"""`BaseFlaxModel`: the base class of every trainable model.

A model is an `nnx.Module` that is also `Registrable`, so a config can name it
(``{"type": "text_classifier", ...}``) and `formed.core.from_config` builds it. The trainer only
relies on the call convention ``model(inputs, params=None) -> output``.
"""

from __future__ import annotations

from typing import Any, Generic

import numpy as np
from flax import nnx
from typing_extensions import TypeVar

from formed.core import Registrable, readable_rows

ModelInputT = TypeVar("ModelInputT", default=Any)
ModelOutputT = TypeVar("ModelOutputT", default=Any)
ModelParamsT = TypeVar("ModelParamsT", default=Any)


class BaseFlaxModel(nnx.Module, Registrable, Generic[ModelInputT, ModelOutputT, ModelParamsT]):
    """Base class for Flax NNX models built from configuration.

    Type parameters: ``ModelInputT`` (the batch the model reads), ``ModelOutputT`` (what it
    returns) and ``ModelParamsT`` (extra call-time parameters, usually ``None``).

    >>> import jax
    >>> from formed.core import from_config
    >>> @BaseFlaxModel.register("doc_linear")
    ... class Linear(BaseFlaxModel[dict, jax.Array, None]):
    ...     def __init__(self, hidden_dim: int, rngs: nnx.Rngs | None = None):
    ...         self.linear = nnx.Linear(10, hidden_dim, rngs=rngs or nnx.Rngs(0))
    ...
    ...     def __call__(self, inputs: dict, params: None = None) -> jax.Array:
    ...         return self.linear(inputs["features"])
    >>> model = from_config(BaseFlaxModel, {"type": "doc_linear", "hidden_dim": 3})
    >>> model({"features": jax.numpy.ones((2, 10))}).shape  # (batch, hidden_dim)
    (2, 3)

    Subclasses implement ``__call__``. Training mode follows nnx: ``model.train()`` turns dropout
    on and ``model.eval()`` turns it off. What the `predict` binary and `Predictor.predict`
    write for each record is the model's `readable_output`, which a model may override.
    """

    #: `formed.core.from_config` records the config a model is built from (`formed.core.config_of`),
    #: so that a saved model can be rebuilt from it and its parameters loaded by name.
    remembers_config = True

    def __call__(self, inputs: ModelInputT, params: ModelParamsT | None = None) -> ModelOutputT:
        """Runs the forward pass on one batch."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(inputs, params=None)")

    def readable_output(self, output: ModelOutputT, datamodule: Any = None) -> list[dict[str, Any]]:
        """The model's output for one batch as one JSON-ready dict per record (what `predict`
        writes, one line per record).

        `output` is what ``__call__`` returned, on the host (numpy arrays); `datamodule` is the
        fitted `formed.data.DataModule`, to turn ids back into names (label names, tokens).
        By default every array with a batch axis becomes a list under its name (a dict's key, a
        NamedTuple's field, ``"output"`` for a bare array); scalars (a batch's loss) are left out.
        Override it to give readable names (as `TextClassifier` gives the label and its
        probabilities).

        >>> BaseFlaxModel().readable_output({"score": np.array([0.5, 1.0]), "loss": np.array(0.1)})
        [{'score': 0.5}, {'score': 1.0}]
        """
        del datamodule
        return readable_rows(output)
