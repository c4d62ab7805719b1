"""Neural network layers for formed models: embedders, encoders, vectorizers, feed-forward
networks, and the losses, samplers and weighters of classification heads.

This is the public API of `//formed/modules`; other packages import from here only. Every
registered layer can be built from a config with `formed.core.from_config`.
"""

from formed.modules._embedders import AnalyzedTextEmbedder, BaseEmbedder, EmbedderOutput, TokenEmbedder
from formed.modules._feedforward import Block, FeedForward
from formed.modules._losses import BaseClassificationLoss, CrossEntropyLoss
from formed.modules._model import BaseFlaxModel
from formed.modules._position_encoders import BasePositionEncoder, LearnablePositionEncoder, SinusoidalPositionEncoder
from formed.modules._rnn_encoders import GRUSequenceEncoder, LSTMSequenceEncoder, OptimizedLSTMSequenceEncoder, RNNSequenceEncoder
from formed.modules._samplers import (
    ArgmaxLabelSampler,
    BaseLabelSampler,
    MultinomialLabelSampler,
    MultinomialLabelSamplerParams,
)
from formed.modules._sequence_encoder import BaseSequenceEncoder
from formed.modules._text_classifier import ClassifierOutput, TextClassifier
from formed.modules._transformer import TransformerSequenceEncoder
from formed.modules._vectorizers import BagOfEmbeddingsSequenceVectorizer, BaseSequenceVectorizer
from formed.modules._weighters import (
    BalancedByDistributionLabelWeighter,
    BaseLabelWeighter,
    LabelWeights,
    StaticLabelWeighter,
)

__all__ = [
    "AnalyzedTextEmbedder",
    "ArgmaxLabelSampler",
    "BagOfEmbeddingsSequenceVectorizer",
    "BalancedByDistributionLabelWeighter",
    "BaseClassificationLoss",
    "BaseEmbedder",
    "BaseFlaxModel",
    "BaseLabelSampler",
    "BaseLabelWeighter",
    "BasePositionEncoder",
    "BaseSequenceEncoder",
    "BaseSequenceVectorizer",
    "Block",
    "ClassifierOutput",
    "CrossEntropyLoss",
    "EmbedderOutput",
    "FeedForward",
    "GRUSequenceEncoder",
    "LSTMSequenceEncoder",
    "LabelWeights",
    "LearnablePositionEncoder",
    "MultinomialLabelSampler",
    "MultinomialLabelSamplerParams",
    "OptimizedLSTMSequenceEncoder",
    "RNNSequenceEncoder",
    "SinusoidalPositionEncoder",
    "StaticLabelWeighter",
    "TextClassifier",
    "TokenEmbedder",
    "TransformerSequenceEncoder",
]
