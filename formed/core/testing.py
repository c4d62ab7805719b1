"""Test utilities for sequence layers, Flax and Equinox alike: padded batches whose padding holds
garbage, and the check that real positions ignore it.

>>> inputs, mask = padded_sequences(np.array([2, 3]), features=4, seq_len=6, garbage_seed=1)
>>> inputs.shape, mask.sum(axis=1).tolist()
((2, 6, 4), [2, 3])
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

REAL_LENGTH = 5  # the real vectors are drawn for this many positions; `lengths` must not exceed it


def length_mask(lengths: np.ndarray, seq_len: int) -> np.ndarray:
    """``(batch, seq_len)`` bool: true at the first ``lengths[i]`` positions of row ``i``."""
    return np.arange(seq_len)[None, :] < lengths[:, None]


def padded_sequences(lengths: np.ndarray, features: int, seq_len: int, garbage_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs (batch, seq_len, features) float32, mask (batch, seq_len))``: the same real
    vectors for every call, padded positions filled with large `garbage_seed`-dependent garbage."""
    real = np.random.default_rng(0).normal(size=(len(lengths), REAL_LENGTH, features)).astype(np.float32)
    garbage = 100.0 * np.random.default_rng(garbage_seed).normal(size=(len(lengths), seq_len, features))
    mask = length_mask(lengths, seq_len)
    inputs = np.where(mask[..., None], np.pad(real, ((0, 0), (0, seq_len - REAL_LENGTH), (0, 0))), garbage)
    return inputs.astype(np.float32), mask


def assert_padding_invariant(run: Callable[[np.ndarray, np.ndarray], Any], lengths: np.ndarray, features: int) -> None:
    """`run(inputs, mask)` gives the same outputs at real positions whatever the padding holds
    and however long it is (AssertionError otherwise)."""
    base_inputs, base_mask = padded_sequences(lengths, features, REAL_LENGTH, garbage_seed=1)
    base = np.asarray(run(base_inputs, base_mask))
    for seq_len, seed in ((REAL_LENGTH, 2), (REAL_LENGTH + 4, 3)):
        inputs, mask = padded_sequences(lengths, features, seq_len, garbage_seed=seed)
        output = np.asarray(run(inputs, mask))
        for row, length in enumerate(lengths):
            np.testing.assert_allclose(output[row, :length], base[row, :length], atol=1e-5, rtol=1e-5)
