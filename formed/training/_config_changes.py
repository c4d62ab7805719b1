"""What changed between the config a work directory was trained with and the one given now.

Resuming with a different config would mix two runs (checkpoints of one, config and metrics of
the other), so the `train` binary refuses it unless told to accept the change:

>>> changes = config_changes({"seed": 0, "trainer": {"max_epochs": 3}}, {"seed": 0, "trainer": {"max_epochs": 5, "x": 1}})
>>> changes
[('trainer.max_epochs', 3, 5), ('trainer.x', <missing>, 1)]
>>> print(describe_changes(changes))
  trainer.max_epochs: 3 -> 5
  trainer.x: (not set) -> 1
"""

from __future__ import annotations

import json
import re
from typing import Any

# An object in a config is written by its repr, whose memory address differs between runs.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
"""Stands for a key one of the two configs does not have."""


def as_json(config: Any) -> Any:
    """`config` as it reads back from ``config.json`` (tuples become lists, unknown objects strings)."""
    return json.loads(json.dumps(config, sort_keys=True, default=str))


def config_changes(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """``(key path, old value, new value)`` of every leaf that differs, in key order; a key one
    side lacks has `MISSING` there. Lists are compared item by item (``callbacks[2].metric``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(set(old) | set(new), key=str):
            child = f"{path}.{key}" if path else str(key)
            changes += config_changes(old.get(key, MISSING), new.get(key, MISSING), child)
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [c for i, (a, b) in enumerate(zip(old, new)) for c in config_changes(a, b, f"{path}[{i}]")]
    if isinstance(old, str) and isinstance(new, str) and _ADDRESS.sub(">", old) == _ADDRESS.sub(">", new):
        return []  # the same kind of object, e.g. a callback instance given in the config file
    if old == new and type(old) is type(new):
        return []
    return [(path or "<config>", old, new)]


def _show(value: Any) -> str:
    return "(not set)" if value is MISSING else json.dumps(value, sort_keys=True, default=str)


def describe_changes(changes: list[tuple[str, Any, Any]]) -> str:
    """One line per change: ``  trainer.max_epochs: 3 -> 5``."""
    return "\n".join(f"  {path}: {_show(old)} -> {_show(new)}" for path, old, new in changes)
