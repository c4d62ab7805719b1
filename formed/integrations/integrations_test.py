"""The API reference's module paths hold formed's own objects: every entry of the one list
(`formed.integrations._api.API`) is checked here, and the few names the reference spells
differently from formed work as the reference documents them."""

from __future__ import annotations

import importlib

import jax.numpy as jnp
import numpy as np
import pytest

import formed.modules
from formed.integrations import _api


@pytest.mark.parametrize("module_name", sorted(_api.API))
def test_every_name_is_formeds_own_object(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__all__ == _api.names(module_name)
    for name, source in _api.sources(module_name).items():
        value = getattr(module, name)
        if source == module_name:  # spelled as the reference spells it: defined in the module
            assert value.__module__ == module_name, f"{module_name}.{name}"
        else:
            assert value is getattr(importlib.import_module(source), name), f"{module_name}.{name} is a different object"
    star: dict[str, object] = {}
    exec(f"from {module_name} import *", star)
    assert set(star) - {"__builtins__"} == set(module.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    import formed.integrations.flax as flax_api

    with pytest.raises(AttributeError, match="'formed.integrations.flax' has no attribute 'FlaxTrainr'"):
        flax_api.FlaxTrainr  # noqa: B018


def test_the_flax_package_exports_the_whole_training_api() -> None:
    import formed.integrations.flax as flax_api
    import formed.integrations.flax.training as training_api

    assert set(training_api.__all__) <= set(flax_api.__all__)


def test_the_transformer_takes_the_reference_spelling_of_its_feedforward_size() -> None:
    from formed.integrations.flax.modules import TransformerSequenceEncoder

    encoder = TransformerSequenceEncoder(8, 2, feedworward_features=12, rngs=0)
    assert isinstance(encoder, formed.modules.TransformerSequenceEncoder)
    assert encoder.layers[0].hidden.out_features == 12
    assert TransformerSequenceEncoder(8, 2, rngs=0).layers[0].hidden.out_features == 32
    with pytest.raises(TypeError):
        TransformerSequenceEncoder(8, 2, feedforward_features=12, rngs=0)  # formed's spelling is formed's


def test_sampler_params_take_the_reference_spelling_of_the_temperature() -> None:
    from formed.integrations.flax.modules.samplers import MultinomialLabelSampler, MultinomialLabelSamplerParams

    params = MultinomialLabelSamplerParams(rngs=0, templerature=0.3)
    assert params._fields == ("rngs", "templerature")
    assert params.templerature == params.temperature == 0.3
    sampler = MultinomialLabelSampler()
    logits = jnp.zeros((64, 5))
    reference = sampler(logits, params)
    formeds = sampler(logits, formed.modules.MultinomialLabelSamplerParams(rngs=0, temperature=0.3))
    np.testing.assert_array_equal(np.asarray(reference), np.asarray(formeds))
