"""What `predict` writes for one record: a model's output for a batch as one JSON-ready dict per
record. Flax and Equinox models share these (their ``readable_output`` methods call them).

>>> import numpy as np
>>> readable_rows({"score": np.array([0.5, 1.0]), "loss": np.array(0.1)})
[{'score': 0.5}, {'score': 1.0}]
>>> row = readable_classification(np.array([[2.0, 0.0]]), np.array([0]), None, "label", 2)[0]
>>> row["label"], round(row["probabilities"][1], 4)
(0, 0.1192)
"""

from __future__ import annotations

from typing import Any

import numpy as np


def readable_rows(output: Any) -> list[dict[str, Any]]:
    """Every array of `output` (host arrays) with a batch axis, as a list under its name (a dict's
    key, a NamedTuple's field, ``"output"`` for a bare array), one dict per record; scalars (a
    batch's loss) are left out."""
    if hasattr(output, "_asdict"):
        named = dict(output._asdict())
    elif isinstance(output, dict):
        named = dict(output)
    else:
        named = {"output": output}
    columns = {name: np.asarray(value) for name, value in named.items() if value is not None and np.ndim(value) >= 1}
    if not columns:
        return []
    size = min(len(value) for value in columns.values())
    return [{name: value[i].tolist() for name, value in columns.items()} for i in range(size)]


def readable_classification(
    logits: Any, label: Any, datamodule: Any, label_field: str, num_classes: int
) -> list[dict[str, Any]]:
    """Per record: the predicted ``label`` and the ``probabilities`` (softmax of ``logits``,
    ``(batch, num_classes)``) of every label, by name: the names of the data module's
    `label_field` when `datamodule` is given, else the class ids."""
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)
    probabilities = np.exp(shifted)
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    field = None if datamodule is None else datamodule.fields.get(label_field)
    names = list(field.labels) if field is not None and getattr(field, "labels", None) else list(range(num_classes))
    return [
        {"label": names[int(predicted)], "probabilities": {name: float(p) for name, p in zip(names, row)}}
        for predicted, row in zip(np.asarray(label), probabilities)
    ]
