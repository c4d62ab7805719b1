"""Files and directories of the work directory and the cache, written atomically: JSON files
(never with NaN or Infinity) and whole directories (a fitted data module, an exported model, a
cached step result).

Python's `json` writes ``NaN`` and ``Infinity`` by default, which no JSON parser but Python's
accepts; a non-finite number here means a diverged run, which must stop loudly rather than be
recorded as a result.

>>> write_json_atomically("/tmp/formed-doctest.json", {"val": {"loss": 0.25}})
>>> write_json_atomically("/tmp/formed-doctest.json", {"val": {"loss": float("nan")}})
Traceback (most recent call last):
...
ValueError: /tmp/formed-doctest.json: val.loss is nan; JSON has no NaN or Infinity, so it is not written
>>> with directory_written_atomically("/tmp/formed-doctest-dir") as staging:
...     write_json_atomically(os.path.join(staging, "a.json"), {"a": 1})
>>> os.listdir("/tmp/formed-doctest-dir")
['a.json']
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from typing import Any, Iterator


def nonfinite_values(data: Any, prefix: str = "") -> list[tuple[str, float]]:
    """``(dotted key path, value)`` of each NaN or infinite float in nested dicts and lists, e.g.
    ``[("val.loss", nan)]`` or ``[("checkpoints[2].metrics.accuracy", inf)]``."""
    if isinstance(data, float):
        return [] if math.isfinite(data) else [(prefix or "<value>", data)]
    if isinstance(data, dict):
        return [v for key, value in data.items() for v in nonfinite_values(value, f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(data, (list, tuple)):
        return [v for i, value in enumerate(data) for v in nonfinite_values(value, f"{prefix}[{i}]")]
    return []


def write_json_atomically(path: str, data: Any, indent: int = 2, sort_keys: bool = True) -> None:
    """Writes `data` as JSON to a temporary file beside `path`, then renames it over `path`, so
    a crash leaves the old file or the new one, never half of one.

    Raises:
        ValueError: naming the key, if `data` holds a NaN or infinite float (nothing is written).
        OSError: if the file cannot be written (the old file is left as it was).
    """
    bad = nonfinite_values(data)
    if bad:
        key, value = bad[0]
        raise ValueError(f"{path}: {key} is {value}; JSON has no NaN or Infinity, so it is not written")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=directory, prefix=".tmp-", suffix=".json", delete=False) as file:
        try:
            json.dump(data, file, indent=indent, sort_keys=sort_keys, default=str, allow_nan=False)
            file.flush()
            os.fsync(file.fileno())
        except BaseException:
            file.close()
            os.remove(file.name)
            raise
    os.chmod(file.name, 0o644)
    os.replace(file.name, path)


@contextlib.contextmanager
def directory_written_atomically(path: str) -> Iterator[str]:
    """Yields an empty staging directory beside `path` to fill; when the block ends, the staging
    directory takes the place of `path` (an existing `path` is moved aside, then removed), so a
    crash leaves the old directory or the new one, never half of one. If the block raises, the
    staging directory is removed and `path` is left as it was.

    The staging directory is named ``.tmp-<name of path>.<random>`` and a replaced one
    ``.tmp-removed-<name of path>.<random>``, so that what a killed process leaves is recognisable.
    """
    parent = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".tmp-{name}.", dir=parent)
    try:
        yield staging
        os.chmod(staging, 0o755)
        if os.path.lexists(path):
            old = tempfile.mkdtemp(prefix=f".tmp-removed-{name}.", dir=parent)
            os.rmdir(old)
            os.replace(path, old)
            os.replace(staging, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
