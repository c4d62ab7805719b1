"""Test utilities: small models and data for tests of training code, and a real TensorBoard
server to read a run's curves back (`TensorBoardServer`)."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import equinox as eqx
import jax
import numpy as np
import optax
from flax import nnx

from formed.training._tensorboard_server import TensorBoardServer  # noqa: F401  (re-exported for tests)


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


def train_tiny(model: Any, engine: Any, distributor: Any, batch_size: int = 16, epochs: int = 3) -> tuple[Any, Any]:
    """``(trainer, final state)`` of `model` trained with `engine` and `distributor` on
    ``make_records(96)`` (validated on 32 records), `epochs` epochs of `batch_size`."""
    from formed.training._trainer import FlaxTrainer

    trainer: FlaxTrainer = FlaxTrainer(
        train_dataloader=list_loader(batch_size),
        val_dataloader=list_loader(32),
        engine=engine,
        distributor=distributor,
        max_epochs=epochs,
        progress=False,
    )
    return trainer, trainer.train(model, make_records(96), make_records(32))


def assert_same_params(expected: Any, actual: Any, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """The parameters of two train states agree leaf by leaf, shapes included (a state still
    replicated over devices would carry a device axis)."""
    for a, b in zip(params_of(expected), params_of(actual), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


TINY_RUN_SIZES = dict(seed=0, train_size=128, validation_size=32, test_size=48)


def tiny_run_config(recipe: Any) -> dict[str, Any]:
    """A shipped recipe's ``get_config()`` (`formed.training.configs`) shrunk to a run of seconds:
    `TINY_RUN_SIZES` of the built-in dataset, 8 features, 2 epochs, and only the evaluation,
    checkpoint and early stopping callbacks."""
    config = recipe.get_config().to_dict()
    config["dataset"].update(TINY_RUN_SIZES)
    config["datamodule"]["fields"]["text"]["max_length"] = 12
    config["model"]["embedder"]["surface"]["embedding_dim"] = 8
    config["model"]["encoder"]["features"] = 8
    config["trainer"].update(max_epochs=2, progress=False, logging_interval=4)
    config["trainer"]["callbacks"] = [
        c for c in config["trainer"]["callbacks"] if c["type"] in ("evaluation", "checkpoint", "early_stopping")
    ]
    return config


def train_tiny_run(config: dict[str, Any], workdir: str) -> dict[str, Any]:
    """Trains `config` in `workdir` (in this process); ``{"workdir", "metrics", "test", "root"}``
    with the final metrics and the test split of `TINY_RUN_SIZES`."""
    from formed.data import SpatialRelationsDataset
    from formed.training._run import run

    metrics = run(config, workdir)
    splits = SpatialRelationsDataset(**TINY_RUN_SIZES).load()
    return {"workdir": workdir, "metrics": metrics, "test": splits["test"], "root": os.path.dirname(workdir)}
