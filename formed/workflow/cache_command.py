"""The `cache` binary: lists and removes the results cached in a workflow cache directory.

    tools/bazel run //formed/workflow:cache -- --cache_dir=/tmp/formed/cache list
    tools/bazel run //formed/workflow:cache -- --cache_dir=/tmp/formed/cache remove 2ea3443c 09c8a364
    tools/bazel run //formed/workflow:cache -- --cache_dir=/tmp/formed/cache remove --all

``list`` prints one line per result (fingerprint, step name, step type, workflow, size, age) and
then what unfinished steps left (a training step's checkpoints, kept so that a rerun resumes).
``remove`` takes fingerprints or unambiguous prefixes of them (as ``list`` prints them), or
``--all``; the next run of a workflow reruns what was removed.
"""

from __future__ import annotations

import sys
import time
from typing import Sequence

from absl import app, flags

from formed.workflow._cache import CacheEntry, StepCache

_CACHE_DIR = flags.DEFINE_string("cache_dir", None, "The workflow cache directory.", required=True)
_ALL = flags.DEFINE_boolean("all", False, "With `remove`: remove every cached result and unfinished work.")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)


def _age(created: float | None, now: float) -> str:
    if created is None:
        return ""
    seconds = max(0.0, now - created)
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def format_entries(entries: Sequence[CacheEntry], now: float) -> str:
    """The table ``list`` prints (`now` for the ages, as from `time.time`)."""
    if not entries:
        return "the cache is empty"
    rows = [("fingerprint", "name", "step", "workflow", "size", "created")]
    for entry in entries:
        rows.append((entry.fingerprint[:8], entry.name, entry.step, entry.workflow, _size(entry.size), _age(entry.created, now)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    total = sum(entry.size for entry in entries)
    complete = sum(entry.complete for entry in entries)
    lines.append(f"{complete} results, {len(entries) - complete} unfinished, {_size(total)} in all")
    return "\n".join(lines)


def remove(cache: StepCache, prefixes: Sequence[str], everything: bool = False) -> list[str]:
    """Removes the entries whose fingerprints start with one of `prefixes` (or all of them);
    returns the lines to print.

    Raises:
        ValueError: for a prefix that matches no entry or several results.
    """
    entries = cache.entries()
    chosen: list[str] = []
    if everything:
        chosen = sorted({entry.fingerprint for entry in entries})
    for prefix in prefixes:
        matches = sorted({entry.fingerprint for entry in entries if entry.fingerprint.startswith(prefix)})
        if not matches:
            raise ValueError(f"no cached result or unfinished work has a fingerprint starting with {prefix!r}")
        if len(matches) > 1:
            raise ValueError(f"{prefix!r} is ambiguous: it starts {', '.join(m[:12] for m in matches)}; give more digits")
        chosen.extend(matches)
    lines = []
    for fingerprint in dict.fromkeys(chosen):
        for path in cache.remove(fingerprint):
            lines.append(f"removed {path}")
    return lines


def main(argv: list[str]) -> None:
    command, *arguments = argv[1:] or ["list"]
    cache = StepCache(_CACHE_DIR.value)
    if command == "list" and not arguments:
        print(format_entries(cache.entries(), time.time()))
    elif command == "remove" and (arguments or _ALL.value):
        try:
            lines = remove(cache, arguments, everything=_ALL.value)
        except ValueError as error:
            sys.stderr.write(f"error: {error}\n")
            sys.exit(1)
        print("\n".join(lines) if lines else "nothing to remove")
    else:
        raise app.UsageError("usage: cache --cache_dir=DIR list | remove FINGERPRINT... | remove --all")


if __name__ == "__main__":
    app.run(main)
