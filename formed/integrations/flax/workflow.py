"""formed.integrations.flax.workflow: the flax::train and flax::evaluate steps (implemented in\nformed.workflow.flax_steps)."""

from formed.workflow.flax_steps import FlaxModelFormat, evaluate_flax_model, train_flax_model

__all__ = [
    "FlaxModelFormat",
    "evaluate_flax_model",
    "train_flax_model",
]
