"""Tests for formed.core._batches."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from formed.core._batches import AnalyzedTextBatch, IAnalyzedTextBatch, IDSequenceBatch, IIDSequenceBatch


def test_concrete_batches_satisfy_the_protocols():
    ids = IDSequenceBatch(ids=np.zeros((2, 3), np.int32), mask=np.ones((2, 3), bool))
    text = AnalyzedTextBatch(surfaces=ids)
    assert isinstance(ids, IIDSequenceBatch)
    assert isinstance(text, IAnalyzedTextBatch)
    assert text.postags is None and text.characters is None


def test_batches_are_pytrees_through_jit():
    surfaces = IDSequenceBatch(ids=jnp.arange(6).reshape(2, 3), mask=jnp.ones((2, 3), bool))
    characters = IDSequenceBatch(ids=jnp.ones((2, 3, 4), jnp.int32), mask=jnp.ones((2, 3, 4), bool))
    text = AnalyzedTextBatch(surfaces=surfaces, characters=characters)
    assert len(jax.tree_util.tree_leaves(text)) == 4

    @jax.jit
    def shift(batch: AnalyzedTextBatch) -> AnalyzedTextBatch:
        return jax.tree_util.tree_map(lambda x: x + 1 if x.dtype != bool else x, batch)

    shifted = shift(text)
    assert isinstance(shifted, AnalyzedTextBatch) and shifted.postags is None and shifted.surfaces is not None
    np.testing.assert_array_equal(shifted.surfaces.ids, surfaces.ids + 1)


def test_mismatched_shapes_are_an_error():
    with pytest.raises(ValueError, match=r"ids shape \(2, 3\) and mask shape \(2, 4\) differ"):
        IDSequenceBatch(ids=np.zeros((2, 3)), mask=np.zeros((2, 4), bool))
