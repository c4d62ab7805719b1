"""formed.integrations.flax.model: BaseFlaxModel (implemented in formed.modules.model)."""

from formed.modules.model import BaseFlaxModel

__all__ = [
    "BaseFlaxModel",
]
