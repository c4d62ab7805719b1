"""References between workflow steps: ``{"type": "ref", "ref": "<step>"}`` in a step's config.

A reference stands for the result of the step it names. With a ``path`` it stands for a part of
that result: dict keys, attributes and list indices separated by dots, e.g. the training split of a
loaded dataset, or the vocabulary size of a fitted data module's text field:

>>> ref("dataset", "train")
{'type': 'ref', 'ref': 'dataset', 'path': 'train'}
>>> resolve_path({"train": [{"text": "a"}], "test": []}, "train.0.text", where="steps.x")
'a'
"""

from __future__ import annotations

from typing import Any, Mapping


def ref(step: str, path: str | None = None) -> dict[str, str]:
    """The config of a reference to the result of `step` (or to its part `path`)."""
    return {"type": "ref", "ref": step} if path is None else {"type": "ref", "ref": step, "path": path}


def is_ref(value: Any) -> bool:
    """Whether `value` is a reference config."""
    return (
        isinstance(value, Mapping)
        and value.get("type") == "ref"
        and "ref" in value
        and set(value) <= {"type", "ref", "path"}
    )


def refs_in(value: Any) -> list[str]:
    """Names of the steps referred to anywhere inside `value`, in order of appearance."""
    if is_ref(value):
        return [value["ref"]]
    if isinstance(value, Mapping):
        return [name for item in value.values() for name in refs_in(item)]
    if isinstance(value, (list, tuple)):
        return [name for item in value for name in refs_in(item)]
    return []


def map_refs(value: Any, function: Any) -> Any:
    """`value` with every reference replaced by ``function(reference)`` (dicts and lists copied)."""
    if is_ref(value):
        return function(value)
    if isinstance(value, Mapping):
        return {key: map_refs(item, function) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [map_refs(item, function) for item in value]
    return value


def substitute(value: Any, results: Mapping[str, Any], where: str = "") -> Any:
    """`value` with every reference replaced by the result it names (or the part of it)."""

    def resolve(reference: Mapping[str, Any]) -> Any:
        result = results[reference["ref"]]
        path = reference.get("path")
        return result if path is None else resolve_path(result, path, where=f"{where} (ref {reference['ref']!r})")

    return map_refs(value, resolve)


def resolve_path(value: Any, path: str, where: str = "") -> Any:
    """The part of `value` at the dotted `path`: a mapping key, an attribute or a list index.

    Raises:
        ValueError: naming `where` and the first component of `path` that does not exist.
    """
    for depth, part in enumerate(path.split(".")):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        elif not part.startswith("_") and hasattr(value, part):
            value = getattr(value, part)
        else:
            walked = ".".join(path.split(".")[:depth]) or "the result"
            keys = f"; its keys: {', '.join(sorted(map(str, value)))}" if isinstance(value, Mapping) else ""
            raise ValueError(f"{where}: path {path!r}: {walked} ({type(value).__name__}) has no {part!r}{keys}")
    return value
