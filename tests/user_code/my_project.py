"""A user's own model and callback, defined outside `formed/` and registered here: the `train`,
`evaluate`, `predict` and `export` binaries find them through ``--import`` of this file."""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from formed.core import resolve_rngs
from formed.modules import BaseFlaxModel
from formed.training import FlaxTrainingCallback


class BagOutput(NamedTuple):
    logits: jax.Array
    label: jax.Array
    loss: jax.Array | None = None


@BaseFlaxModel.register("my_project::bag_of_words")
class BagOfWords(BaseFlaxModel[Mapping[str, Any], BagOutput, None]):
    """Mean word embedding -> linear layer: (B, T) ids -> (B, C) logits."""

    def __init__(self, vocab_size: int, num_classes: int, features: int = 8, rngs: nnx.Rngs | None = None) -> None:
        rngs = resolve_rngs(rngs)
        self.embedding = nnx.Embed(vocab_size, features, rngs=rngs)
        self.head = nnx.Linear(features, num_classes, rngs=rngs)

    def __call__(self, inputs: Mapping[str, Any], params: None = None) -> BagOutput:
        surfaces = inputs["text"].surfaces
        mask = jnp.asarray(surfaces.mask, jnp.float32)[..., None]
        pooled = (self.embedding(jnp.asarray(surfaces.ids)) * mask).sum(1) / jnp.maximum(mask.sum(1), 1.0)
        logits = self.head(pooled)
        labels = inputs.get("label")
        loss = None if labels is None else optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return BagOutput(logits=logits, label=jnp.argmax(logits, -1), loss=loss)

    def readable_output(self, output: BagOutput, datamodule: Any = None) -> list[dict[str, Any]]:
        labels = datamodule.fields["label"].labels
        return [{"colour": labels[int(i)], "score": float(row.max())} for i, row in zip(output.label, output.logits)]


@FlaxTrainingCallback.register("my_project::epoch_log")
class EpochLog(FlaxTrainingCallback):
    """Appends ``{"epoch": n, "step": s}`` to ``<workdir>/epochs.jsonl`` after every epoch."""

    def __init__(self, filename: str = "epochs.jsonl") -> None:
        self.filename = filename
        self.directory: str | None = None

    def set_workdir(self, workdir: str) -> None:
        self.directory = workdir

    def on_epoch_end(self, trainer: Any, model: Any, state: Any, epoch: int) -> None:
        with open(os.path.join(self.directory or ".", self.filename), "a", encoding="utf-8") as file:
            file.write(json.dumps({"epoch": epoch, "step": trainer.global_step}) + "\n")
