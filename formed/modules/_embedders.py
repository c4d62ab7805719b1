"""Embedders: token ids (with their padding mask) to ``EmbedderOutput(embeddings, mask)``."""

from __future__ import annotations

import abc
from typing import Any, Generic, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx
from typing_extensions import TypeVar

from formed.core import (
    IAnalyzedTextBatch,
    IIDSequenceBatch,
    Registrable,
    RngsLike,
    determine_ndim,
    embed_analyzed_text,
    ensure_jax_array,
    masked_pool,
    resolve_rngs,
    sequence_distribute,
    sequence_undistribute,
)
from formed.modules._vectorizers import BaseSequenceVectorizer

_TextBatchT = TypeVar("_TextBatchT", default=Any)


class EmbedderOutput(NamedTuple):
    """What an embedder returns.

    Attributes:
        embeddings: ``(batch_size, seq_len, embedding_dim)``; zeros at padded positions.
        mask: bool ``(batch_size, seq_len)``; true at real tokens.
    """

    embeddings: jax.Array
    mask: jax.Array


class BaseEmbedder(nnx.Module, Registrable, Generic[_TextBatchT], abc.ABC):
    """Maps a batch of tokenized text to dense vectors plus the padding mask."""

    @abc.abstractmethod
    def __call__(self, inputs: _TextBatchT) -> EmbedderOutput:
        """Embeds one batch."""

    @abc.abstractmethod
    def get_output_dim(self) -> int:
        """The embedding size, the last axis of ``EmbedderOutput.embeddings``."""


@BaseEmbedder.register("token")
class TokenEmbedder(BaseEmbedder[IIDSequenceBatch]):
    """A learned embedding table for token ids.

    ``ids`` of shape ``(batch, seq_len)`` give ``(batch, seq_len, embedding_dim)``. Nested ids of
    shape ``(batch, seq_len, char_len)`` (characters inside words) are embedded and then reduced
    over the inner axis: by `vectorizer` if given, otherwise by a masked mean. A word is real when
    any of its characters is.

    Args:
        vocab_size: number of rows of the embedding table.
        embedding_dim: size of each embedding.
        vectorizer: reduces the inner axis of nested ids, e.g.
            ``BagOfEmbeddingsSequenceVectorizer(pooling="max")``.
        rngs: an int seed, an `nnx.Rngs`, or ``None`` for the current `use_rngs` generator.

    >>> import jax.numpy as jnp
    >>> from formed.core import IDSequenceBatch
    >>> embedder = TokenEmbedder(vocab_size=10, embedding_dim=4, rngs=0)
    >>> batch = IDSequenceBatch(ids=jnp.array([[3, 7, 0]]), mask=jnp.array([[True, True, False]]))
    >>> embedder(batch).embeddings.shape  # (batch, seq_len, embedding_dim)
    (1, 3, 4)
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        *,
        vectorizer: BaseSequenceVectorizer | None = None,
        rngs: RngsLike | None = None,
    ) -> None:
        rngs = resolve_rngs(rngs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.embedding = nnx.Embed(num_embeddings=vocab_size, features=embedding_dim, rngs=rngs)
        self.vectorizer = vectorizer

    def __call__(self, inputs: IIDSequenceBatch) -> EmbedderOutput:
        ids = ensure_jax_array(inputs.ids)
        mask = ensure_jax_array(inputs.mask).astype(bool)
        if ids.ndim not in (2, 3):
            raise ValueError(
                f"TokenEmbedder expects ids of shape (batch, seq_len) or (batch, seq_len, char_len), got {ids.shape}"
            )
        if ids.shape != mask.shape:
            raise ValueError(f"TokenEmbedder: ids shape {ids.shape} and mask shape {mask.shape} differ")
        # Padded ids may be anything (even out of range): embed id 0 there and zero the result.
        embeddings = self.embedding(jnp.where(mask, ids, 0))
        embeddings = jnp.where(mask[..., None], embeddings, 0.0)
        if ids.ndim == 3:
            if self.vectorizer is None:
                embeddings = masked_pool(embeddings, mask, pooling="mean")
            else:
                folded, shape = sequence_distribute(embeddings)
                folded_mask, _ = sequence_distribute(mask)
                embeddings = sequence_undistribute(self.vectorizer(folded, mask=folded_mask), shape)
            mask = mask.any(axis=-1)
            embeddings = jnp.where(mask[..., None], embeddings, 0.0)
        return EmbedderOutput(embeddings=embeddings, mask=mask)

    def get_output_dim(self) -> int:
        if self.vectorizer is None:
            return self.embedding_dim
        return determine_ndim(self.embedding_dim, self.vectorizer.get_output_dim())


@BaseEmbedder.register("analyzed_text")
class AnalyzedTextEmbedder(BaseEmbedder[IAnalyzedTextBatch]):
    """Concatenates the embeddings of surfaces, part-of-speech tags and characters.

    Args:
        surface: embedder for ``inputs.surfaces`` (word ids).
        postag: embedder for ``inputs.postags``.
        character: embedder for ``inputs.characters`` (nested character ids).

    At least one is required. The output mask is that of the last embedder used (all analyses of
    one text share their padding).

    Raises:
        ValueError: if all three are ``None``.

    >>> embedder = AnalyzedTextEmbedder(
    ...     surface=TokenEmbedder(vocab_size=100, embedding_dim=8, rngs=0),
    ...     postag=TokenEmbedder(vocab_size=20, embedding_dim=4, rngs=1),
    ... )
    >>> embedder.get_output_dim()
    12
    """

    def __init__(
        self,
        surface: BaseEmbedder[IIDSequenceBatch] | None = None,
        postag: BaseEmbedder[IIDSequenceBatch] | None = None,
        character: BaseEmbedder[IIDSequenceBatch] | None = None,
    ) -> None:
        if surface is None and postag is None and character is None:
            raise ValueError("AnalyzedTextEmbedder needs at least one of surface, postag or character embedders")
        self.surface = surface
        self.postag = postag
        self.character = character

    def __call__(self, inputs: IAnalyzedTextBatch) -> EmbedderOutput:
        embeddings, mask = embed_analyzed_text(inputs, self.surface, self.postag, self.character)
        return EmbedderOutput(embeddings=embeddings, mask=mask)

    def get_output_dim(self) -> int:
        return sum(
            embedder.get_output_dim() for embedder in (self.surface, self.postag, self.character) if embedder is not None
        )
