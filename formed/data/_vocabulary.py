"""`Vocabulary`: a frozen token ↔ id map that indexes whole batches into padded arrays.

Ids are stable: the special tokens first (padding is always id 0, then unknown, then the
optional begin and end tokens), then the counted tokens by decreasing count, ties broken by the
token's code points. Batches are indexed by the compiled extension (or its Python twin)::

    vocab = Vocabulary.build(["the cat sat", "the dog"], Tokenizer())
    ids, mask = vocab.index_batch(["the cat", "a dog sat"])   # int32 (2, 3), bool (2, 3)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from formed.data._backend import backend
from formed.data._tokenizer import _as_list, TextOrTokens, Tokenizer

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
BOS_TOKEN = "<bos>"
EOS_TOKEN = "<eos>"


class Vocabulary:
    """Tokens and their ids; frozen once made.

    Args:
        tokens: the ordinary tokens in id order (after the special ones); repeats and tokens
            equal to a special token are skipped.
        pad_token: id 0, the padding of every batch.
        unk_token: id 1, the id of any token not in the vocabulary.
        bos_token / eos_token: if given, the ids put before / after every indexed sequence.
    """

    def __init__(
        self,
        tokens: Iterable[str] = (),
        *,
        pad_token: str = PAD_TOKEN,
        unk_token: str = UNK_TOKEN,
        bos_token: str | None = None,
        eos_token: str | None = None,
    ) -> None:
        specials = [pad_token, unk_token] + [t for t in (bos_token, eos_token) if t is not None]
        if len(set(specials)) != len(specials):
            raise ValueError(f"special tokens must be distinct, got {specials}")
        self.pad_token, self.unk_token = pad_token, unk_token
        self.bos_token, self.eos_token = bos_token, eos_token
        special_set = set(specials)
        ordinary = list(dict.fromkeys(token for token in tokens if token not in special_set))
        for token in ordinary:
            if not isinstance(token, str):
                raise TypeError(f"vocabulary tokens must be str, got {type(token).__name__} {token!r}")
        self._tokens: list[str] = specials + ordinary
        self._ids: dict[str, int] = dict(zip(self._tokens, range(len(self._tokens))))
        self._index = backend.TokenIndex(self._tokens, self.unk_id)

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def from_counts(
        cls, counts: Mapping[str, int], *, min_count: int = 1, max_size: int | None = None, **specials: Any
    ) -> Vocabulary:
        """The tokens seen at least `min_count` times, most frequent first, at most `max_size`
        of them besides the special tokens."""
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size must be >= 0 or None, got {max_size}")
        # Two stable sorts in C: by token, then by decreasing count (ties keep the token order).
        kept = sorted(token for token, count in counts.items() if count >= min_count)
        kept.sort(key=counts.__getitem__, reverse=True)
        if max_size is not None:
            excluded = {specials.get("pad_token", PAD_TOKEN), specials.get("unk_token", UNK_TOKEN)}
            excluded |= {specials.get("bos_token"), specials.get("eos_token")}
            kept = [token for token in kept if token not in excluded][:max_size]
        return cls(kept, **specials)

    @classmethod
    def build(
        cls,
        items: Sequence[TextOrTokens],
        tokenizer: Tokenizer | None = None,
        *,
        min_count: int = 1,
        max_size: int | None = None,
        **specials: Any,
    ) -> Vocabulary:
        """Counts the tokens of `items` (texts or token lists) and keeps them as `from_counts`."""
        counts = (tokenizer or Tokenizer()).count(items)
        return cls.from_counts(counts, min_count=min_count, max_size=max_size, **specials)

    @classmethod
    def build_characters(
        cls,
        items: Sequence[TextOrTokens],
        tokenizer: Tokenizer | None = None,
        *,
        min_count: int = 1,
        max_size: int | None = None,
        **specials: Any,
    ) -> Vocabulary:
        """A vocabulary of the characters (code points) of the tokens of `items`."""
        counts = (tokenizer or Tokenizer()).count_characters(items)
        return cls.from_counts(counts, min_count=min_count, max_size=max_size, **specials)

    # -- lookups ----------------------------------------------------------------------------

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    @property
    def bos_id(self) -> int | None:
        return None if self.bos_token is None else self._ids[self.bos_token]

    @property
    def eos_id(self) -> int | None:
        return None if self.eos_token is None else self._ids[self.eos_token]

    @property
    def tokens(self) -> list[str]:
        """Every token, in id order (a copy)."""
        return list(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, first={self._tokens[:6]!r})"

    def token_to_id(self, token: str) -> int:
        """The id of `token`, or `unk_id`."""
        return self._ids.get(token, 1)

    def id_to_token(self, index: int) -> str:
        """The token of id `index`."""
        if not 0 <= index < len(self._tokens):
            raise IndexError(f"id {index} is outside the vocabulary of {len(self._tokens)} tokens")
        return self._tokens[index]

    # -- batches ----------------------------------------------------------------------------

    def index_batch(
        self, items: Sequence[TextOrTokens], tokenizer: Tokenizer | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of each item, padded with `pad_id` to the longest.

        Returns:
            ``ids`` int32 ``(B, T)`` and ``mask`` bool ``(B, T)`` (true at real tokens), with
            ``T = max(1, longest item)`` counting the begin/end tokens.
        """
        tokenizer = tokenizer or Tokenizer()
        return self._index.index_batch(
            _as_list(items), tokenizer.lowercase, tokenizer.max_length, _or_minus(self.bos_id), _or_minus(self.eos_id)
        )

    def index_characters(
        self,
        items: Sequence[TextOrTokens],
        tokenizer: Tokenizer | None = None,
        *,
        max_characters: int | None = None,
        bos: bool = False,
        eos: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Character ids of each token, for a vocabulary of characters.

        `bos` / `eos` add a position holding this vocabulary's begin / end id, so that positions
        line up with a word vocabulary that has begin / end tokens.

        Returns:
            ``ids`` int32 ``(B, T, C)`` and ``mask`` bool ``(B, T, C)``.
        """
        tokenizer = tokenizer or Tokenizer()
        if (bos and self.bos_id is None) or (eos and self.eos_id is None):
            raise ValueError("this character vocabulary has no begin/end token; build it with bos_token/eos_token")
        return self._index.index_characters(
            _as_list(items),
            tokenizer.lowercase,
            tokenizer.max_length,
            max_characters,
            self.bos_id if bos else -1,
            self.eos_id if eos else -1,
        )

    # -- persistence ------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """A JSON-serializable description from which `from_json` rebuilds this vocabulary."""
        return {
            "pad_token": self.pad_token,
            "unk_token": self.unk_token,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
            "tokens": self._tokens[len(self._specials()) :],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Vocabulary:
        try:
            return cls(
                data["tokens"],
                pad_token=data["pad_token"],
                unk_token=data["unk_token"],
                bos_token=data.get("bos_token"),
                eos_token=data.get("eos_token"),
            )
        except KeyError as error:
            raise ValueError(f"vocabulary JSON lacks the key {error}") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the vocabulary as JSON (UTF-8; lone surrogates are kept as escapes)."""
        with open(path, "w", encoding="utf-8") as file:
            json.dump(self.to_json(), file, ensure_ascii=True)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocabulary:
        """Reads a vocabulary written by `save`."""
        with open(path, encoding="utf-8") as file:
            try:
                data = json.load(file)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{error.lineno}:{error.colno}: invalid vocabulary JSON: {error.msg}") from None
        return cls.from_json(data)

    def _specials(self) -> list[str]:
        return [self.pad_token, self.unk_token] + [t for t in (self.bos_token, self.eos_token) if t is not None]


def _or_minus(index: int | None) -> int:
    return -1 if index is None else index
