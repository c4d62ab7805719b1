"""The registrable core: registries, config building, RNG context, pooling and batch types.

This is the public API of `//formed/core`; other packages import from here only.
"""

from formed.core._arrays import determine_ndim, ensure_jax_array
from formed.core._batches import AnalyzedTextBatch, IAnalyzedTextBatch, IDSequenceBatch, IIDSequenceBatch, embed_analyzed_text
from formed.core._config import ConfigurationError, config_of, from_config, register_builder, remember_config, resolve_callable
from formed.core._config_check import check_config
from formed.core._function_pickler import dump_pickle
from formed.core._pooling import POOLING_METHODS, PoolingMethod, masked_pool, pooling_methods
from formed.core._random import RngsLike, require_rngs, resolve_rngs, use_rngs
from formed.core._readable import readable_classification, readable_rows
from formed.core._registrable import Registrable, RegistrationError, closest_name, unknown_name_message
from formed.core._sequences import sequence_distribute, sequence_undistribute

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
    "RngsLike",
    "check_config",
    "closest_name",
    "config_of",
    "determine_ndim",
    "dump_pickle",
    "embed_analyzed_text",
    "ensure_jax_array",
    "from_config",
    "masked_pool",
    "pooling_methods",
    "readable_classification",
    "readable_rows",
    "register_builder",
    "remember_config",
    "require_rngs",
    "resolve_callable",
    "resolve_rngs",
    "sequence_distribute",
    "sequence_undistribute",
    "unknown_name_message",
    "use_rngs",
]
