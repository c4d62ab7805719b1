"""Sequence encoders and position encoders under one name, as the API reference groups them
(``formed.integrations.flax.modules.encoders``).

Each idea lives in its own module: the masking contract and `BaseSequenceEncoder` in
`formed.modules.sequence_encoder`, the position encoders in `formed.modules.position_encoders`,
the RNN encoders in `formed.modules.rnn_encoders`, the Transformer in `formed.modules.transformer`.
"""

from formed.modules.position_encoders import (
    BasePositionEncoder,
    LearnablePositionEncoder,
    SinusoidalPositionEncoder,
)
from formed.modules.rnn_encoders import (
    GRUSequenceEncoder,
    LSTMSequenceEncoder,
    OptimizedLSTMSequenceEncoder,
    RNNSequenceEncoder,
)
from formed.modules.sequence_encoder import BaseSequenceEncoder
from formed.modules.transformer import TransformerSequenceEncoder

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
