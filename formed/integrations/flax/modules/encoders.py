"""formed.integrations.flax.modules.encoders (implemented in formed.modules.encoders)."""

from formed.modules.encoders import (
    BasePositionEncoder,
    BaseSequenceEncoder,
    GRUSequenceEncoder,
    LSTMSequenceEncoder,
    LearnablePositionEncoder,
    OptimizedLSTMSequenceEncoder,
    RNNSequenceEncoder,
    SinusoidalPositionEncoder,
    TransformerSequenceEncoder,
)

__all__ = [
    "BasePositionEncoder",
    "BaseSequenceEncoder",
    "GRUSequenceEncoder",
    "LSTMSequenceEncoder",
    "LearnablePositionEncoder",
    "OptimizedLSTMSequenceEncoder",
    "RNNSequenceEncoder",
    "SinusoidalPositionEncoder",
    "TransformerSequenceEncoder",
]
