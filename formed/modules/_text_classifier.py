"""The registered ``text_classifier`` model: text in, class label out.

    tokens ─ embedder ─> (B, T, E) ─ [encoder] ─> (B, T, H) ─ vectorizer ─> (B, V)
            ─ [feedforward] ─> (B, F) ─ dropout ─ linear head ─> logits (B, C)

Each stage is a registered layer chosen in the config. Where one stage's output size differs
from the next stage's input size (e.g. 64-d embeddings into a 128-d LSTM), a linear projection
is inserted, so a config never has to repeat sizes that follow from each other.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from formed.core import RngsLike, determine_ndim, readable_classification, resolve_rngs
from formed.modules._embedders import BaseEmbedder
from formed.modules._feedforward import FeedForward
from formed.modules._losses import BaseClassificationLoss, CrossEntropyLoss
from formed.modules._model import BaseFlaxModel
from formed.modules._samplers import ArgmaxLabelSampler, BaseLabelSampler
from formed.modules._sequence_encoder import BaseSequenceEncoder
from formed.modules._vectorizers import BaseSequenceVectorizer


class ClassifierOutput(NamedTuple):
    """What `TextClassifier` returns (a pytree).

    Attributes:
        logits: ``(batch, num_classes)``.
        label: predicted class ids ``(batch,)`` int32.
        loss: the scalar loss when the inputs carry labels, else ``None``.
    """

    logits: jax.Array
    label: jax.Array
    loss: jax.Array | None = None


@BaseFlaxModel.register("text_classifier")
class TextClassifier(BaseFlaxModel[Mapping[str, Any], ClassifierOutput, Any]):
    """Classifies texts: embedder → optional encoder → vectorizer → optional feed-forward → linear.

    Args:
        num_classes: number of labels; in a config, ``"$data.label.num_labels"`` takes it from
            the fitted label field (see `formed.data.resolve_data_values`).
        embedder: e.g. ``{"type": "analyzed_text", "surface": {"type": "token", "embedding_dim": 64,
            "vocab_size": "$data.text.vocab_size"}}``.
        vectorizer: pools the sequence, e.g. ``{"type": "boe", "pooling": ["mean", "max"]}``.
        encoder: contextualises tokens, e.g. ``{"type": "lstm", "features": 64, "bidirectional": True}``.
        feedforward: layers between the pooled vector and the head.
        dropout: dropout rate before the head.
        loss: ``CrossEntropyLoss()`` by default.
        sampler: turns logits into labels; ``ArgmaxLabelSampler()`` by default.
        text_field / label_field: keys of the batch dict.
        rngs: an int seed, an `nnx.Rngs`, or ``None`` for the current `use_rngs` generator.

    Inputs: a dict with ``inputs[text_field]`` (what the embedder reads, e.g. an
    `AnalyzedTextBatch`) and optionally ``inputs[label_field]``, int ``(batch,)``.
    """

    def __init__(
        self,
        num_classes: int,
        embedder: BaseEmbedder,
        vectorizer: BaseSequenceVectorizer,
        encoder: BaseSequenceEncoder | None = None,
        feedforward: FeedForward | None = None,
        dropout: float = 0.0,
        loss: BaseClassificationLoss | None = None,
        sampler: BaseLabelSampler | None = None,
        text_field: str = "text",
        label_field: str = "label",
        rngs: RngsLike | None = None,
    ) -> None:
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        rngs = resolve_rngs(rngs)
        self.num_classes = num_classes
        self.text_field = text_field
        self.label_field = label_field
        self.embedder = embedder
        size = embedder.get_output_dim()
        encoder_projection = feedforward_projection = None
        if encoder is not None:
            expected = encoder.get_input_dim()
            if expected is not None and expected != size:
                encoder_projection = nnx.Linear(size, expected, rngs=rngs)
                size = expected
            size = determine_ndim(size, encoder.get_output_dim())
        size = determine_ndim(size, vectorizer.get_output_dim())
        if feedforward is not None:
            if feedforward.get_input_dim() != size:
                feedforward_projection = nnx.Linear(size, feedforward.get_input_dim(), rngs=rngs)
            size = feedforward.get_output_dim()
        # nnx fixes an attribute as data or static at its first assignment: assign each once.
        self.encoder_projection = nnx.data(encoder_projection)
        self.encoder = encoder
        self.vectorizer = vectorizer
        self.feedforward_projection = nnx.data(feedforward_projection)
        self.feedforward = feedforward
        self.dropout = nnx.Dropout(dropout, rngs=rngs)
        self.head = nnx.Linear(size, num_classes, rngs=rngs)
        self.loss = loss if loss is not None else CrossEntropyLoss()
        self.sampler = sampler if sampler is not None else ArgmaxLabelSampler()

    def __call__(self, inputs: Mapping[str, Any], params: Any = None) -> ClassifierOutput:
        if self.text_field not in inputs:
            raise KeyError(f"TextClassifier reads inputs[{self.text_field!r}], but the batch has keys {sorted(inputs)}")
        embedded = self.embedder(inputs[self.text_field])
        h, mask = embedded.embeddings, embedded.mask
        if self.encoder is not None:
            if self.encoder_projection is not None:
                h = self.encoder_projection(h)
            h = self.encoder(h, mask)
        h = self.vectorizer(h, mask=mask)
        if self.feedforward is not None:
            if self.feedforward_projection is not None:
                h = self.feedforward_projection(h)
            h = self.feedforward(h)
        # float32 logits: under a mixed-precision policy the loss and its softmax stay accurate.
        logits = self.head(self.dropout(h)).astype(jnp.float32)
        label = self.sampler(logits, params)
        labels = inputs.get(self.label_field)
        loss = None if labels is None else self.loss(logits, jnp.asarray(labels), params)
        return ClassifierOutput(logits=logits, label=label, loss=loss)

    def readable_output(self, output: ClassifierOutput, datamodule: Any = None) -> list[dict[str, Any]]:
        """Per record: the predicted ``label`` and the ``probabilities`` of every label, by name
        (the label field's names when `datamodule` is given, else the class ids).

        >>> import numpy as np
        >>> from formed.modules import AnalyzedTextEmbedder, BagOfEmbeddingsSequenceVectorizer, TokenEmbedder
        >>> model = TextClassifier(
        ...     num_classes=2, embedder=AnalyzedTextEmbedder(surface=TokenEmbedder(10, 4, rngs=0)),
        ...     vectorizer=BagOfEmbeddingsSequenceVectorizer(), rngs=0,
        ... )
        >>> output = ClassifierOutput(logits=np.array([[0.0, 0.0], [0.0, np.log(3.0)]]), label=np.array([0, 1]), loss=None)
        >>> model.readable_output(output)[0]  # with a datamodule: {'label': 'blue', ...}
        {'label': 0, 'probabilities': {0: 0.5, 1: 0.5}}
        """
        return readable_classification(output.logits, output.label, datamodule, self.label_field, self.num_classes)
