"""JSON files of the work directory: written atomically, and never with NaN or Infinity.

Python's `json` writes ``NaN`` and ``Infinity`` by default, which no JSON parser but Python's
accepts; a non-finite number here means a diverged run, which must stop loudly rather than be
recorded as a result.

>>> write_json_atomically("/tmp/formed-doctest.json", {"val": {"loss": 0.25}})
>>> write_json_atomically("/tmp/formed-doctest.json", {"val": {"loss": float("nan")}})
Traceback (most recent call last):
...
ValueError: /tmp/formed-doctest.json: val.loss is nan; JSON has no NaN or Infinity, so it is not written
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any


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
