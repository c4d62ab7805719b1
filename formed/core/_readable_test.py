from types import SimpleNamespace
from typing import NamedTuple

import numpy as np
import pytest

from formed.core._readable import readable_classification, readable_rows


class Output(NamedTuple):
    label: np.ndarray
    loss: np.ndarray


def test_rows_hold_every_batched_array_by_name_and_drop_scalars() -> None:
    assert readable_rows(Output(label=np.array([2, 0]), loss=np.array(0.3))) == [{"label": 2}, {"label": 0}]
    assert readable_rows(np.array([[1.0, 2.0]])) == [{"output": [1.0, 2.0]}]
    assert readable_rows({"loss": np.array(0.3)}) == []


def test_classification_names_labels_from_the_data_module() -> None:
    logits = np.array([[0.0, 0.0], [10.0, -10.0]])
    datamodule = SimpleNamespace(fields={"label": SimpleNamespace(labels=["red", "blue"])})
    rows = readable_classification(logits, np.array([1, 0]), datamodule, "label", 2)
    assert [row["label"] for row in rows] == ["blue", "red"]
    assert rows[0]["probabilities"] == pytest.approx({"red": 0.5, "blue": 0.5})
    assert rows[1]["probabilities"]["red"] == pytest.approx(1.0)
    # Without a data module, the class ids name the labels.
    assert readable_classification(logits, np.array([1, 0]), None, "label", 2)[0]["label"] == 1
