"""The batch shapes that layers accept, as protocols plus concrete pytree classes.

Layers are written against the protocols (`IIDSequenceBatch`, `IAnalyzedTextBatch`), so any
object with the right attributes works. The data pipeline produces the concrete classes
(`IDSequenceBatch`, `AnalyzedTextBatch`), which are registered JAX pytrees: they pass through
`jax.jit`, `nnx.jit` and device sharding like tuples of arrays.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

import jax


@runtime_checkable
class IIDSequenceBatch(Protocol):
    """Token ids with their padding mask.

    Attributes:
        ids: int array ``(batch, seq_len)``, or ``(batch, seq_len, char_len)`` for characters.
        mask: bool array of the same shape; true at real tokens.
    """

    # Read-only members (properties), so frozen dataclasses such as `IDSequenceBatch` match.
    @property
    def ids(self) -> Any: ...

    @property
    def mask(self) -> Any: ...


@runtime_checkable
class IAnalyzedTextBatch(Protocol):
    """A text seen through several analyses, each an `IIDSequenceBatch` or ``None``.

    Attributes:
        surfaces: word ids ``(batch, seq_len)``.
        postags: part-of-speech tag ids ``(batch, seq_len)``.
        characters: character ids ``(batch, seq_len, char_len)``.
    """

    @property
    def surfaces(self) -> IIDSequenceBatch | None: ...

    @property
    def postags(self) -> IIDSequenceBatch | None: ...

    @property
    def characters(self) -> IIDSequenceBatch | None: ...


@dataclasses.dataclass(frozen=True)
class IDSequenceBatch:
    """Concrete `IIDSequenceBatch`: ``ids`` and ``mask`` arrays of one shape; its length is the
    batch size.

    >>> import numpy as np
    >>> len(IDSequenceBatch(ids=np.zeros((3, 5), int), mask=np.ones((3, 5), bool)))
    3
    """

    ids: Any
    mask: Any

    def __post_init__(self) -> None:
        ids_shape = getattr(self.ids, "shape", None)
        mask_shape = getattr(self.mask, "shape", None)
        # Pytree transforms rebuild the class with placeholder leaves; check only real arrays.
        if isinstance(ids_shape, tuple) and isinstance(mask_shape, tuple) and ids_shape != mask_shape:
            raise ValueError(f"ids shape {ids_shape} and mask shape {mask_shape} differ")

    def __len__(self) -> int:
        return len(self.ids)


@dataclasses.dataclass(frozen=True)
class AnalyzedTextBatch:
    """Concrete `IAnalyzedTextBatch`; absent analyses are ``None``. Its length is the batch size,
    read from the first analysis present."""

    surfaces: IDSequenceBatch | None = None
    postags: IDSequenceBatch | None = None
    characters: IDSequenceBatch | None = None

    def __len__(self) -> int:
        for analysis in (self.surfaces, self.postags, self.characters):
            if analysis is not None:
                return len(analysis)
        return 0


jax.tree_util.register_dataclass(IDSequenceBatch, data_fields=["ids", "mask"], meta_fields=[])
jax.tree_util.register_dataclass(
    AnalyzedTextBatch, data_fields=["surfaces", "postags", "characters"], meta_fields=[]
)


def embed_analyzed_text(inputs: IAnalyzedTextBatch, surface: Any, postag: Any, character: Any) -> tuple[jax.Array, jax.Array]:
    """What an analyzed-text embedder (Flax or Equinox) does with a batch: each of the three
    embedders that is given embeds its part of `inputs` (``surfaces``, ``postags``,
    ``characters``) into an output with ``embeddings`` ``(batch, seq_len, dim)`` and ``mask``;
    returns the embeddings concatenated along the feature axis and the mask.

    Raises:
        ValueError: if an embedder is given for a part the batch lacks.
    """
    embeddings: list[jax.Array] = []
    mask: jax.Array | None = None
    for name, embedder, batch in (
        ("surfaces", surface, inputs.surfaces),
        ("postags", postag, inputs.postags),
        ("characters", character, inputs.characters),
    ):
        if embedder is None:
            continue
        if batch is None:
            raise ValueError(f"AnalyzedTextEmbedder has an embedder for {name}, but the batch has no {name}")
        output = embedder(batch)
        embeddings.append(output.embeddings)
        mask = output.mask
    if mask is None:
        raise ValueError("AnalyzedTextEmbedder needs at least one of surface, postag or character embedders")
    return jax.numpy.concatenate(embeddings, axis=-1), mask
