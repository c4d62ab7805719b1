"""Benchmark: building a vocabulary and indexing a Zipf corpus, three ways, in one process.

    bazel run //formed/data:bench                      # 5M tokens (the figures of the issue)
    bazel run //formed/data:bench -- --tokens=200000   # a quick run

The ways compared:

* ``extension``: `formed.data.Vocabulary` on the compiled backend (the public API);
* ``reference``: the pure-Python twin `formed.data._text_reference` (same output);
* ``baseline``: idiomatic Python: one regular expression ``findall`` per lowered line, a dict
  lookup per token, numpy padding; vocabulary building with `collections.Counter`.

Indexing goes through batches of 32 lines, each padded to its longest line. Lines mix lengths,
punctuation and capitals; on this corpus all three ways produce the same tokens, which the
benchmark checks before it reports. It runs on one thread.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from absl import app, flags

from formed.data import _backend, _text_reference
from formed.data._tokenizer import Tokenizer
from formed.data._vocabulary import Vocabulary

_TOKENS = flags.DEFINE_integer("tokens", 5_000_000, "Approximate number of tokens in the corpus.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 32, "Lines per batch.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the generated corpus.")
_REPEATS = flags.DEFINE_integer(
    "repeats", 3, "Runs of the extension and the baseline (the fastest counts); the slow reference runs once."
)

_BASELINE_PATTERN = re.compile(r"\w+|[^\w\s]")


def make_corpus(num_tokens: int, seed: int = 0, word_types: int = 50_000) -> list[str]:
    """Lines of Zipf-distributed words (exponent 1.1) of 1 to 60 words, with capitals,
    punctuation attached to words, and now and then a quoted or bracketed word."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 12, size=word_types)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    words = [bytes(letters[rng.integers(0, 26, size=n)]).decode() for n in lengths]
    probabilities = 1.0 / np.arange(1, word_types + 1) ** 1.1
    probabilities /= probabilities.sum()
    # About 1.12 tokens per word (a little more than asked is fine) once punctuation is counted.
    indices = rng.choice(word_types, size=int(num_tokens / 1.1) + 1, p=probabilities)
    decorations = rng.random(len(indices))
    tails = [",", ".", "?", "!", ";", ":"]
    pieces = []
    for index, word, roll in zip(range(len(indices)), (words[i] for i in indices), decorations):
        if roll < 0.05:
            word = word.capitalize()
        elif roll < 0.06:
            word = word.upper()
        if roll > 0.9:
            word += tails[index % len(tails)]
        elif roll > 0.89:
            word = f'"{word}"' if index % 2 else f"({word})"
        pieces.append(word)
    lines, start = [], 0
    line_lengths = rng.integers(1, 61, size=len(pieces))
    for length in line_lengths:
        if start >= len(pieces):
            break
        lines.append(" ".join(pieces[start : start + length]))
        start += length
    return lines


def batches(lines: Sequence[str], batch_size: int) -> list[Sequence[str]]:
    return [lines[start : start + batch_size] for start in range(0, len(lines), batch_size)]


# -- the idiomatic baseline -----------------------------------------------------------------


def baseline_vocabulary(lines: Sequence[str]) -> dict[str, int]:
    counter: collections.Counter[str] = collections.Counter()
    for line in lines:
        counter.update(_BASELINE_PATTERN.findall(line.lower()))
    ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    ids = {"<pad>": 0, "<unk>": 1}
    for token, _ in ordered:
        ids.setdefault(token, len(ids))
    return ids


def baseline_index(ids: dict[str, int], batch: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    rows = [[ids.get(token, 1) for token in _BASELINE_PATTERN.findall(line.lower())] for line in batch]
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    width = max(1, int(lengths.max(initial=0)))
    array = np.zeros((len(rows), width), dtype=np.int32)
    for index, row in enumerate(rows):
        array[index, : len(row)] = row
    return array, np.arange(width) < lengths[:, None]


# -- timing ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Result:
    name: str
    seconds: float
    tokens: int

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds


def _best(function: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, output = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        output = function()
        best = min(best, time.perf_counter() - start)
    return best, output


def run(
    num_tokens: int, batch_size: int = 32, seed: int = 0, repeats: int = 3, log: Callable[[str], None] = print
) -> dict[str, list[Result]]:
    """Runs the benchmark and returns ``{"vocabulary": [...], "indexing": [...]}``."""
    log(f"text backend of formed.data: {_backend.IMPLEMENTATION}")
    lines = make_corpus(num_tokens, seed)
    tokenizer = Tokenizer(lowercase=True)
    total = sum(tokenizer.count(lines).values())
    log(f"corpus: {len(lines):,} lines, {total:,} tokens, batches of {batch_size}")

    reference_counts = lambda: Vocabulary.from_counts(_text_reference.count_tokens(lines, True))  # noqa: E731
    vocab_runs = [
        ("extension", lambda: Vocabulary.build(lines, tokenizer)),
        ("reference", reference_counts),
        ("baseline", lambda: baseline_vocabulary(lines)),
    ]
    vocab_results, outputs = [], {}
    for name, function in vocab_runs:
        seconds, outputs[name] = _best(function, 1 if name == "reference" else repeats)
        vocab_results.append(Result(name, seconds, total))
    vocabulary = outputs["extension"]
    if vocabulary != outputs["reference"] or vocabulary.tokens != list(outputs["baseline"]):
        raise AssertionError("the three ways built different vocabularies")

    chunks = batches(lines, batch_size)
    reference_index = _text_reference.TokenIndex(vocabulary.tokens, vocabulary.unk_id)
    baseline_ids = outputs["baseline"]
    index_runs = [
        ("extension", lambda: [vocabulary.index_batch(chunk, tokenizer) for chunk in chunks]),
        ("reference", lambda: [reference_index.index_batch(chunk, True) for chunk in chunks]),
        ("baseline", lambda: [baseline_index(baseline_ids, chunk) for chunk in chunks]),
    ]
    index_results, index_outputs = [], {}
    for name, function in index_runs:
        seconds, index_outputs[name] = _best(function, 1 if name == "reference" else repeats)
        index_results.append(Result(name, seconds, total))
    for arrays in zip(*index_outputs.values()):
        for ids, mask in arrays[1:]:
            if not (np.array_equal(ids, arrays[0][0]) and np.array_equal(mask, arrays[0][1])):
                raise AssertionError("the three ways indexed a batch differently")

    for title, results in (("vocabulary building", vocab_results), ("indexing + padding", index_results)):
        log(f"\n{title}:")
        baseline = next(r for r in results if r.name == "baseline")
        for result in results:
            log(
                f"  {result.name:<10} {result.seconds:8.3f} s  {result.tokens_per_second / 1e6:8.2f} M tokens/s  "
                f"{baseline.seconds / result.seconds:6.2f}x baseline"
            )
    return {"vocabulary": vocab_results, "indexing": index_results}


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    run(_TOKENS.value, _BATCH_SIZE.value, _SEED.value, _REPEATS.value)


if __name__ == "__main__":
    app.run(main)
