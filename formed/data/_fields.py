"""Fields: how one column of the records becomes model input.

A field is built once on the training records (vocabularies, label sets), then frozen; its
`batch` turns a list of records into arrays:

* ``"text"`` → `AnalyzedTextBatch` of ``surfaces`` (word ids ``(B, T)``), optional
  ``characters`` (``(B, T, C)``) and optional ``postags`` (``(B, T)``, from another column);
* ``"label"`` → int32 ``(B,)`` label indices, with `num_labels` and the training `distribution`;
* ``"scalar"`` → float32 ``(B,)``;
* ``"tensor"`` → a stacked array ``(B, *shape)``.

Fields are `Registrable`, so a `DataModule` config names them by ``type``.
"""

from __future__ import annotations

import abc
import collections
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

from formed.core import AnalyzedTextBatch, IDSequenceBatch, Registrable
from formed.data._tokenizer import Tokenizer
from formed.data._vocabulary import BOS_TOKEN, EOS_TOKEN, Vocabulary

Record = dict[str, Any]
_LearnedT = TypeVar("_LearnedT")


class BaseField(Registrable, abc.ABC):
    """Turns one column of records into a batch array (or a pytree of arrays).

    Args:
        column: the record key to read; defaults to the field's name in the `DataModule`.
    """

    #: Whether the field is what a model learns to predict (a label, a target value): records
    #: to predict on lack its column, and `DataModule.batch` then leaves it out of the batch.
    is_target: bool = False

    def __init__(self, column: str | None = None) -> None:
        self.column = column
        self.name = column or "?"

    def bind(self, name: str) -> None:
        """Called by `DataModule` with the field's name (the column unless `column` is set)."""
        self.name = name
        if self.column is None:
            self.column = name

    def values(self, records: Sequence[Record], column: str | None = None) -> list[Any]:
        """The values of `column` (default: this field's column) in every record."""
        column = column or self.column or self.name
        try:
            return [record[column] for record in records]
        except (KeyError, TypeError):
            for index, record in enumerate(records):
                if not isinstance(record, dict) or column not in record:
                    keys = sorted(record) if isinstance(record, dict) else type(record).__name__
                    raise ValueError(
                        f"field {self.name!r}: record {index} has no column {column!r} (it has {keys})"
                    ) from None
            raise

    @property
    def is_built(self) -> bool:
        return True

    def problem(self, record: Any) -> tuple[str, str] | None:
        """Why this field cannot use `record`: ``(column, what is wrong)``, or None.

        The default checks that the column is there; fields add the checks of their values
        (once built, e.g. a label the training data never had). `DataModule.check` runs these
        before training, so a bad row is reported with its file and line instead of failing
        inside a batch.

        >>> LabelField(column="label").problem({"text": "hi"})
        ('label', "has no column 'label' (it has ['text'])")
        """
        column = self.column or self.name
        if not isinstance(record, dict):
            return column, f"is a {type(record).__name__}, not a record (a dict)"
        if column not in record:
            return column, f"has no column {column!r} (it has {sorted(record)})"
        return None

    def build(self, records: Sequence[Record]) -> None:
        """Fits whatever the field learns from the training records (default: nothing)."""

    @abc.abstractmethod
    def batch(self, records: Sequence[Record]) -> Any:
        """The model input of `records`."""

    def config(self) -> dict[str, Any]:
        """The constructor arguments, to rebuild the field with `formed.core.from_config`."""
        return {"column": self.column}

    def data_values(self) -> dict[str, Any]:
        """The sizes the fitted field decides, by name, that a config can take with
        ``"$data.<field>.<name>"`` (see `formed.data.resolve_data_values`); none by default."""
        return {}

    def state(self) -> dict[str, Any]:
        """What `build` learned, JSON-serializable."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restores what `state` returned."""

    def _require_built(self) -> None:
        if not self.is_built:
            raise self._not_built()

    def _built(self, learned: _LearnedT | None) -> _LearnedT:
        """`learned` (something `build` sets), checked to be set."""
        if learned is None:
            raise self._not_built()
        return learned

    def _not_built(self) -> RuntimeError:
        return RuntimeError(f"field {self.name!r} is not built; call DataModule.build(train_records) first")


@BaseField.register("text")
class TextField(BaseField):
    """Text → token ids (and optionally character and part-of-speech ids).

    Args:
        column: the record key holding a str (tokenized here) or a list of tokens.
        lowercase: lower-case tokens.
        max_length: keep the first `max_length` tokens (before the begin/end tokens).
        min_count / max_size: which training tokens enter the vocabulary.
        characters: also produce character ids ``(B, T, C)``.
        max_characters: keep the first `max_characters` characters of each token.
        postags: a record key holding one tag per token (a list, or a white-space separated
            str); its ids come out as ``postags``.
        bos / eos: put begin / end tokens around every text.
    """

    def __init__(
        self,
        column: str | None = None,
        lowercase: bool = False,
        max_length: int | None = None,
        min_count: int = 1,
        max_size: int | None = None,
        characters: bool = False,
        max_characters: int | None = None,
        postags: str | None = None,
        bos: bool = False,
        eos: bool = False,
    ) -> None:
        super().__init__(column)
        self.tokenizer = Tokenizer(lowercase=lowercase, max_length=max_length)
        self.min_count, self.max_size = min_count, max_size
        self.characters, self.max_characters = characters, max_characters
        self.postags, self.bos, self.eos = postags, bos, eos
        self.vocabulary: Vocabulary | None = None
        self.character_vocabulary: Vocabulary | None = None
        self.postag_vocabulary: Vocabulary | None = None

    def problem(self, record: Any) -> tuple[str, str] | None:
        missing = super().problem(record)
        if missing is not None:
            return missing
        for column in (self.column, self.postags):
            if column is None:
                continue
            if column not in record:
                return column, f"has no column {column!r} (it has {sorted(record)})"
            value = record[column]
            if not (isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(t, str) for t in value))):
                return column, f"has {_shown(value)} in column {column!r}; expected a string or a list of strings"
        return None

    def _specials(self) -> dict[str, Any]:
        """The ``bos_token`` / ``eos_token`` keyword arguments of `Vocabulary.build`."""
        return {"bos_token": BOS_TOKEN if self.bos else None, "eos_token": EOS_TOKEN if self.eos else None}

    @property
    def is_built(self) -> bool:
        return self.vocabulary is not None

    @property
    def vocab_size(self) -> int:
        return len(self._built(self.vocabulary))

    @property
    def max_tokens(self) -> int | None:
        """The longest token axis a batch can have (``max_length`` plus begin/end tokens), or
        None when ``max_length`` is not set."""
        if self.tokenizer.max_length is None:
            return None
        return max(1, self.tokenizer.max_length + int(self.bos) + int(self.eos))

    def data_values(self) -> dict[str, Any]:
        """``vocab_size`` (and ``character_vocab_size`` / ``postag_vocab_size`` when the field
        makes them), ``max_tokens`` when ``max_length`` is set."""
        values: dict[str, Any] = {"vocab_size": self.vocab_size}
        if self.character_vocabulary is not None:
            values["character_vocab_size"] = self.character_vocab_size
        if self.postag_vocabulary is not None:
            values["postag_vocab_size"] = self.postag_vocab_size
        if self.max_tokens is not None:
            values["max_tokens"] = self.max_tokens
        return values

    @property
    def character_vocab_size(self) -> int | None:
        return None if self.character_vocabulary is None else len(self.character_vocabulary)

    @property
    def postag_vocab_size(self) -> int | None:
        return None if self.postag_vocabulary is None else len(self.postag_vocabulary)

    def build(self, records: Sequence[Record]) -> None:
        texts = self.values(records)
        specials = self._specials()
        self.vocabulary = Vocabulary.build(
            texts, self.tokenizer, min_count=self.min_count, max_size=self.max_size, **specials
        )
        if self.characters:
            self.character_vocabulary = Vocabulary.build_characters(texts, self.tokenizer, **specials)
        if self.postags is not None:
            self.postag_vocabulary = Vocabulary.build(self._tag_lists(records), **specials)

    def _tag_lists(self, records: Sequence[Record]) -> list[list[str]]:
        return [tags.split() if isinstance(tags, str) else tags for tags in self.values(records, self.postags)]

    def batch(self, records: Sequence[Record]) -> AnalyzedTextBatch:
        vocabulary = self._built(self.vocabulary)
        texts = self.values(records)
        ids, mask = vocabulary.index_batch(texts, self.tokenizer)
        surfaces = IDSequenceBatch(ids, mask)
        characters = postags = None
        if self.character_vocabulary is not None:
            char_ids, char_mask = self.character_vocabulary.index_characters(
                texts, self.tokenizer, max_characters=self.max_characters, bos=self.bos, eos=self.eos
            )
            characters = IDSequenceBatch(char_ids, char_mask)
        if self.postag_vocabulary is not None:
            # Tags are labels: never lower-cased, truncated like the tokens.
            tag_tokenizer = Tokenizer(max_length=self.tokenizer.max_length)
            tag_ids, tag_mask = self.postag_vocabulary.index_batch(self._tag_lists(records), tag_tokenizer)
            token_counts, tag_counts = mask.sum(axis=1), tag_mask.sum(axis=1)
            if not np.array_equal(token_counts, tag_counts):
                row = int(np.flatnonzero(token_counts != tag_counts)[0])
                raise ValueError(
                    f"field {self.name!r}: record {row} has {token_counts[row]} tokens in column "
                    f"{self.column!r} but {tag_counts[row]} tags in column {self.postags!r}"
                )
            postags = IDSequenceBatch(tag_ids, tag_mask)
        return AnalyzedTextBatch(surfaces=surfaces, postags=postags, characters=characters)

    def config(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "lowercase": self.tokenizer.lowercase,
            "max_length": self.tokenizer.max_length,
            "min_count": self.min_count,
            "max_size": self.max_size,
            "characters": self.characters,
            "max_characters": self.max_characters,
            "postags": self.postags,
            "bos": self.bos,
            "eos": self.eos,
        }

    def state(self) -> dict[str, Any]:
        self._require_built()
        vocabularies = {
            "vocabulary": self.vocabulary,
            "character_vocabulary": self.character_vocabulary,
            "postag_vocabulary": self.postag_vocabulary,
        }
        return {key: None if value is None else value.to_json() for key, value in vocabularies.items()}

    def load_state(self, state: dict[str, Any]) -> None:
        def load(key: str) -> Vocabulary | None:
            data = state.get(key)
            return None if data is None else Vocabulary.from_json(data)

        self.vocabulary = load("vocabulary")
        self.character_vocabulary = load("character_vocabulary")
        self.postag_vocabulary = load("postag_vocabulary")


def _shown(value: Any) -> str:
    """A value and its type for an error message, shortened: ``7 (an int)``."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    article = "an" if type(value).__name__[0] in "aeiou" else "a"
    return f"{text} ({article} {type(value).__name__})"


def _label_order(label: Any) -> tuple[str, Any]:
    return (type(label).__name__, label)


@BaseField.register("label")
class LabelField(BaseField):
    """A class label → its index, int32 ``(B,)``.

    Args:
        column: the record key holding the label (str, int or bool).
        labels: the label set in index order; by default the sorted labels of the training
            records.
    """

    is_target = True

    def __init__(self, column: str | None = None, labels: list[Any] | None = None) -> None:
        super().__init__(column)
        self.given_labels = list(labels) if labels is not None else None
        self.labels: list[Any] | None = None
        self.distribution: np.ndarray | None = None  # float32 (num_labels,)
        self._index: dict[Any, int] = {}

    @property
    def is_built(self) -> bool:
        return self.labels is not None

    @property
    def num_labels(self) -> int:
        return len(self._built(self.labels))

    def build(self, records: Sequence[Record]) -> None:
        counts = collections.Counter(self.values(records))
        labels = self.given_labels if self.given_labels is not None else sorted(counts, key=_label_order)
        unknown = set(counts) - set(labels)
        if unknown:
            raise ValueError(f"field {self.name!r}: training labels {sorted(unknown, key=_label_order)} are not in labels={labels}")
        total = max(1, sum(counts.values()))
        self._set(labels, [counts[label] / total for label in labels])

    def _set(self, labels: list[Any], distribution: list[float]) -> None:
        self.labels = list(labels)
        self._index = {label: index for index, label in enumerate(self.labels)}
        self.distribution = np.asarray(distribution, dtype=np.float32)

    def problem(self, record: Any) -> tuple[str, str] | None:
        column = self.column or self.name
        missing = super().problem(record)
        if missing is not None:
            return missing
        value = record[column]
        if not isinstance(value, (str, int, bool)):
            return column, f"has {_shown(value)} in column {column!r}; expected a label (a string, int or bool)"
        if self.labels is not None and value not in self._index:
            shown = self.labels if len(self.labels) <= 20 else [*self.labels[:20], "..."]
            return column, f"has label {value!r} in column {column!r}, which the training data does not have; known labels: {shown}"
        return None

    def label_to_index(self, label: Any) -> int:
        labels = self._built(self.labels)
        try:
            return self._index[label]
        except (KeyError, TypeError):
            shown = labels if len(labels) <= 20 else [*labels[:20], "..."]
            raise ValueError(
                f"field {self.name!r}: label {label!r} in column {self.column!r} was not seen in the "
                f"training data; known labels: {shown}"
            ) from None

    def data_values(self) -> dict[str, Any]:
        """``num_labels``."""
        return {"num_labels": self.num_labels}

    def batch(self, records: Sequence[Record]) -> np.ndarray:
        self._require_built()
        index = self._index
        values = self.values(records)
        try:
            return np.fromiter((index[value] for value in values), dtype=np.int32, count=len(values))
        except (KeyError, TypeError):
            for value in values:
                self.label_to_index(value)
            raise

    def config(self) -> dict[str, Any]:
        return {"column": self.column, "labels": self.given_labels}

    def state(self) -> dict[str, Any]:
        return {"labels": self._built(self.labels), "distribution": self._built(self.distribution).tolist()}

    def load_state(self, state: dict[str, Any]) -> None:
        self._set(state["labels"], state["distribution"])


@BaseField.register("scalar")
class ScalarField(BaseField):
    """A number → float32 ``(B,)`` (or another dtype); a target (e.g. of a regression)."""

    is_target = True

    def __init__(self, column: str | None = None, dtype: str = "float32") -> None:
        super().__init__(column)
        self.dtype = np.dtype(dtype)

    def problem(self, record: Any) -> tuple[str, str] | None:
        column = self.column or self.name
        missing = super().problem(record)
        if missing is not None:
            return missing
        value = record[column]
        if not isinstance(value, (int, float, np.number)) or isinstance(value, bool) or not np.isfinite(value):
            return column, f"has {_shown(value)} in column {column!r}; expected a finite number"
        return None

    def batch(self, records: Sequence[Record]) -> np.ndarray:
        values = self.values(records)
        try:
            return np.asarray(values, dtype=self.dtype).reshape(len(values))
        except (TypeError, ValueError):
            for index, value in enumerate(values):
                if not isinstance(value, (int, float, np.number)) or isinstance(value, bool):
                    raise ValueError(
                        f"field {self.name!r}: record {index} has {value!r} in column {self.column!r}; expected a number"
                    ) from None
            raise

    def config(self) -> dict[str, Any]:
        return {"column": self.column, "dtype": self.dtype.name}


@BaseField.register("tensor")
class TensorField(BaseField):
    """An array (or nested list) of a fixed shape → stacked ``(B, *shape)``."""

    def __init__(self, column: str | None = None, dtype: str = "float32") -> None:
        super().__init__(column)
        self.dtype = np.dtype(dtype)

    def problem(self, record: Any) -> tuple[str, str] | None:
        column = self.column or self.name
        missing = super().problem(record)
        if missing is not None:
            return missing
        try:
            np.asarray(record[column], dtype=self.dtype)
        except (TypeError, ValueError):
            return column, f"has {_shown(record[column])} in column {column!r}; expected an array of {self.dtype.name}"
        return None

    def batch(self, records: Sequence[Record]) -> np.ndarray:
        arrays = [np.asarray(value, dtype=self.dtype) for value in self.values(records)]
        for index, array in enumerate(arrays[1:], start=1):
            if array.shape != arrays[0].shape:
                raise ValueError(
                    f"field {self.name!r}: record {index} has shape {array.shape} in column {self.column!r} "
                    f"but record 0 has {arrays[0].shape}; tensors of a batch must have one shape"
                )
        if not arrays:
            return np.zeros((0,), dtype=self.dtype)
        return np.stack(arrays)

    def config(self) -> dict[str, Any]:
        return {"column": self.column, "dtype": self.dtype.name}
