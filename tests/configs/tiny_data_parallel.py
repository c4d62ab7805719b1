"""The tiny end-to-end recipe (`tiny_classifier.py`) trained data-parallel over every device of
every process, for the multi-process tests.

The text classifier here has no encoder (embeddings, mean+max pooling, linear head): it compiles
in a fraction of the LSTM's time, and what is tested is how the step is spread over processes.
Dropout is off: the devices share one dropout stream, so with dropout the masks of a batch would
depend on how it is split, and runs over different device counts could not be compared.

A test stands in for a crash with ``FORMED_TEST_KILL_AT_STEP=N`` in a process's environment:
that process SIGKILLs itself at the end of step N (after the compiled step of N was started,
with the checkpoint of step N - 1 written when N is odd: the interval is 2; checkpoints are
saved in the background, so it waits for that one to be written first).
"""

import importlib.util
import os
import signal

import ml_collections

from formed.training import CheckpointCallback, FlaxTrainingCallback


def _tiny_classifier():
    """The neighbouring config file, loaded by path as the `train` binary loads configs."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_classifier.py")
    spec = importlib.util.spec_from_file_location("tiny_classifier", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class KillAtStep(FlaxTrainingCallback):
    """SIGKILLs this process at the end of step ``$FORMED_TEST_KILL_AT_STEP`` (if set)."""

    def on_batch_end(self, trainer, model, state, epoch, output):
        step = os.environ.get("FORMED_TEST_KILL_AT_STEP")
        if step and trainer.global_step == int(step):
            for callback in trainer.callbacks:
                if isinstance(callback, CheckpointCallback):
                    callback.checkpoints.wait()
            os.kill(os.getpid(), signal.SIGKILL)


def get_config() -> ml_collections.ConfigDict:
    config = _tiny_classifier().get_config()
    del config.model["encoder"]
    config.model.dropout = 0.0
    config.trainer.max_epochs = 1
    config.trainer.distributor = dict(type="data_parallel")
    config.trainer.callbacks = [*config.trainer.callbacks, KillAtStep()]
    return config
