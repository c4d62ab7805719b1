"""Equinox models for formed: a registrable model base and text layers built from the same
config keys as the Flax ones, trained by `FlaxTrainer` with the ``equinox`` engine.

This is the public API of `//formed/equinox`; other packages import from here only.
"""

from formed.equinox._keys import resolve_key
from formed.equinox._embedders import AnalyzedTextEmbedder, BaseEmbedder, EmbedderOutput, TokenEmbedder
from formed.equinox._encoders import (
    BasePositionEncoder,
    BaseSequenceEncoder,
    GRUSequenceEncoder,
    LSTMSequenceEncoder,
    RNNSequenceEncoder,
    SinusoidalPositionEncoder,
    TransformerSequenceEncoder,
)
from formed.equinox._feedforward import FeedForward
from formed.equinox._model import BaseEquinoxModel
from formed.equinox._params import load_named_params, named_params
from formed.equinox._text_classifier import ClassifierOutput, TextClassifier
from formed.equinox._vectorizers import BagOfEmbeddingsSequenceVectorizer, BaseSequenceVectorizer

__all__ = [
    "AnalyzedTextEmbedder",
    "BagOfEmbeddingsSequenceVectorizer",
    "BaseEmbedder",
    "BaseEquinoxModel",
    "BasePositionEncoder",
    "BaseSequenceEncoder",
    "BaseSequenceVectorizer",
    "ClassifierOutput",
    "EmbedderOutput",
    "FeedForward",
    "GRUSequenceEncoder",
    "LSTMSequenceEncoder",
    "RNNSequenceEncoder",
    "SinusoidalPositionEncoder",
    "TextClassifier",
    "TokenEmbedder",
    "TransformerSequenceEncoder",
    "load_named_params",
    "named_params",
    "resolve_key",
]
