"""Tests for formed/modules/_transformer.py (the shared encoder contract is in encoders_test.py)."""

from __future__ import annotations

import doctest

import pytest

from formed.modules import _transformer as transformer
from formed.modules._transformer import TransformerSequenceEncoder

FEATURES = 8


def test_transformer_feedforward_size() -> None:
    sized = TransformerSequenceEncoder(FEATURES, 2, feedforward_features=12, rngs=0)
    default = TransformerSequenceEncoder(FEATURES, 2, rngs=0)
    assert sized.layers[0].hidden.out_features == 12
    assert default.layers[0].hidden.out_features == 4 * FEATURES
    with pytest.raises(ValueError, match="divisible"):
        TransformerSequenceEncoder(FEATURES, 3, rngs=0)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(transformer, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
