"""Tests for formed/modules/_samplers.py, including a chi-square check of the multinomial sampler."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from formed.core import from_config
from formed.modules._samplers import (
    ArgmaxLabelSampler,
    BaseLabelSampler,
    MultinomialLabelSampler,
    MultinomialLabelSamplerParams,
)


def test_argmax_picks_the_largest_logit() -> None:
    logits = jnp.array([[0.1, 2.0, -1.0], [3.0, 0.0, 2.9]])
    labels = ArgmaxLabelSampler()(logits)
    np.testing.assert_array_equal(np.asarray(labels), [1, 0])
    assert labels.dtype == jnp.int32


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_multinomial_frequencies_match_tempered_softmax(temperature: float) -> None:
    logits = np.array([1.0, 0.0, -0.5, 2.0], np.float32)
    n = 20000
    sampler = MultinomialLabelSampler()
    params = MultinomialLabelSamplerParams(rngs=nnx.Rngs(1234), temperature=temperature)
    samples = np.asarray(sampler(jnp.broadcast_to(logits, (n, 4)), params))
    observed = np.bincount(samples, minlength=4)
    expected = n * _softmax(logits / temperature)
    chi_square = float(((observed - expected) ** 2 / expected).sum())
    # 3 degrees of freedom: P(chi2 > 25) is about 1.6e-5, so a correct sampler passes with a fixed seed,
    # while the untempered distribution (a missing temperature) fails for temperature != 1.
    assert chi_square < 25.0, (observed, expected)
    if temperature != 1.0:
        untempered = n * _softmax(logits)
        assert float(((observed - untempered) ** 2 / untempered).sum()) > 100.0


def test_params_and_sources_of_randomness() -> None:
    params = MultinomialLabelSamplerParams(rngs=0, temperature=0.3)
    assert params.temperature == 0.3
    assert params._fields == ("rngs", "temperature")  # the reference's spelling is the shim's (formed.integrations)
    assert MultinomialLabelSamplerParams(0).temperature == 1.0
    logits = jnp.zeros((64, 5))
    sampler = MultinomialLabelSampler()
    by_key = sampler(logits, MultinomialLabelSamplerParams(jax.random.key(3)))
    again = sampler(logits, MultinomialLabelSamplerParams(jax.random.key(3)))
    np.testing.assert_array_equal(np.asarray(by_key), np.asarray(again))
    rngs = nnx.Rngs(5)
    first, second = sampler(logits, MultinomialLabelSamplerParams(rngs)), sampler(logits, MultinomialLabelSamplerParams(rngs))
    assert not np.array_equal(np.asarray(first), np.asarray(second))
    own = MultinomialLabelSampler(rngs=7)
    assert own(logits).shape == (64,)
    with pytest.raises(ValueError, match="needs randomness"):
        sampler(logits)
    with pytest.raises(ValueError, match="positive"):
        sampler(logits, MultinomialLabelSamplerParams(0, 0.0))


def test_samplers_work_under_jit_and_build_from_config() -> None:
    logits = jnp.array([[0.0, 10.0, 0.0], [10.0, 0.0, 0.0]])
    argmax = from_config(BaseLabelSampler, {"type": "argmax"})
    multinomial = from_config(BaseLabelSampler, {"type": "multinomial"})
    assert isinstance(argmax, ArgmaxLabelSampler) and isinstance(multinomial, MultinomialLabelSampler)
    np.testing.assert_array_equal(np.asarray(nnx.jit(lambda s, x: s(x))(argmax, logits)), [1, 0])
    sampled = jax.jit(lambda x, key: multinomial(x, MultinomialLabelSamplerParams(key, 0.5)))(logits, jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(sampled), [1, 0])
