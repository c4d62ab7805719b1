"""Small models and data for the tests of formed/training (not part of the public API)."""

from __future__ import annotations

from typing import Any, NamedTuple

import equinox as eqx
import jax
import numpy as np
import optax
from flax import nnx


class TinyOutput(NamedTuple):
    loss: jax.Array
    logits: jax.Array
    label: jax.Array


class TinyClassifier(nnx.Module):
    """``x (B, 4) -> 3 classes``, with dropout so that RNG state is part of training."""

    def __init__(self, seed: int = 0, dropout: float = 0.1, hidden: int = 16) -> None:
        rngs = nnx.Rngs(seed)
        self.hidden = nnx.Linear(4, hidden, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)
        self.out = nnx.Linear(hidden, 3, rngs=rngs)

    def __call__(self, inputs: dict[str, Any], params: Any = None) -> TinyOutput:
        logits = self.out(self.dropout(jax.nn.relu(self.hidden(inputs["x"]))))
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, inputs["label"]).mean()
        return TinyOutput(loss=loss, logits=logits, label=logits.argmax(-1))


class TinyEquinoxClassifier(eqx.Module):
    """The Equinox twin of `TinyClassifier`: ``x (B, 4) -> 3 classes``, with dropout."""

    hidden: eqx.nn.Linear
    dropout: eqx.nn.Dropout
    out: eqx.nn.Linear

    def __init__(self, seed: int = 0, dropout: float = 0.1, hidden: int = 16) -> None:
        hidden_key, out_key = jax.random.split(jax.random.key(seed))
        self.hidden = eqx.nn.Linear(4, hidden, key=hidden_key)
        self.dropout = eqx.nn.Dropout(dropout)
        self.out = eqx.nn.Linear(hidden, 3, key=out_key)

    def __call__(self, inputs: dict[str, Any], params: Any = None, *, key: jax.Array | None = None) -> TinyOutput:
        h = jax.nn.relu(jax.vmap(self.hidden)(inputs["x"]))
        logits = jax.vmap(self.out)(self.dropout(h, key=key))
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, inputs["label"]).mean()
        return TinyOutput(loss=loss, logits=logits, label=logits.argmax(-1))


def make_records(n: int = 96, seed: int = 0) -> list[dict[str, Any]]:
    """Records ``{"x": float32 (4,), "label": int}``; the label is learnable from x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.5).astype(np.int32)
    return [{"x": x[i], "label": int(labels[i])} for i in range(n)]


def collate(records: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {
        "x": np.stack([r["x"] for r in records]),
        "label": np.asarray([r["label"] for r in records], dtype=np.int32),
    }


def list_loader(batch_size: int = 16):
    """A plain ``dataset -> list of batches`` function, the simplest data loader."""

    def load(dataset: list[dict[str, Any]]) -> list[dict[str, np.ndarray]]:
        return [collate(dataset[i : i + batch_size]) for i in range(0, len(dataset), batch_size)]

    return load


def params_of(state: Any) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(state.params)]
