"""The tiny end-to-end recipe (`tiny_classifier.py`, a checkpoint every 2 steps) with a disk that
fills up, for the disk-full test: one epoch of 8 steps, and no encoder (the embeddings are
pooled), which compiles in a fraction of the LSTM's time.

A test fills the disk with ``FORMED_TEST_FILE_SIZE_LIMIT=<bytes>`` and
``FORMED_TEST_FILE_SIZE_LIMIT_AFTER_STEP=N`` in the process's environment: at the end of step N
the process lowers its own limit on the size of the files it writes (``RLIMIT_FSIZE``), so
that every later write past that many bytes fails in the kernel with ``EFBIG`` ("File too
large"), as writes fail on a full disk. Without these variables the recipe is the tiny one.
"""

import importlib.util
import os
import resource

import ml_collections

from formed.training import FlaxTrainingCallback


def _tiny_classifier():
    """The neighbouring config file, loaded by path as the `train` binary loads configs."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_classifier.py")
    spec = importlib.util.spec_from_file_location("tiny_classifier", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FileSizeLimit(FlaxTrainingCallback):
    """Limits this process's file writes to ``$FORMED_TEST_FILE_SIZE_LIMIT`` bytes per file from
    the end of step ``$FORMED_TEST_FILE_SIZE_LIMIT_AFTER_STEP`` (if both are set)."""

    keeps_states = False

    def on_batch_end(self, trainer, model, state, epoch, output):
        limit = os.environ.get("FORMED_TEST_FILE_SIZE_LIMIT")
        step = os.environ.get("FORMED_TEST_FILE_SIZE_LIMIT_AFTER_STEP")
        if limit and step and trainer.global_step == int(step):
            _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), hard))


def get_config() -> ml_collections.ConfigDict:
    config = _tiny_classifier().get_config()
    del config.model["encoder"]
    config.trainer.max_epochs = 1
    config.trainer.callbacks = [*config.trainer.callbacks, FileSizeLimit()]
    return config
