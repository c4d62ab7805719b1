"""Embedders: token ids with their padding mask to ``EmbedderOutput(embeddings, mask)``."""

from __future__ import annotations

import abc
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from formed.core import IAnalyzedTextBatch, IIDSequenceBatch, Registrable, embed_analyzed_text, ensure_jax_array, masked_pool
from formed.equinox._keys import KeyLike, resolve_key


class EmbedderOutput(NamedTuple):
    """What an embedder returns.

    Attributes:
        embeddings: ``(batch_size, seq_len, embedding_dim)``; zeros at padded positions.
        mask: bool ``(batch_size, seq_len)``; true at real tokens.
    """

    embeddings: jax.Array
    mask: jax.Array


class BaseEmbedder(eqx.Module, Registrable):
    """Maps a batch of tokenized text to dense vectors plus the padding mask."""

    @abc.abstractmethod
    def __call__(self, inputs: Any, *, key: jax.Array | None = None) -> EmbedderOutput:
        """Embeds one batch."""

    @abc.abstractmethod
    def get_output_dim(self) -> int:
        """The embedding size, the last axis of ``EmbedderOutput.embeddings``."""


@BaseEmbedder.register("token")
class TokenEmbedder(BaseEmbedder):
    """A learned embedding table (`eqx.nn.Embedding`) for token ids.

    ``ids`` of shape ``(batch, seq_len)`` give ``(batch, seq_len, embedding_dim)``; nested ids
    ``(batch, seq_len, char_len)`` are embedded and averaged over the real characters of each
    word (a word is real when any of its characters is).

    Args:
        vocab_size: number of rows of the table.
        embedding_dim: size of each embedding.
        key: a PRNG key or int seed; ``None`` draws from the current ``use_rngs`` generator.

    >>> import jax.numpy as jnp
    >>> from formed.core import IDSequenceBatch
    >>> embedder = TokenEmbedder(vocab_size=100, embedding_dim=16, key=0)
    >>> embedder(IDSequenceBatch(ids=jnp.ones((2, 5), int), mask=jnp.ones((2, 5), bool))).embeddings.shape
    (2, 5, 16)
    """

    embedding: eqx.nn.Embedding
    vocab_size: int = eqx.field(static=True)
    embedding_dim: int = eqx.field(static=True)

    def __init__(self, vocab_size: int, embedding_dim: int, *, key: KeyLike | None = None) -> None:
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.embedding = eqx.nn.Embedding(vocab_size, embedding_dim, key=resolve_key(key))

    def __call__(self, inputs: IIDSequenceBatch, *, key: jax.Array | None = None) -> EmbedderOutput:
        ids = ensure_jax_array(inputs.ids)
        mask = ensure_jax_array(inputs.mask).astype(bool)
        if ids.ndim not in (2, 3):
            raise ValueError(
                f"TokenEmbedder expects ids of shape (batch, seq_len) or (batch, seq_len, char_len), got {ids.shape}"
            )
        if ids.shape != mask.shape:
            raise ValueError(f"TokenEmbedder: ids shape {ids.shape} and mask shape {mask.shape} differ")
        # Padded ids may be anything (even out of range): look up id 0 there and zero the result.
        embeddings = jnp.take(self.embedding.weight, jnp.where(mask, ids, 0), axis=0)
        embeddings = jnp.where(mask[..., None], embeddings, 0.0)
        if ids.ndim == 3:
            embeddings = masked_pool(embeddings, mask, pooling="mean")
            mask = mask.any(axis=-1)
        return EmbedderOutput(embeddings=embeddings, mask=mask)

    def get_output_dim(self) -> int:
        return self.embedding_dim


@BaseEmbedder.register("analyzed_text")
class AnalyzedTextEmbedder(BaseEmbedder):
    """Concatenates the embeddings of surfaces, part-of-speech tags and characters.

    Args:
        surface / postag / character: embedders of ``inputs.surfaces`` / ``.postags`` /
            ``.characters``; at least one is required.

    Raises:
        ValueError: if all three are ``None``.
    """

    surface: BaseEmbedder | None
    postag: BaseEmbedder | None
    character: BaseEmbedder | None

    def __init__(
        self,
        surface: BaseEmbedder | None = None,
        postag: BaseEmbedder | None = None,
        character: BaseEmbedder | None = None,
    ) -> None:
        if surface is None and postag is None and character is None:
            raise ValueError("AnalyzedTextEmbedder needs at least one of surface, postag or character embedders")
        self.surface = surface
        self.postag = postag
        self.character = character

    def __call__(self, inputs: IAnalyzedTextBatch, *, key: jax.Array | None = None) -> EmbedderOutput:
        embeddings, mask = embed_analyzed_text(inputs, self.surface, self.postag, self.character)
        return EmbedderOutput(embeddings=embeddings, mask=mask)

    def get_output_dim(self) -> int:
        return sum(e.get_output_dim() for e in (self.surface, self.postag, self.character) if e is not None)
