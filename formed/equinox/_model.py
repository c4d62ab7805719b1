"""`BaseEquinoxModel`: the base class of every trainable Equinox model.

The counterpart of `formed.modules.BaseFlaxModel` for Equinox: an `eqx.Module` that is also
`Registrable`, so a config names it (``{"type": "text_classifier", ...}``) and
`formed.core.from_config` builds it. The ``equinox`` training engine relies only on the call
convention ``model(inputs, params=None, *, key=None) -> output`` with the loss in the output.
"""

from __future__ import annotations

from typing import Any, Generic

import equinox as eqx
import jax
import numpy as np
from typing_extensions import TypeVar

from formed.core import Registrable, readable_rows

ModelInputT = TypeVar("ModelInputT", default=Any)
ModelOutputT = TypeVar("ModelOutputT", default=Any)
ModelParamsT = TypeVar("ModelParamsT", default=Any)


class BaseEquinoxModel(eqx.Module, Registrable, Generic[ModelInputT, ModelOutputT, ModelParamsT]):
    """Base class for Equinox models built from configuration.

    Randomness follows Equinox: the model is a pytree of arrays with no hidden state, and each
    call gets the PRNG key it may use (for dropout). Training and evaluation differ by the
    ``inference`` flags of its layers, which the engine sets with `eqx.nn.inference_mode`;
    in inference mode ``key`` is ``None``.

    >>> from formed.core import from_config, use_rngs
    >>> from formed.equinox import resolve_key
    >>> @BaseEquinoxModel.register("doc_scorer")
    ... class Scorer(BaseEquinoxModel[dict, jax.Array, None]):
    ...     linear: eqx.nn.Linear
    ...
    ...     def __init__(self, features: int, key: jax.Array | None = None):
    ...         self.linear = eqx.nn.Linear(features, 1, key=resolve_key(key))
    ...
    ...     def __call__(self, inputs, params=None, *, key=None):
    ...         return jax.vmap(self.linear)(inputs["features"])
    >>> with use_rngs(0):  # the key of a model built from a config comes from here
    ...     model = from_config(BaseEquinoxModel, {"type": "doc_scorer", "features": 4})
    >>> model({"features": jax.numpy.ones((2, 4))}).shape  # (batch, 1)
    (2, 1)
    """

    #: `formed.core.from_config` records the config a model is built from (`formed.core.config_of`),
    #: so that a saved model can be rebuilt from it and its parameters loaded by name.
    remembers_config = True

    def __call__(
        self, inputs: ModelInputT, params: ModelParamsT | None = None, *, key: jax.Array | None = None
    ) -> ModelOutputT:
        """Runs the forward pass on one batch; `key` drives dropout (``None`` in inference mode)."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(inputs, params=None, *, key=None)")

    def readable_output(self, output: ModelOutputT, datamodule: Any = None) -> list[dict[str, Any]]:
        """The output of one batch (host arrays) as one JSON-ready dict per record (what
        `predict` writes): every array with a batch axis under its name, as for Flax models.

        >>> BaseEquinoxModel.readable_output(None, {"score": np.array([0.5, 1.0]), "loss": np.array(0.1)})
        [{'score': 0.5}, {'score': 1.0}]
        """
        del datamodule
        return readable_rows(output)
