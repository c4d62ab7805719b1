"""The registered Equinox ``text_classifier``: the Flax ``text_classifier``'s stages and config
keys, as an Equinox model.

    tokens ─ embedder ─> (B, T, E) ─ [encoder] ─> (B, T, H) ─ vectorizer ─> (B, V)
            ─ [feedforward] ─> (B, F) ─ dropout ─ linear head ─> logits (B, C)

Where one stage's output size differs from the next stage's input size, a linear projection is
inserted, so a config never repeats sizes that follow from each other.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from formed.core import determine_ndim, readable_classification
from formed.equinox._embedders import BaseEmbedder
from formed.equinox._encoders import BaseSequenceEncoder
from formed.equinox._feedforward import FeedForward
from formed.equinox._keys import KeyLike, resolve_key, split_key
from formed.equinox._model import BaseEquinoxModel
from formed.equinox._vectorizers import BaseSequenceVectorizer
from formed.equinox._vectors import over_vectors


class ClassifierOutput(NamedTuple):
    """What `TextClassifier` returns (a pytree).

    Attributes:
        logits: ``(batch, num_classes)``.
        label: predicted class ids ``(batch,)`` int32.
        loss: the mean cross entropy when the inputs carry labels, else ``None``.
    """

    logits: jax.Array
    label: jax.Array
    loss: jax.Array | None = None


@BaseEquinoxModel.register("text_classifier")
class TextClassifier(BaseEquinoxModel[Mapping[str, Any], ClassifierOutput, Any]):
    """Classifies texts: embedder → optional encoder → vectorizer → optional feed-forward → linear.

    Args:
        num_classes: number of labels (the `train` binary fills it from the label field).
        embedder: e.g. ``{"type": "analyzed_text", "surface": {"type": "token", "embedding_dim": 64}}``
            (the `train` binary fills in vocabulary sizes).
        vectorizer: pools the sequence, e.g. ``{"type": "boe", "pooling": ["mean", "max"]}``.
        encoder: contextualises tokens, e.g. ``{"type": "lstm", "features": 64, "bidirectional": True}``.
        feedforward: layers between the pooled vector and the head.
        dropout: dropout rate before the head.
        label_smoothing: smoothing of the cross-entropy targets (0 disables it).
        text_field / label_field: keys of the batch dict.
        key: a PRNG key or int seed; ``None`` draws from the current ``use_rngs`` generator.

    Inputs: a dict with ``inputs[text_field]`` (e.g. an `AnalyzedTextBatch`) and optionally
    ``inputs[label_field]``, int ``(batch,)``.
    """

    embedder: BaseEmbedder
    encoder_projection: eqx.nn.Linear | None
    encoder: BaseSequenceEncoder | None
    vectorizer: BaseSequenceVectorizer
    feedforward_projection: eqx.nn.Linear | None
    feedforward: FeedForward | None
    dropout: eqx.nn.Dropout
    head: eqx.nn.Linear
    num_classes: int = eqx.field(static=True)
    label_smoothing: float = eqx.field(static=True)
    text_field: str = eqx.field(static=True)
    label_field: str = eqx.field(static=True)

    def __init__(
        self,
        num_classes: int,
        embedder: BaseEmbedder,
        vectorizer: BaseSequenceVectorizer,
        encoder: BaseSequenceEncoder | None = None,
        feedforward: FeedForward | None = None,
        dropout: float = 0.0,
        label_smoothing: float = 0.0,
        text_field: str = "text",
        label_field: str = "label",
        *,
        key: KeyLike | None = None,
    ) -> None:
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        encoder_key, feedforward_key, head_key = jax.random.split(resolve_key(key), 3)
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.text_field = text_field
        self.label_field = label_field
        self.embedder = embedder
        size = embedder.get_output_dim()
        self.encoder_projection = self.feedforward_projection = None
        if encoder is not None:
            expected = encoder.get_input_dim()
            if expected is not None and expected != size:
                self.encoder_projection = eqx.nn.Linear(size, expected, key=encoder_key)
                size = expected
            size = determine_ndim(size, encoder.get_output_dim())
        size = determine_ndim(size, vectorizer.get_output_dim())
        if feedforward is not None:
            if feedforward.get_input_dim() != size:
                self.feedforward_projection = eqx.nn.Linear(size, feedforward.get_input_dim(), key=feedforward_key)
            size = feedforward.get_output_dim()
        self.encoder = encoder
        self.vectorizer = vectorizer
        self.feedforward = feedforward
        self.dropout = eqx.nn.Dropout(dropout)
        self.head = eqx.nn.Linear(size, num_classes, key=head_key)

    def __call__(
        self, inputs: Mapping[str, Any], params: Any = None, *, key: jax.Array | None = None
    ) -> ClassifierOutput:
        if self.text_field not in inputs:
            raise KeyError(f"TextClassifier reads inputs[{self.text_field!r}], but the batch has keys {sorted(inputs)}")
        encoder_key, feedforward_key, dropout_key = split_key(key, 3)
        embedded = self.embedder(inputs[self.text_field])
        h, mask = embedded.embeddings, embedded.mask
        if self.encoder is not None:
            if self.encoder_projection is not None:
                h = over_vectors(self.encoder_projection, h)
            h = self.encoder(h, mask, key=encoder_key)
        h = self.vectorizer(h, mask)
        if self.feedforward is not None:
            if self.feedforward_projection is not None:
                h = over_vectors(self.feedforward_projection, h)
            h = self.feedforward(h, key=feedforward_key)
        logits = over_vectors(self.head, self.dropout(h, key=dropout_key))
        label = jnp.argmax(logits, axis=-1).astype(jnp.int32)
        labels = inputs.get(self.label_field)
        loss = None
        if labels is not None:
            targets = optax.smooth_labels(jax.nn.one_hot(jnp.asarray(labels), self.num_classes), self.label_smoothing)
            loss = optax.softmax_cross_entropy(logits, targets).mean()
        return ClassifierOutput(logits=logits, label=label, loss=loss)

    def readable_output(self, output: ClassifierOutput, datamodule: Any = None) -> list[dict[str, Any]]:
        """Per record: the predicted ``label`` and the ``probabilities`` of every label, by name
        (the label field's names when `datamodule` is given, else the class ids)."""
        return readable_classification(output.logits, output.label, datamodule, self.label_field, self.num_classes)
