"""Issue 11, items 1-5: layers behave as the API reference and upstream formed's users expect,
exercised through the reference's module paths (``formed.integrations.flax...``, ``.ml.types``)."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from formed.integrations.flax.modules import AnalyzedTextEmbedder, TokenEmbedder
from formed.integrations.flax.modules.encoders import (
    GRUSequenceEncoder,
    LSTMSequenceEncoder,
    OptimizedLSTMSequenceEncoder,
    TransformerSequenceEncoder,
)
from formed.integrations.flax.modules.feedforward import Block, FeedForward
from formed.integrations.flax.modules.samplers import MultinomialLabelSampler, MultinomialLabelSamplerParams
from formed.integrations.flax.random import use_rngs
from formed.integrations.ml.types import AnalyzedTextBatch, IDSequenceBatch

FEATURES = 4
INPUTS = jnp.asarray(np.random.default_rng(0).normal(size=(2, 3, FEATURES)), jnp.float32)
MASK = jnp.asarray([[True, True, True], [True, True, False]])


def _rng_state(module: nnx.Module) -> list[np.ndarray]:
    return [np.asarray(jax.random.key_data(leaf) if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key) else leaf)
            for leaf in jax.tree.leaves(nnx.state(module, nnx.RngState))]


# Item 1: every layer with dropout takes a per-call `rngs=`, as nnx.Dropout does.
DROPOUT_LAYERS: dict[str, Callable[[], tuple[nnx.Module, Callable[..., jax.Array]]]] = {
    "block": lambda: (m := Block(FEATURES, FEATURES, dropout=0.5, rngs=0), lambda **kw: m(INPUTS, **kw)),
    "feedforward": lambda: (m := FeedForward(FEATURES, num_layers=2, dropout=0.5, rngs=0), lambda **kw: m(INPUTS, **kw)),
    "lstm": lambda: (
        m := LSTMSequenceEncoder(FEATURES, num_layers=2, feedforward_layers=1, dropout=0.5, rngs=0),
        lambda **kw: m(INPUTS, MASK, **kw),
    ),
    "transformer": lambda: (m := TransformerSequenceEncoder(FEATURES, 2, dropout=0.5, rngs=0), lambda **kw: m(INPUTS, MASK, **kw)),
}


@pytest.mark.parametrize("name", sorted(DROPOUT_LAYERS))
def test_item1_dropout_layers_draw_from_a_per_call_rngs(name: str) -> None:
    module, call = DROPOUT_LAYERS[name]()
    own_before = _rng_state(module)
    first = np.asarray(call(deterministic=False, rngs=nnx.Rngs(1)))
    again = np.asarray(call(deterministic=False, rngs=nnx.Rngs(1)))
    other = np.asarray(call(deterministic=False, rngs=nnx.Rngs(2)))
    # The given generator decides the masks, and the layer's own generator is left untouched.
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    for before, after in zip(own_before, _rng_state(module)):
        np.testing.assert_array_equal(before, after)
    # Without rngs, the layer's own generator is used (and advances).
    own = np.asarray(call(deterministic=False))
    assert not np.allclose(own, first)
    assert any(not np.array_equal(b, a) for b, a in zip(own_before, _rng_state(module)))


# Item 2: a layer without dropout runs under a plain jax.jit and touches no RNG state.
NO_DROPOUT_ENCODERS = {
    f"{cls.__name__}-{'bi' if bidirectional else 'uni'}": (cls, bidirectional)
    for cls in (LSTMSequenceEncoder, GRUSequenceEncoder, OptimizedLSTMSequenceEncoder)
    for bidirectional in (False, True)
}


@pytest.mark.parametrize("name", sorted(NO_DROPOUT_ENCODERS))
def test_item2_encoders_without_dropout_run_under_a_plain_jax_jit(name: str) -> None:
    cls, bidirectional = NO_DROPOUT_ENCODERS[name]
    encoder = cls(FEATURES, num_layers=2, bidirectional=bidirectional, rngs=0)
    before = _rng_state(encoder)
    eager = np.asarray(encoder(INPUTS, MASK))
    for b, a in zip(before, _rng_state(encoder)):
        np.testing.assert_array_equal(b, a)
    np.testing.assert_allclose(np.asarray(jax.jit(encoder)(INPUTS, MASK)), eager, atol=1e-5)
    np.testing.assert_allclose(np.asarray(jax.jit(encoder)(INPUTS)), np.asarray(encoder(INPUTS)), atol=1e-5)


def test_item2_other_layers_without_dropout_run_under_a_plain_jax_jit() -> None:
    for layer, args in (
        (TransformerSequenceEncoder(FEATURES, 2, rngs=0), (INPUTS, MASK)),
        (FeedForward(FEATURES, num_layers=2, rngs=0), (INPUTS,)),
        (Block(FEATURES, 2 * FEATURES, rngs=0), (INPUTS,)),
    ):
        np.testing.assert_allclose(np.asarray(jax.jit(layer)(*args)), np.asarray(layer(*args)), atol=1e-5)


# Item 3: MultinomialLabelSampler without a generator of its own draws from use_rngs.
def test_item3_multinomial_sampler_draws_from_the_current_use_rngs_generator() -> None:
    logits = jnp.log(jnp.asarray([[0.2, 0.3, 0.5]] * 64))
    expected = np.asarray(MultinomialLabelSampler()(logits, MultinomialLabelSamplerParams(rngs=nnx.Rngs(7))))
    with use_rngs(7):
        without_params = np.asarray(MultinomialLabelSampler()(logits))
    with use_rngs(7):
        params_without_rngs = np.asarray(MultinomialLabelSampler()(logits, MultinomialLabelSamplerParams(rngs=None)))
    np.testing.assert_array_equal(without_params, expected)
    np.testing.assert_array_equal(params_without_rngs, expected)
    assert len(set(expected.tolist())) > 1
    with pytest.raises(ValueError, match="use_rngs"):
        MultinomialLabelSampler()(logits)


# Item 4: RNN encoders drop out between stacked layers, not after the last one.
@pytest.mark.parametrize("cls", [LSTMSequenceEncoder, GRUSequenceEncoder])
def test_item4_rnn_dropout_sits_between_stacked_layers_only(cls: type) -> None:
    # One layer: nothing sits between layers, so train and eval mode agree exactly.
    single = cls(FEATURES, num_layers=1, bidirectional=True, dropout=0.9, rngs=0)
    np.testing.assert_array_equal(
        np.asarray(single(INPUTS, MASK, deterministic=False)), np.asarray(single(INPUTS, MASK, deterministic=True))
    )
    stacked = cls(FEATURES, num_layers=2, dropout=0.9, rngs=0)
    train = np.asarray(stacked(INPUTS, MASK, deterministic=False))
    assert not np.allclose(train, np.asarray(stacked(INPUTS, MASK, deterministic=True)))


# Item 5: upstream's concrete batch types, under formed.integrations.ml.types.
def test_item5_ml_types_provides_the_batch_types_the_layers_accept() -> None:
    ids = np.array([[1, 2, 0], [3, 0, 0]])
    words = IDSequenceBatch(ids, ids > 0)
    assert len(words) == 2 and words.ids is ids
    # A pytree: it passes through jax.jit as an argument.
    doubled = jax.jit(lambda b: IDSequenceBatch(b.ids * 2, b.mask))(words)
    np.testing.assert_array_equal(np.asarray(doubled.ids), ids * 2)
    char_ids = np.repeat(ids[..., None], 4, axis=-1)
    chars = IDSequenceBatch(ids=char_ids, mask=char_ids > 0)
    text = AnalyzedTextBatch(surfaces=words, postags=words, characters=chars)
    assert len(text) == 2
    embedder = AnalyzedTextEmbedder(
        surface=TokenEmbedder(5, 3, rngs=0), postag=TokenEmbedder(5, 2, rngs=1), character=TokenEmbedder(5, 2, rngs=2)
    )
    output = embedder(text)
    assert output.embeddings.shape == (2, 3, 7)
    np.testing.assert_array_equal(np.asarray(output.mask), ids > 0)
