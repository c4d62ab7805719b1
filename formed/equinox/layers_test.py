"""Tests for the Equinox layers: padding invariance, eqx.filter_jit, finite gradients, dropout
keys and inference mode, and building from the Flax layers' config keys."""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.typing import ArrayLike

from formed.core import AnalyzedTextBatch, ConfigurationError, IDSequenceBatch, from_config, use_rngs
from formed.core.testing import assert_padding_invariant, length_mask, padded_sequences
from formed.equinox import (
    AnalyzedTextEmbedder,
    BagOfEmbeddingsSequenceVectorizer,
    BaseEmbedder,
    BaseSequenceEncoder,
    BaseSequenceVectorizer,
    FeedForward,
    GRUSequenceEncoder,
    LSTMSequenceEncoder,
    SinusoidalPositionEncoder,
    TokenEmbedder,
    TransformerSequenceEncoder,
    resolve_key,
)

FEATURES = 8
LENGTHS = np.array([2, 5, 3])

ENCODERS: dict[str, Callable[[], BaseSequenceEncoder]] = {
    "lstm": lambda: LSTMSequenceEncoder(FEATURES, key=0),
    "lstm_bi_2layers_dropout": lambda: LSTMSequenceEncoder(FEATURES, num_layers=2, bidirectional=True, dropout=0.3, key=1),
    "gru_bi": lambda: GRUSequenceEncoder(FEATURES, bidirectional=True, key=2),
    "transformer": lambda: TransformerSequenceEncoder(
        FEATURES, 2, dropout=0.3, position_encoder=SinusoidalPositionEncoder(), key=3
    ),
    "transformer_pre_norm": lambda: TransformerSequenceEncoder(FEATURES, 2, pre_norm=True, key=4),
}


def _padded_inputs(seq_len: int, garbage_seed: int) -> tuple[np.ndarray, np.ndarray]:
    return padded_sequences(LENGTHS, FEATURES, seq_len, garbage_seed)


@eqx.filter_jit
def _encode(encoder: BaseSequenceEncoder, x: ArrayLike, mask: ArrayLike, key: jax.Array | None) -> jax.Array:
    return encoder(jnp.asarray(x), jnp.asarray(mask), key=key)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_encoder_real_positions_ignore_padding_and_padded_outputs_are_zero(name: str) -> None:
    encoder = eqx.nn.inference_mode(ENCODERS[name]())
    assert_padding_invariant(lambda x, m: _encode(encoder, x, m, None), LENGTHS, FEATURES)
    for seq_len in (5, 9):
        inputs, mask = _padded_inputs(seq_len, garbage_seed=3)
        output = np.asarray(_encode(encoder, inputs, mask, None))
        assert output.shape == (3, seq_len, FEATURES)
        assert np.all(output[~mask] == 0.0)


def test_backward_direction_starts_at_the_last_real_token() -> None:
    """A bidirectional LSTM's first output depends on the last real token, not on padding."""
    encoder = LSTMSequenceEncoder(FEATURES, bidirectional=True, key=0)
    inputs, mask = _padded_inputs(7, garbage_seed=1)
    changed = inputs.copy()
    changed[0, LENGTHS[0] - 1] += 1.0  # the last real token of row 0
    before, after = _encode(encoder, inputs, mask, None), _encode(encoder, changed, mask, None)
    assert not np.allclose(before[0, 0], after[0, 0])


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_encoder_gradients_are_finite_in_training_mode(name: str) -> None:
    encoder = ENCODERS[name]()
    inputs, mask = _padded_inputs(7, garbage_seed=4)

    @eqx.filter_jit
    @eqx.filter_grad
    def grads(encoder: BaseSequenceEncoder, x: jax.Array) -> jax.Array:
        return jnp.sum(encoder(x, jnp.asarray(mask), key=jax.random.key(0)) ** 2)

    leaves = jax.tree.leaves(grads(encoder, jnp.asarray(inputs)))
    assert leaves and all(np.all(np.isfinite(np.asarray(g))) for g in leaves)
    assert any(np.any(np.asarray(g) != 0) for g in leaves)


def test_dropout_needs_a_key_in_training_and_none_in_inference() -> None:
    encoder = LSTMSequenceEncoder(FEATURES, dropout=0.3, key=1)
    inputs, mask = _padded_inputs(5, garbage_seed=1)
    with pytest.raises(RuntimeError, match="key"):
        _encode(encoder, inputs, mask, None)
    one = _encode(encoder, inputs, mask, jax.random.key(1))
    two = _encode(encoder, inputs, mask, jax.random.key(2))
    assert not np.allclose(one, two)  # dropout is on and follows the key
    np.testing.assert_allclose(one, _encode(encoder, inputs, mask, jax.random.key(1)))
    inference = eqx.nn.inference_mode(encoder)
    np.testing.assert_allclose(_encode(inference, inputs, mask, None), _encode(inference, inputs, mask, None))


def test_encoder_checks_shapes() -> None:
    encoder = LSTMSequenceEncoder(FEATURES, key=0)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, seq_len, 8\)"):
        encoder(jnp.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="mask shape"):
        encoder(jnp.ones((2, 3, FEATURES)), jnp.ones((2, 4), bool))
    with pytest.raises(ValueError, match="divisible by num_heads"):
        TransformerSequenceEncoder(FEATURES, 3, key=0)


def _text_batch(seq_len: int, garbage_seed: int) -> IDSequenceBatch:
    ids = np.random.default_rng(0).integers(1, 20, size=(len(LENGTHS), seq_len))
    garbage = np.random.default_rng(garbage_seed).integers(-5, 1000, size=ids.shape)
    mask = length_mask(LENGTHS, seq_len)
    return IDSequenceBatch(ids=np.where(mask, ids, garbage), mask=mask)


def test_token_embedder_ignores_padded_ids_even_out_of_range() -> None:
    embedder = TokenEmbedder(vocab_size=20, embedding_dim=4, key=0)
    base = _text_batch(5, garbage_seed=1)
    other = _text_batch(5, garbage_seed=2)
    one, two = jax.jit(lambda b: embedder(b))(base), embedder(other)
    np.testing.assert_allclose(one.embeddings, two.embeddings)
    assert np.all(np.asarray(one.embeddings)[~np.asarray(base.mask)] == 0.0)
    np.testing.assert_array_equal(one.mask, base.mask)


def test_token_embedder_averages_characters_of_nested_ids() -> None:
    embedder = TokenEmbedder(vocab_size=10, embedding_dim=4, key=0)
    ids = np.array([[[1, 2, 0], [3, 0, 0]]])
    mask = ids > 0
    output = embedder(IDSequenceBatch(ids=ids, mask=mask))
    table = np.asarray(embedder.embedding.weight)
    np.testing.assert_allclose(output.embeddings[0, 0], (table[1] + table[2]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(output.mask, [[True, True]])


def test_analyzed_text_embedder_concatenates_and_needs_one_embedder() -> None:
    embedder = AnalyzedTextEmbedder(
        surface=TokenEmbedder(vocab_size=20, embedding_dim=4, key=0), postag=TokenEmbedder(vocab_size=5, embedding_dim=2, key=1)
    )
    batch = _text_batch(5, garbage_seed=1)
    postags = IDSequenceBatch(ids=np.minimum(np.asarray(batch.ids) % 5, 4), mask=batch.mask)
    output = embedder(AnalyzedTextBatch(surfaces=batch, postags=postags))
    assert output.embeddings.shape == (3, 5, 6) and embedder.get_output_dim() == 6
    with pytest.raises(ValueError, match="has no postags"):
        embedder(AnalyzedTextBatch(surfaces=batch))
    with pytest.raises(ValueError, match="at least one"):
        AnalyzedTextEmbedder()


def test_bag_of_embeddings_reuses_core_pooling_and_ignores_padding() -> None:
    vectorizer = BagOfEmbeddingsSequenceVectorizer(pooling=["mean", "max", "last"])
    inputs, mask = _padded_inputs(9, garbage_seed=3)
    pooled = eqx.filter_jit(vectorizer)(jnp.asarray(inputs), jnp.asarray(mask))
    assert pooled.shape == (3, 3 * FEATURES) and vectorizer.get_output_dim()(FEATURES) == 3 * FEATURES
    real = inputs[1, : LENGTHS[1]]
    np.testing.assert_allclose(pooled[1], np.concatenate([real.mean(0), real.max(0), real[-1]]), rtol=1e-5)
    with pytest.raises(ValueError, match="window_size"):
        BagOfEmbeddingsSequenceVectorizer(pooling="hier")


def test_feedforward_shapes_dropout_and_gradients() -> None:
    ffn = FeedForward(FEATURES, num_layers=2, dropout=0.5, layer_norm_eps=1e-5, residual_connection="dense", key=0)
    x = jnp.ones((3, 5, FEATURES))
    call = eqx.filter_jit(lambda m, x, k: m(x, key=k))
    assert call(ffn, x, jax.random.key(0)).shape == (3, 5, FEATURES)
    inference = eqx.nn.inference_mode(ffn)
    np.testing.assert_allclose(call(inference, x, None), np.asarray(call(inference, x, None)))
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(m(x, key=jax.random.key(1)))))(ffn)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in jax.tree.leaves(grads))
    with pytest.raises(ValueError, match="last axis 8"):
        inference(jnp.ones((2, 3)))


def test_layers_build_from_the_flax_config_keys_and_the_seed() -> None:
    config = {"type": "lstm", "features": FEATURES, "num_layers": 1, "bidirectional": True, "dropout": 0.1}
    with use_rngs(7):
        first = from_config(BaseSequenceEncoder, config)
    with use_rngs(7):
        second = from_config(BaseSequenceEncoder, config)
    with use_rngs(8):
        third = from_config(BaseSequenceEncoder, config)
    assert isinstance(first, LSTMSequenceEncoder)
    same = [np.array_equal(a, b) for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second))]
    assert all(same)
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(third)))
    with use_rngs(0):
        transformer = from_config(
            BaseSequenceEncoder,
            {"type": "transformer", "features": 8, "num_heads": 2, "position_encoder": {"type": "sinusoidal"}},
        )
        embedder = from_config(BaseEmbedder, {"type": "analyzed_text", "surface": {"type": "token", "vocab_size": 9, "embedding_dim": 3}})
        vectorizer = from_config(BaseSequenceVectorizer, {"type": "boe", "pooling": ["mean", "max"]})
    assert isinstance(transformer.position_encoder, SinusoidalPositionEncoder)
    assert embedder.get_output_dim() == 3 and vectorizer.pooling == ("mean", "max")
    with pytest.raises(ConfigurationError, match="did you mean 'lstm'"):
        from_config(BaseSequenceEncoder, {"type": "lstn", "features": 4})


def test_a_key_is_needed_outside_use_rngs() -> None:
    with pytest.raises(RuntimeError, match="use_rngs"):
        resolve_key(None)
    with pytest.raises(TypeError, match="bool"):
        resolve_key(True)
