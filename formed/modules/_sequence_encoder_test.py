"""The sequence encoder contract (formed/modules/_sequence_encoder.py) for every encoder: masking,
jit, gradients, dropout and config building."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from formed.core import ConfigurationError, from_config, use_rngs
from formed.core.testing import assert_padding_invariant, padded_sequences
from formed.modules import (
    BasePositionEncoder,
    BaseSequenceEncoder,
    GRUSequenceEncoder,
    LearnablePositionEncoder,
    LSTMSequenceEncoder,
    OptimizedLSTMSequenceEncoder,
    RNNSequenceEncoder,
    SinusoidalPositionEncoder,
    TransformerSequenceEncoder,
)

FEATURES = 8
LENGTHS = np.array([2, 5, 3])

ENCODERS: dict[str, Callable[[], BaseSequenceEncoder]] = {
    "lstm_bi_2layers_ffn": lambda: LSTMSequenceEncoder(
        FEATURES, num_layers=2, bidirectional=True, feedforward_layers=1, dropout=0.3, rngs=1
    ),
    "optimized_lstm": lambda: OptimizedLSTMSequenceEncoder(FEATURES, rngs=2),
    "gru_bi": lambda: GRUSequenceEncoder(FEATURES, bidirectional=True, rngs=3),
    "simple_rnn_bi": lambda: RNNSequenceEncoder(
        lambda r: nnx.SimpleCell(FEATURES, FEATURES, rngs=r), FEATURES, bidirectional=True, rngs=4
    ),
    "transformer": lambda: TransformerSequenceEncoder(
        FEATURES, 2, num_layers=2, dropout=0.3, position_encoder=SinusoidalPositionEncoder(), rngs=5
    ),
    "transformer_pre_norm": lambda: TransformerSequenceEncoder(
        FEATURES, 2, pre_norm=True, position_encoder=LearnablePositionEncoder(FEATURES, max_length=16, rngs=6), rngs=6
    ),
}


def _padded_inputs(seq_len: int, garbage_seed: int) -> tuple[np.ndarray, np.ndarray]:
    return padded_sequences(LENGTHS, FEATURES, seq_len, garbage_seed)


def _assert_padding_invariant(run: Callable[[np.ndarray, np.ndarray], jax.Array]) -> None:
    assert_padding_invariant(run, LENGTHS, FEATURES)


def _jitted(encoder: BaseSequenceEncoder) -> Callable[[np.ndarray, np.ndarray | None], jax.Array]:
    run = nnx.jit(lambda module, x, m: module(x, m))
    return lambda x, m: run(encoder, jnp.asarray(x), None if m is None else jnp.asarray(m))


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_real_positions_ignore_padding_and_padded_outputs_are_zero(name: str) -> None:
    encoder = ENCODERS[name]()
    encoder.eval()
    run = _jitted(encoder)
    _assert_padding_invariant(run)
    inputs, mask = _padded_inputs(9, garbage_seed=5)
    output = np.asarray(run(inputs, mask))
    assert output.shape == (len(LENGTHS), 9, encoder.get_output_dim())
    assert encoder.get_input_dim() == FEATURES
    assert np.all(output[~mask] == 0.0)
    assert np.all(np.abs(output[mask]).sum(axis=-1) > 0)
    # jax.jit over the split state gives the same result as nnx.jit.
    graphdef, state = nnx.split(encoder)
    via_jax_jit = jax.jit(lambda s, x, m: nnx.merge(graphdef, s)(x, m))(state, jnp.asarray(inputs), jnp.asarray(mask))
    np.testing.assert_allclose(np.asarray(via_jax_jit), output, atol=1e-5)


def test_attention_without_mask_is_caught_by_the_invariance_check() -> None:
    # The known failure mode: attention that never sees the padding mask. Calling the encoder
    # without a mask behaves exactly like that, and the padding-invariance check must reject it.
    encoder = ENCODERS["transformer"]()
    encoder.eval()
    run = _jitted(encoder)
    with pytest.raises(AssertionError):
        _assert_padding_invariant(lambda x, m: run(x, None))


@pytest.mark.parametrize("name", ["lstm_bi_2layers_ffn"])
def test_bidirectional_rnn_runs_backwards_from_each_sequences_own_last_token(name: str) -> None:
    encoder = ENCODERS[name]()
    encoder.eval()
    inputs, mask = _padded_inputs(7, garbage_seed=4)
    run = _jitted(encoder)
    batched = np.asarray(run(inputs, mask))
    for row in (0, 2):
        length = LENGTHS[row]
        alone = np.asarray(run(inputs[row : row + 1, :length], None))
        np.testing.assert_allclose(batched[row, :length], alone[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["gru_bi", "transformer_pre_norm"])
def test_jit_matches_eager(name: str) -> None:
    encoder = ENCODERS[name]()
    encoder.eval()
    inputs, mask = (jnp.asarray(a) for a in _padded_inputs(6, garbage_seed=1))
    eager = encoder(inputs, mask)
    via_nnx_jit = nnx.jit(lambda module, x, m: module(x, m))(encoder, inputs, mask)
    np.testing.assert_allclose(np.asarray(via_nnx_jit), np.asarray(eager), atol=1e-5)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_gradients_are_finite_even_for_an_empty_sequence(name: str) -> None:
    encoder = ENCODERS[name]()
    inputs, mask = _padded_inputs(6, garbage_seed=1)
    mask[0] = False  # A row with no real token at all.

    @nnx.jit
    def loss_and_grads(module: BaseSequenceEncoder) -> tuple[jax.Array, nnx.State]:
        return nnx.value_and_grad(lambda m: jnp.sum(m(jnp.asarray(inputs), jnp.asarray(mask)) ** 2))(module)

    loss, grads = loss_and_grads(encoder)
    leaves = jax.tree_util.tree_leaves(grads)
    assert np.isfinite(float(loss)) and leaves
    assert all(np.all(np.isfinite(np.asarray(leaf))) for leaf in leaves)
    assert any(np.any(np.asarray(leaf) != 0) for leaf in leaves)


@pytest.mark.parametrize("name", ["lstm_bi_2layers_ffn", "transformer"])
def test_dropout_is_active_in_train_mode_and_off_in_eval_mode(name: str) -> None:
    encoder = ENCODERS[name]()
    inputs, mask = (jnp.asarray(a) for a in _padded_inputs(5, garbage_seed=1))
    run = nnx.jit(lambda module, x, m: module(x, m))
    encoder.train()
    first, second = np.asarray(run(encoder, inputs, mask)), np.asarray(run(encoder, inputs, mask))
    assert not np.allclose(first, second)
    encoder.eval()
    first, second = np.asarray(run(encoder, inputs, mask)), np.asarray(run(encoder, inputs, mask))
    np.testing.assert_array_equal(first, second)
    encoder.train()
    forced = nnx.jit(lambda module, x, m: module(x, m, deterministic=True))(encoder, inputs, mask)
    np.testing.assert_allclose(np.asarray(forced), first, atol=1e-6)


def test_pre_norm_and_post_norm_differ_and_activation_is_used() -> None:
    inputs, mask = (jnp.asarray(a) for a in _padded_inputs(5, garbage_seed=1))
    post = TransformerSequenceEncoder(FEATURES, 2, rngs=0)
    pre = TransformerSequenceEncoder(FEATURES, 2, pre_norm=True, rngs=0)
    relu = TransformerSequenceEncoder(FEATURES, 2, activation=jax.nn.relu, rngs=0)
    out_post, out_pre, out_relu = (np.asarray(e(inputs, mask)) for e in (post, pre, relu))
    assert not np.allclose(out_post, out_pre)
    assert not np.allclose(out_post, out_relu)
    # Post-norm ends in a layer norm: every real position has mean ~0 and variance ~1.
    real = out_post[np.asarray(mask)]
    np.testing.assert_allclose(real.mean(axis=-1), 0.0, atol=1e-4)


def test_wrong_input_size_is_reported_with_the_shape() -> None:
    encoder = LSTMSequenceEncoder(FEATURES, rngs=0)
    with pytest.raises(ValueError, match=r"\(batch, seq_len, 8\).*\(2, 3, 5\)"):
        encoder(jnp.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="mask shape"):
        encoder(jnp.zeros((2, 3, FEATURES)), jnp.ones((2, 4), bool))


def test_encoders_build_from_nested_plain_dict_configs() -> None:
    with use_rngs(0):
        transformer = from_config(
            BaseSequenceEncoder,
            {
                "type": "transformer",
                "features": FEATURES,
                "num_heads": 2,
                "num_layers": 2,
                "feedforward_features": 16,
                "activation": "relu",
                "position_encoder": {"type": "sinusoidal", "max_length": 32},
            },
        )
        lstm = from_config(BaseSequenceEncoder, {"type": "lstm", "features": FEATURES, "bidirectional": True})
        gru = from_config(BaseSequenceEncoder, {"type": "gru", "features": FEATURES, "num_layers": 2})
        optimized = from_config(BaseSequenceEncoder, {"type": "optimized_lstm", "features": FEATURES})
        learnable = from_config(BasePositionEncoder, {"type": "learnable", "features": FEATURES, "max_length": 8})
    assert isinstance(transformer, TransformerSequenceEncoder)
    assert isinstance(transformer.position_encoder, SinusoidalPositionEncoder)
    assert transformer.position_encoder.max_length == 32
    assert transformer.layers[0].activation is jax.nn.relu
    assert len(transformer.layers) == 2
    assert isinstance(lstm, LSTMSequenceEncoder) and lstm.bidirectional
    assert isinstance(gru, GRUSequenceEncoder) and len(gru.layers) == 2
    assert isinstance(optimized, OptimizedLSTMSequenceEncoder)
    assert isinstance(learnable, LearnablePositionEncoder)
    inputs, mask = (jnp.asarray(a) for a in _padded_inputs(5, garbage_seed=1))
    for encoder in (transformer, lstm, gru, optimized):
        assert encoder(inputs, mask).shape == (len(LENGTHS), 5, FEATURES)
    with pytest.raises(ConfigurationError, match="type"):
        from_config(BaseSequenceEncoder, {"type": "lstmm", "features": FEATURES})
