"""`Tokenizer`: splits text on Unicode white space and puts punctuation in tokens of its own.

A token is one punctuation or symbol character (Unicode categories ``P*`` and ``S*``, so ``$``,
``+`` and emoji too), or a run of other non-space characters; combining marks stay with their
word. See `formed.data._text_reference` for the exact rules that the compiled extension and
its Python twin share.

    >>> Tokenizer(lowercase=True)("Hello, World!")
    ['hello', ',', 'world', '!']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from formed.data._backend import backend

# A batch item: a text to tokenize, or tokens already split (still lower-cased and truncated).
TextOrTokens = str | Sequence[str]


@dataclasses.dataclass(frozen=True)
class Tokenizer:
    """Splits texts into tokens.

    Args:
        lowercase: lower-case every character (one code point at a time, no context rules).
        max_length: keep only the first `max_length` tokens of each text; ``None`` keeps all.
    """

    lowercase: bool = False
    max_length: int | None = None

    def __post_init__(self) -> None:
        if self.max_length is not None and self.max_length < 0:
            raise ValueError(f"max_length must be >= 0 or None, got {self.max_length}")

    def __call__(self, text: str) -> list[str]:
        """The tokens of one text."""
        return backend.tokenize(text, self.lowercase, self.max_length)

    def count(self, items: Sequence[TextOrTokens]) -> dict[str, int]:
        """``{token: occurrences}`` over all items, ignoring `max_length`."""
        return backend.count_tokens(_as_list(items), self.lowercase)

    def count_characters(self, items: Sequence[TextOrTokens]) -> dict[str, int]:
        """``{character: occurrences}`` over the tokens of all items, ignoring `max_length`."""
        return backend.count_characters(_as_list(items), self.lowercase)


def _as_list(items: Sequence[TextOrTokens]) -> list[TextOrTokens] | tuple[TextOrTokens, ...]:
    """The backends take lists or tuples (read without copying); other sequences are copied."""
    if isinstance(items, (list, tuple)):
        return items
    if isinstance(items, str):
        raise TypeError("expected a list of texts or of token lists, got a single str")
    return list(items)
