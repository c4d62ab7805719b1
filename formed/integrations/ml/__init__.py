"""formed.integrations.ml: data loading and batching (implemented in formed.data) under the API
reference's names; metrics are in `formed.integrations.ml.metrics`."""

from formed.data.loader import BatchIterator, DataLoader
from formed.data.samplers import BaseBatchSampler, BasicBatchSampler, SizeOrderedBucketBatchSampler

__all__ = [
    "BaseBatchSampler",
    "BasicBatchSampler",
    "BatchIterator",
    "DataLoader",
    "SizeOrderedBucketBatchSampler",
]
