"""The registrable core: registries, config building, RNG context, pooling and batch types.

This is the public API of `//formed/core`; other packages import from here only.
"""

from formed.core.arrays import determine_ndim, ensure_jax_array
from formed.core.batches import AnalyzedTextBatch, IAnalyzedTextBatch, IDSequenceBatch, IIDSequenceBatch
from formed.core.config import ConfigurationError, config_of, from_config, register_builder, remember_config, resolve_callable
from formed.core.config_check import check_config
from formed.core.function_pickler import dump_pickle
from formed.core.pooling import POOLING_METHODS, PoolingMethod, masked_pool, pooling_methods
from formed.core.random import require_rngs, resolve_rngs, use_rngs
from formed.core.registrable import Registrable, RegistrationError
from formed.core.sequences import sequence_distribute, sequence_undistribute

__all__ = [
    "AnalyzedTextBatch",
    "ConfigurationError",
    "IAnalyzedTextBatch",
    "IDSequenceBatch",
    "IIDSequenceBatch",
    "POOLING_METHODS",
    "PoolingMethod",
    "Registrable",
    "RegistrationError",
    "check_config",
    "config_of",
    "determine_ndim",
    "dump_pickle",
    "ensure_jax_array",
    "from_config",
    "masked_pool",
    "pooling_methods",
    "register_builder",
    "remember_config",
    "require_rngs",
    "resolve_callable",
    "resolve_rngs",
    "sequence_distribute",
    "sequence_undistribute",
    "use_rngs",
]
