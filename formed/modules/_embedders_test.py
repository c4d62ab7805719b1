"""Tests for formed/modules/_embedders.py: lookups, nested ids, masking, jit and configs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from formed.core import AnalyzedTextBatch, ConfigurationError, IDSequenceBatch, from_config, use_rngs
from formed.modules._embedders import AnalyzedTextEmbedder, BaseEmbedder, EmbedderOutput, TokenEmbedder
from formed.modules._vectorizers import BagOfEmbeddingsSequenceVectorizer

LENGTHS = np.array([2, 4])


def _ids(seq_len: int, garbage_seed: int, vocab: int = 10) -> IDSequenceBatch:
    real = np.random.default_rng(0).integers(1, vocab, size=(2, 4))
    mask = np.arange(seq_len)[None, :] < LENGTHS[:, None]
    garbage = np.random.default_rng(garbage_seed).integers(-50, 50, size=(2, seq_len))
    ids = np.where(mask, np.pad(real, ((0, 0), (0, seq_len - 4))), garbage).astype(np.int32)
    return IDSequenceBatch(ids=ids, mask=mask)


def _chars(seq_len: int, garbage_seed: int) -> IDSequenceBatch:
    real = np.random.default_rng(1).integers(1, 10, size=(2, 4, 3))
    char_lengths = np.array([[1, 3, 0, 0], [2, 2, 3, 1]])
    mask = np.arange(3)[None, None, :] < np.pad(char_lengths, ((0, 0), (0, seq_len - 4)))[..., None]
    garbage = np.random.default_rng(garbage_seed).integers(-50, 50, size=(2, seq_len, 3))
    ids = np.where(mask, np.pad(real, ((0, 0), (0, seq_len - 4), (0, 0))), garbage).astype(np.int32)
    return IDSequenceBatch(ids=ids, mask=mask)


def test_token_embedder_looks_up_rows_and_zeroes_padding() -> None:
    embedder = TokenEmbedder(vocab_size=10, embedding_dim=3, rngs=0)
    batch = _ids(6, garbage_seed=1)
    output = embedder(batch)
    assert isinstance(output, EmbedderOutput)
    table = np.asarray(embedder.embedding.embedding[...])
    embeddings, mask = np.asarray(output.embeddings), np.asarray(output.mask)
    np.testing.assert_array_equal(mask, batch.mask)
    np.testing.assert_allclose(embeddings[batch.mask], table[batch.ids[batch.mask]])
    assert np.all(embeddings[~batch.mask] == 0.0)
    assert embedder.get_output_dim() == 3


@pytest.mark.parametrize("make", ["token", "chars_mean", "chars_max", "analyzed"])
def test_real_positions_ignore_padding_contents_and_amount(make: str) -> None:
    def run(seq_len: int, seed: int) -> EmbedderOutput:
        if make == "token":
            return TokenEmbedder(10, 3, rngs=0)(_ids(seq_len, seed))
        if make == "chars_mean":
            return TokenEmbedder(10, 3, rngs=0)(_chars(seq_len, seed))
        if make == "chars_max":
            vectorizer = BagOfEmbeddingsSequenceVectorizer(pooling=["max", "last"])
            return TokenEmbedder(10, 3, vectorizer=vectorizer, rngs=0)(_chars(seq_len, seed))
        embedder = AnalyzedTextEmbedder(
            surface=TokenEmbedder(10, 3, rngs=0), postag=TokenEmbedder(10, 2, rngs=1), character=TokenEmbedder(10, 2, rngs=2)
        )
        return embedder(AnalyzedTextBatch(surfaces=_ids(seq_len, seed), postags=_ids(seq_len, seed + 7), characters=_chars(seq_len, seed)))

    base = run(4, 1)
    for seq_len, seed in ((4, 2), (7, 3)):
        other = run(seq_len, seed)
        for row, length in enumerate(LENGTHS):
            np.testing.assert_allclose(
                np.asarray(other.embeddings)[row, :length], np.asarray(base.embeddings)[row, :length], atol=1e-6
            )
        np.testing.assert_array_equal(np.asarray(other.mask)[:, :4], np.asarray(base.mask))
        assert not np.asarray(other.mask)[:, 4:].any()


def test_nested_ids_average_over_real_characters() -> None:
    embedder = TokenEmbedder(10, 3, rngs=0)
    batch = _chars(4, garbage_seed=1)
    output = embedder(batch)
    table = np.asarray(embedder.embedding.embedding[...])
    expected = np.zeros((2, 4, 3), np.float32)
    for b in range(2):
        for t in range(4):
            chars = batch.ids[b, t][batch.mask[b, t]]
            if len(chars):
                expected[b, t] = table[chars].mean(0)
    np.testing.assert_allclose(np.asarray(output.embeddings), expected, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(output.mask), batch.mask.any(-1))


def test_nested_ids_with_a_vectorizer_and_output_dim() -> None:
    vectorizer = BagOfEmbeddingsSequenceVectorizer(pooling=["max", "mean"])
    embedder = TokenEmbedder(10, 3, vectorizer=vectorizer, rngs=0)
    batch = _chars(4, garbage_seed=1)
    output = np.asarray(embedder(batch).embeddings)
    table = np.asarray(embedder.embedding.embedding[...])
    chars = batch.ids[1, 2][batch.mask[1, 2]]
    np.testing.assert_allclose(output[1, 2], np.concatenate([table[chars].max(0), table[chars].mean(0)]), atol=1e-6)
    assert output.shape == (2, 4, 6) and embedder.get_output_dim() == 6


def test_analyzed_text_concatenates_in_order_and_requires_one_embedder() -> None:
    surface, postag = TokenEmbedder(10, 4, rngs=0), TokenEmbedder(10, 2, rngs=1)
    embedder = AnalyzedTextEmbedder(surface=surface, postag=postag)
    batch = AnalyzedTextBatch(surfaces=_ids(4, 1), postags=_ids(4, 2))
    output = embedder(batch)
    assert batch.surfaces is not None and batch.postags is not None
    np.testing.assert_allclose(np.asarray(output.embeddings)[..., :4], np.asarray(surface(batch.surfaces).embeddings))
    np.testing.assert_allclose(np.asarray(output.embeddings)[..., 4:], np.asarray(postag(batch.postags).embeddings))
    assert embedder.get_output_dim() == 6
    with pytest.raises(ValueError, match="at least one"):
        AnalyzedTextEmbedder()
    with pytest.raises(ValueError, match="no postags"):
        embedder(AnalyzedTextBatch(surfaces=_ids(4, 1)))


def test_shape_errors_name_the_shapes() -> None:
    embedder = TokenEmbedder(10, 3, rngs=0)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        embedder(IDSequenceBatch(ids=np.zeros((2, 3), np.int32), mask=np.ones((2, 4), bool)))
    with pytest.raises(ValueError, match="batch, seq_len"):
        embedder(IDSequenceBatch(ids=np.zeros((2,), np.int32), mask=np.ones((2,), bool)))


def test_jit_and_finite_gradients() -> None:
    embedder = AnalyzedTextEmbedder(
        surface=TokenEmbedder(10, 3, rngs=0),
        character=TokenEmbedder(10, 2, vectorizer=BagOfEmbeddingsSequenceVectorizer("hier", window_size=2), rngs=1),
    )
    batch = AnalyzedTextBatch(surfaces=_ids(5, 1), characters=_chars(5, 1))
    eager = embedder(batch)
    via_nnx = nnx.jit(lambda m, b: m(b))(embedder, batch)
    graphdef, state = nnx.split(embedder)
    via_jax = jax.jit(lambda s, b: nnx.merge(graphdef, s)(b))(state, batch)
    for result in (via_nnx, via_jax):
        np.testing.assert_allclose(np.asarray(result.embeddings), np.asarray(eager.embeddings), atol=1e-6)
        np.testing.assert_array_equal(np.asarray(result.mask), np.asarray(eager.mask))
    grads = nnx.jit(nnx.grad(lambda m: jnp.sum(m(batch).embeddings ** 2)))(embedder)
    leaves = jax.tree_util.tree_leaves(grads)
    assert leaves and all(np.all(np.isfinite(np.asarray(leaf))) for leaf in leaves)


def test_analyzed_text_builds_from_a_nested_plain_dict() -> None:
    config = {
        "type": "analyzed_text",
        "surface": {"type": "token", "vocab_size": 10, "embedding_dim": 4},
        "character": {
            "type": "token",
            "vocab_size": 10,
            "embedding_dim": 2,
            "vectorizer": {"type": "boe", "pooling": ["mean", "max"]},
        },
    }
    with use_rngs(0):
        embedder = from_config(BaseEmbedder, config)
    assert isinstance(embedder, AnalyzedTextEmbedder)
    assert isinstance(embedder.surface, TokenEmbedder) and isinstance(embedder.character, TokenEmbedder)
    assert isinstance(embedder.character.vectorizer, BagOfEmbeddingsSequenceVectorizer)
    assert embedder.get_output_dim() == 4 + 4
    output = embedder(AnalyzedTextBatch(surfaces=_ids(4, 1), characters=_chars(4, 1)))
    assert output.embeddings.shape == (2, 4, 8)
    with pytest.raises(ConfigurationError, match="surface.vocab_size"):
        with use_rngs(0):
            from_config(BaseEmbedder, {"type": "analyzed_text", "surface": {"type": "token", "embedding_dim": 4}})
