"""`data_fingerprint`: what ties a fitted data module to the data and config it was fitted on.

A work directory keeps its fitted data module (``data/``) so that a resumed run batches with the
same vocabularies. If the training data or the data module's config changed since, those
vocabularies are wrong for the new data; comparing fingerprints finds out:

>>> a = data_fingerprint([{"text": "hi", "label": "x"}], {"fields": {"text": {"type": "text"}}})
>>> b = data_fingerprint([{"text": "hi!", "label": "x"}], {"fields": {"text": {"type": "text"}}})
>>> len(a), a == b
(64, False)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence

import numpy as np


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def data_fingerprint(train_records: Sequence[Any], datamodule_config: Any) -> str:
    """The SHA-256 (hex) of the training records, in order, and the data module config."""
    digest = hashlib.sha256()
    digest.update(json.dumps(datamodule_config, sort_keys=True, default=_plain).encode())
    for record in train_records:
        digest.update(b"\n")
        digest.update(json.dumps(record, sort_keys=True, default=_plain).encode())
    return digest.hexdigest()
