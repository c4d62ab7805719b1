"""formed.integrations.flax.distributors (implemented in formed.training.distributors)."""

from formed.training.distributors import BaseDistributor, DataParallelDistributor, SingleDeviceDistributor

__all__ = [
    "BaseDistributor",
    "DataParallelDistributor",
    "SingleDeviceDistributor",
]
