"""formed.integrations: the module paths of the API reference.

The reference documents formed's API under ``formed.integrations.flax`` (models, layers,
training, workflow steps) and ``formed.integrations.ml`` (data loading and metrics). The code
lives in formed's own packages (`formed.core`, `formed.modules`, `formed.training`,
`formed.data`, `formed.workflow`); these modules re-export the same objects under the reference's
names, so ``formed.integrations.flax.FlaxTrainer is formed.training.FlaxTrainer``.
"""
