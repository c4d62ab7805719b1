"""Tests for formed/modules/_feedforward.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from formed.core import from_config, use_rngs
from formed.modules._feedforward import Block, FeedForward


def _dense(block: Block, x: np.ndarray) -> np.ndarray:
    assert block.linear.bias is not None
    return x @ np.asarray(block.linear.kernel[...]) + np.asarray(block.linear.bias[...])


def test_block_matches_numpy_with_residual_and_layer_norm() -> None:
    block = Block(3, 4, layer_norm_eps=1e-6, rngs=0)
    x = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    r = np.ones((2, 4), np.float32)
    h = np.maximum(_dense(block, x), 0.0) + r
    expected = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(np.asarray(block(jnp.asarray(x), jnp.asarray(r))), expected, atol=1e-5)
    with pytest.raises(ValueError, match="last axis 3"):
        block(jnp.zeros((2, 5)))


def test_feedforward_none_and_dense_residuals_match_numpy() -> None:
    x = np.random.default_rng(1).normal(size=(2, 5, 4)).astype(np.float32)
    plain = FeedForward(4, num_layers=3, activation=jax.nn.tanh, rngs=0)
    dense = FeedForward(4, num_layers=3, activation=jax.nn.tanh, residual_connection="dense", rngs=0)
    h, expected_plain = x, None
    for block in plain.blocks:
        h = np.tanh(_dense(block, h))
    expected_plain = h
    # Dense: block k adds the sum of the inputs of blocks 0..k-1.
    inputs: list[np.ndarray] = []
    h = x
    for block in dense.blocks:
        shortcut = sum(inputs) if inputs else 0.0
        inputs.append(h)
        h = np.tanh(_dense(block, h)) + shortcut
    np.testing.assert_allclose(np.asarray(plain(jnp.asarray(x))), expected_plain, atol=1e-5)
    np.testing.assert_allclose(np.asarray(dense(jnp.asarray(x))), h, atol=1e-5)
    assert plain.get_input_dim() == plain.get_output_dim() == 4


def test_dropout_follows_train_and_eval() -> None:
    ffn = FeedForward(8, num_layers=2, dropout=0.5, rngs=0)
    x = jnp.ones((4, 8))
    ffn.train()
    assert not np.allclose(np.asarray(ffn(x)), np.asarray(ffn(x)))
    ffn.eval()
    np.testing.assert_array_equal(np.asarray(ffn(x)), np.asarray(ffn(x)))
    ffn.train()
    np.testing.assert_array_equal(np.asarray(ffn(x, deterministic=True)), np.asarray(ffn(x, deterministic=True)))


def test_jit_and_finite_gradients() -> None:
    ffn = FeedForward(4, num_layers=2, layer_norm_eps=1e-5, residual_connection="dense", rngs=0)
    x = jnp.asarray(np.random.default_rng(2).normal(size=(3, 4)), jnp.float32)
    eager = ffn(x)
    np.testing.assert_allclose(np.asarray(nnx.jit(lambda m, a: m(a))(ffn, x)), np.asarray(eager), atol=1e-5)
    graphdef, state = nnx.split(ffn)
    np.testing.assert_allclose(
        np.asarray(jax.jit(lambda s, a: nnx.merge(graphdef, s)(a))(state, x)), np.asarray(eager), atol=1e-5
    )
    grads = nnx.jit(nnx.grad(lambda m: jnp.sum(m(x) ** 2)))(ffn)
    leaves = jax.tree_util.tree_leaves(grads)
    assert leaves and all(np.all(np.isfinite(np.asarray(leaf))) for leaf in leaves)


def test_builds_from_config_with_activation_by_name() -> None:
    with use_rngs(0):
        typed = from_config(FeedForward, {"type": "feedforward", "features": 4, "num_layers": 2, "activation": "gelu"})
        untyped = from_config(FeedForward, {"features": 4, "residual_connection": "dense"})
    assert typed.blocks[0].activation is jax.nn.gelu and len(typed.blocks) == 2
    assert untyped.residual_connection == "dense"
    assert FeedForward.by_name("feedforward") is FeedForward
    with pytest.raises(ValueError, match="residual_connection"):
        FeedForward(4, residual_connection="sparse", rngs=0)  # type: ignore[arg-type]  # the unknown kind is the point
