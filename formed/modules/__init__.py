"""Neural network layers for formed models: embedders, encoders, vectorizers, feed-forward
networks, and the losses, samplers and weighters of classification heads.

This is the public API of `//formed/modules`; other packages import from here only. Every
registered layer can be built from a config with `formed.core.from_config`.
"""

from formed.modules.embedders import AnalyzedTextEmbedder, BaseEmbedder, EmbedderOutput, TokenEmbedder
from formed.modules.encoders import (
    BasePositionEncoder,
    BaseSequenceEncoder,
    GRUSequenceEncoder,
    LearnablePositionEncoder,
    LSTMSequenceEncoder,
    OptimizedLSTMSequenceEncoder,
    RNNSequenceEncoder,
    SinusoidalPositionEncoder,
    TransformerSequenceEncoder,
)
from formed.modules.feedforward import Block, FeedForward
from formed.modules.losses import BaseClassificationLoss, CrossEntropyLoss
from formed.modules.model import BaseFlaxModel
from formed.modules.samplers import (
    ArgmaxLabelSampler,
    BaseLabelSampler,
    MultinomialLabelSampler,
    MultinomialLabelSamplerParams,
)
from formed.modules.text_classifier import ClassifierOutput, TextClassifier
from formed.modules.vectorizers import BagOfEmbeddingsSequenceVectorizer, BaseSequenceVectorizer
from formed.modules.weighters import (
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
