"""formed.integrations.flax: training Flax NNX models, under the API reference's names.

Everything here is the object of formed's own packages (see `formed.integrations`):

    from formed.integrations.flax import FlaxTrainer, EarlyStoppingCallback, train_flax_model
"""

from __future__ import annotations

from typing import Any

from formed.integrations import _api

__all__ = _api.names(__name__)


def __getattr__(name: str) -> Any:
    return _api.lookup(__name__, name)
