"""formed.integrations.flax.utils: pooling and array helpers (implemented in formed.core)."""

from formed.core.pooling import PoolingMethod, masked_pool
from formed.core.arrays import determine_ndim, ensure_jax_array
from formed.core.sequences import sequence_distribute, sequence_undistribute

__all__ = [
    "PoolingMethod",
    "determine_ndim",
    "ensure_jax_array",
    "masked_pool",
    "sequence_distribute",
    "sequence_undistribute",
]
