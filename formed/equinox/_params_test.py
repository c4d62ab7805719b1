"""Tests of formed/equinox/_params.py: an Equinox model's parameters by name, and back."""

from __future__ import annotations

import equinox as eqx
import numpy as np
import pytest

from formed.core import from_config, use_rngs
from formed.equinox import BaseEquinoxModel, load_named_params, named_params

CONFIG = dict(
    type="text_classifier",
    num_classes=3,
    embedder=dict(type="analyzed_text", surface=dict(type="token", vocab_size=30, embedding_dim=6)),
    encoder=dict(type="gru", features=6, num_layers=2),
    vectorizer=dict(type="boe"),
    dropout=0.1,
)


def _model(seed: int, **changes) -> BaseEquinoxModel:
    with use_rngs(seed):
        return from_config(BaseEquinoxModel, {**CONFIG, **changes})


def test_names_follow_the_attribute_paths_and_a_fresh_model_takes_them_back() -> None:
    trained, fresh = _model(0), _model(1)
    named = named_params(trained)
    assert named["embedder"]["surface"]["embedding"]["weight"].shape == (30, 6)
    assert set(named["encoder"]["layers"]) == {"0", "1"}  # tuple positions by number
    assert set(named["head"]) == {"weight", "bias"} and isinstance(named["head"]["bias"], np.ndarray)
    assert "dropout" not in named  # no arrays, no entry
    assert not eqx.tree_equal(fresh, trained)
    assert eqx.tree_equal(load_named_params(fresh, named), trained)


def test_a_missing_or_misshapen_parameter_is_named() -> None:
    named = named_params(_model(0))
    del named["head"]["bias"]
    with pytest.raises(ValueError, match=r"parameter head\.bias is missing .*saved there: \['weight'\]"):
        load_named_params(_model(1), named)
    with pytest.raises(ValueError, match=r"parameter head\.weight: saved shape \(3, 6\), the model has \(4, 6\)"):
        load_named_params(_model(1, num_classes=4), named_params(_model(0)))
