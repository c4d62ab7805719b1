"""Fingerprints: the cache key of a step.

A step's fingerprint is a hash of its registered name, its version, its config with every
reference replaced by the fingerprint of the step it names, and the content of every file its
config names (any string value that is the path of an existing file, e.g. a dataset's
``train: "data/train.jsonl"``). So a step reruns when its config, its code version, anything
upstream, or one of its input files changes, and for nothing else.

>>> a = step_fingerprint("data::count", "1", {"texts": ["a b"]}, {})
>>> a == step_fingerprint("data::count", "1", {"texts": ["a b"]}, {})
True
>>> a == step_fingerprint("data::count", "2", {"texts": ["a b"]}, {})
False
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Mapping

from formed.workflow._refs import map_refs

_CHUNK = 1 << 20


def canonical_json(value: Any) -> str:
    """A deterministic JSON text of `value` (sorted keys; unknown objects as their repr)."""
    return json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))


def file_digest(path: str) -> str:
    """SHA-256 of the file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def files_in(config: Any) -> list[str]:
    """The string values anywhere in `config` that are paths of existing files (as written)."""
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, str):
            if value and len(value) < 4096 and "\n" not in value and os.path.isfile(value):
                found.append(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                visit(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)

    visit(config)
    return sorted(set(found))


def step_fingerprint(step_type: str, version: str, config: Any, upstream: Mapping[str, str]) -> str:
    """The fingerprint of a step (32 hex digits).

    Args:
        step_type: the registered name of the step (its ``type``).
        version: the step's version.
        config: the step's arguments as configured, references included.
        upstream: the fingerprint of every step the references name.
    """
    keyed = map_refs(config, lambda reference: {**reference, "ref": upstream[reference["ref"]]})
    files = {path: file_digest(path) for path in files_in(config)}
    payload = canonical_json({"step": step_type, "version": version, "config": keyed, "files": files})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
