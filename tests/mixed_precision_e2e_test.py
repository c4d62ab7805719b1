"""The default config (`formed/training/configs/text_classifier.py`) trained by the `train`
binary with a bfloat16 compute policy: the checkpointed parameters stay float32 and the run
reaches the default config's validation accuracy (in 4 of its 8 epochs, to keep the test short:
the float32 run is at 1.0 by then too)."""

from __future__ import annotations

import json
import os

import numpy as np

import saved_checkpoints
import train_binary

DEFAULT_CONFIG = os.path.join(train_binary.REPO_ROOT, "formed", "training", "configs", "text_classifier.py")


def test_bfloat16_training_keeps_float32_parameters_and_reaches_the_accuracy(tmp_path) -> None:
    workdir = str(tmp_path / "workdir")
    config = tmp_path / "bfloat16_config.py"
    config.write_text(
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('default_config', {DEFAULT_CONFIG!r})\n"
        "default_config = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(default_config)\n\n\n"
        "def get_config():\n"
        "    config = default_config.get_config()\n"
        "    config.trainer.engine.compute_dtype = 'bfloat16'\n"
        "    return config\n"
    )
    train_binary.run_train(*train_binary.tiny_flags(workdir, "--config.trainer.max_epochs=4", config=str(config)))
    with open(os.path.join(workdir, "config.json"), encoding="utf-8") as file:
        assert json.load(file)["trainer"]["engine"]["compute_dtype"] == "bfloat16"
    with open(os.path.join(workdir, "metrics.json"), encoding="utf-8") as file:
        metrics = json.load(file)
    # The float32 default config reaches 1.0; bfloat16 arithmetic must not cost more than a point.
    assert metrics["validation"]["accuracy"] >= 0.99, metrics
    checkpoints = os.path.join(workdir, "checkpoints")
    arrays = saved_checkpoints.state_arrays(checkpoints, saved_checkpoints.committed_steps(checkpoints)[-1])
    floating = [np.asarray(a) for a in arrays.values() if np.asarray(a).dtype.kind == "f"]
    assert floating and all(a.dtype == np.float32 for a in floating)
