"""The public API of formed.modules: every name exported, every registered name resolvable."""

from __future__ import annotations

import pytest

import formed.modules as modules
from formed.core import Registrable

REGISTERED = [
    ("BaseEmbedder", "token", "TokenEmbedder"),
    ("BaseEmbedder", "analyzed_text", "AnalyzedTextEmbedder"),
    ("BasePositionEncoder", "sinusoidal", "SinusoidalPositionEncoder"),
    ("BasePositionEncoder", "learnable", "LearnablePositionEncoder"),
    ("BaseSequenceEncoder", "lstm", "LSTMSequenceEncoder"),
    ("BaseSequenceEncoder", "optimized_lstm", "OptimizedLSTMSequenceEncoder"),
    ("BaseSequenceEncoder", "gru", "GRUSequenceEncoder"),
    ("BaseSequenceEncoder", "transformer", "TransformerSequenceEncoder"),
    ("FeedForward", "feedforward", "FeedForward"),
    ("BaseSequenceVectorizer", "boe", "BagOfEmbeddingsSequenceVectorizer"),
    ("BaseClassificationLoss", "cross_entropy", "CrossEntropyLoss"),
    ("BaseLabelSampler", "argmax", "ArgmaxLabelSampler"),
    ("BaseLabelSampler", "multinomial", "MultinomialLabelSampler"),
    ("BaseLabelWeighter", "static", "StaticLabelWeighter"),
    ("BaseLabelWeighter", "balanced_by_distribution", "BalancedByDistributionLabelWeighter"),
    ("BaseFlaxModel", "text_classifier", "TextClassifier"),
]


def test_all_names_are_exported() -> None:
    for name in modules.__all__:
        assert hasattr(modules, name), name
    assert len(set(modules.__all__)) == len(modules.__all__)


@pytest.mark.parametrize("base, registered, cls", REGISTERED)
def test_registered_names_resolve(base: str, registered: str, cls: str) -> None:
    base_class = getattr(modules, base)
    assert issubclass(base_class, Registrable)
    assert base_class.by_name(registered) is getattr(modules, cls)
