"""The pure-Python text backend: the reference that defines what the C++ extension must do.

`_text_native.cc` implements exactly this API; `_text_equivalence_test.py` checks that both
give identical results on random Unicode. Everything public here is a backend primitive; users
go through `formed.data.Tokenizer` and `formed.data.Vocabulary`.

Rules (see `_unicode_tables` for the character classes):

* A token is one punctuation/symbol code point, or a maximal run of word code points; white
  space separates tokens and is dropped.
* ``lowercase`` maps every code point through the table of `_unicode_tables.lower_map`.
* ``max_length`` keeps the first ``max_length`` tokens of each text (``None``: all of them).
* An item of a batch is a ``str`` (tokenized) or a list/tuple of ``str`` (tokens taken as they
  are, still lower-cased and truncated).
* Lone surrogates (possible in a Python ``str``) are ordinary word code points.
* Padded arrays are at least one position (and one character) wide, so that every batch has a
  usable shape even when all texts are empty; the mask says which positions are real.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from formed.data import _unicode_tables

IMPLEMENTATION = "python"


@functools.cache
def _token_regex() -> re.Pattern[str]:
    return re.compile(_unicode_tables.token_pattern())


def char_class(code_point: int) -> int:
    """The class of one code point: 0 word, 1 space, 2 punctuation or symbol."""
    return _unicode_tables.char_class(code_point)


def lower_code_point(code_point: int) -> str:
    """What lower-casing makes of one code point."""
    return _unicode_tables.lower_map().get(code_point, chr(code_point))


def _lower(text: str) -> str:
    return text.translate(_unicode_tables.lower_translation())


def tokenize(text: str, lowercase: bool = False, max_length: int | None = None) -> list[str]:
    """Splits `text` into tokens (see the module docstring for the rules)."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    if lowercase:
        text = _lower(text)
    tokens = _token_regex().findall(text)
    if max_length is not None:
        _check_max_length(max_length)
        del tokens[max_length:]
    return tokens


def _check_max_length(max_length: int) -> None:
    if max_length < 0:
        raise ValueError(f"max_length must be >= 0 or None, got {max_length}")


def _item_tokens(item: Any, position: int, lowercase: bool, max_length: int | None) -> list[str]:
    if isinstance(item, str):
        return tokenize(item, lowercase, max_length)
    if isinstance(item, (list, tuple)):
        for token in item:
            if not isinstance(token, str):
                raise TypeError(
                    f"item {position} of the batch: tokens must be str, got {type(token).__name__}"
                )
        tokens = [_lower(token) for token in item] if lowercase else list(item)
        if max_length is not None:
            _check_max_length(max_length)
            del tokens[max_length:]
        return tokens
    raise TypeError(
        f"item {position} of the batch is {type(item).__name__}; expected str or a list of str tokens"
    )


def _items(items: Sequence[Any]) -> list[Any]:
    if isinstance(items, str) or not isinstance(items, (list, tuple)):
        raise TypeError(f"expected a list of texts or of token lists, got {type(items).__name__}")
    return list(items)


def count_tokens(items: Sequence[Any], lowercase: bool = False) -> dict[str, int]:
    """``{token: occurrences}`` over all items (no truncation)."""
    counts: dict[str, int] = {}
    for position, item in enumerate(_items(items)):
        for token in _item_tokens(item, position, lowercase, None):
            counts[token] = counts.get(token, 0) + 1
    return counts


def count_characters(items: Sequence[Any], lowercase: bool = False) -> dict[str, int]:
    """``{code point as str: occurrences}`` over the tokens of all items (no truncation)."""
    counts: dict[str, int] = {}
    for position, item in enumerate(_items(items)):
        for token in _item_tokens(item, position, lowercase, None):
            for character in token:
                counts[character] = counts.get(character, 0) + 1
    return counts


class TokenIndex:
    """A frozen token → id map; unknown tokens get `unknown_id`.

    Args:
        tokens: the token of each id, in id order; if a token repeats, its first id wins.
        unknown_id: the id of tokens that are not in `tokens`.
    """

    def __init__(self, tokens: Sequence[str], unknown_id: int) -> None:
        self._ids: dict[str, int] = {}
        for index, token in enumerate(tokens):
            if not isinstance(token, str):
                raise TypeError(f"token {index} is {type(token).__name__}; expected str")
            self._ids.setdefault(token, index)
        self.unknown_id = int(unknown_id)

    def __len__(self) -> int:
        return len(self._ids)

    def lookup(self, token: str) -> int:
        """The id of `token`, or `unknown_id`."""
        if not isinstance(token, str):
            raise TypeError(f"expected str, got {type(token).__name__}")
        return self._ids.get(token, self.unknown_id)

    def index_batch(
        self,
        items: Sequence[Any],
        lowercase: bool = False,
        max_length: int | None = None,
        bos_id: int = -1,
        eos_id: int = -1,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of a batch, padded with 0 to the longest item.

        ``bos_id`` / ``eos_id`` (when >= 0) are put before / after each item's tokens.

        Returns:
            ``ids`` int32 ``(B, T)`` and ``mask`` bool ``(B, T)``, ``T = max(1, longest)``.
        """
        if max_length is not None:
            _check_max_length(max_length)
        rows = []
        get, unknown = self._ids.get, self.unknown_id
        for position, item in enumerate(_items(items)):
            row = [get(token, unknown) for token in _item_tokens(item, position, lowercase, max_length)]
            if bos_id >= 0:
                row.insert(0, bos_id)
            if eos_id >= 0:
                row.append(eos_id)
            rows.append(row)
        width = max([1, *map(len, rows)])
        ids = np.zeros((len(rows), width), dtype=np.int32)
        mask = np.zeros((len(rows), width), dtype=bool)
        for index, row in enumerate(rows):
            ids[index, : len(row)] = row
            mask[index, : len(row)] = True
        return ids, mask

    def index_characters(
        self,
        items: Sequence[Any],
        lowercase: bool = False,
        max_length: int | None = None,
        max_characters: int | None = None,
        bos_id: int = -1,
        eos_id: int = -1,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Character ids of each token of a batch; this index maps single code points.

        The tokens are those of `index_batch` with the same arguments; each keeps its first
        ``max_characters`` code points. ``bos_id`` / ``eos_id`` (when >= 0) add a position
        before / after the tokens holding that one character id, so that positions line up with
        the word ids of a vocabulary that has begin/end tokens.

        Returns:
            ``ids`` int32 ``(B, T, C)`` and ``mask`` bool ``(B, T, C)``, with
            ``T = max(1, most tokens)`` and ``C = max(1, longest kept token)``.
        """
        if max_length is not None:
            _check_max_length(max_length)
        if max_characters is not None and max_characters < 0:
            raise ValueError(f"max_characters must be >= 0 or None, got {max_characters}")
        rows = []
        get, unknown = self._ids.get, self.unknown_id
        for position, item in enumerate(_items(items)):
            row = [
                [get(character, unknown) for character in token[:max_characters]]
                for token in _item_tokens(item, position, lowercase, max_length)
            ]
            if bos_id >= 0:
                row.insert(0, [bos_id])
            if eos_id >= 0:
                row.append([eos_id])
            rows.append(row)
        width = max([1, *map(len, rows)])
        depth = max([1, *(len(token) for row in rows for token in row)])
        ids = np.zeros((len(rows), width, depth), dtype=np.int32)
        mask = np.zeros((len(rows), width, depth), dtype=bool)
        for index, row in enumerate(rows):
            for slot, token in enumerate(row):
                ids[index, slot, : len(token)] = token
                mask[index, slot, : len(token)] = True
        return ids, mask
