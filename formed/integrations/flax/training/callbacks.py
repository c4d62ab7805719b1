"""formed.integrations.flax.training.callbacks: every training callback (TensorBoardCallback and
CheckpointCallback are formed's own additions)."""

from __future__ import annotations

from typing import Any

from formed.integrations import _api

__all__ = _api.names(__name__)


def __getattr__(name: str) -> Any:
    return _api.lookup(__name__, name)
