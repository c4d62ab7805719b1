"""`TensorBoardCallback`: training curves for TensorBoard, written without TensorFlow.

Event files are written with the `tensorboard` package alone (its `EventFileWriter` and summary
protos). What goes in, at the trainer's global step:

* every logged metric under its prefix (``train/loss``, ``val/loss``, ``val/accuracy``, ...);
* ``train/learning_rate`` when the optimizer exposes it (optimizers built from a config do);
* ``train/steps_per_sec``: the trainer's rate of recent training steps, the one its progress
  line shows (compilation and evaluations left out); measured between two training logs when
  the trainer has no rate;
* the run's configuration as text (tag ``config``), when `run_config` is set.

At the end of a run, `write_final_summaries` adds the final metrics of the kept model
(``test/accuracy``, ``final_val/accuracy``, ...) at the last step (TensorBoard drops the later
points of a run when a step goes back) and the run's flattened
config with them in TensorBoard's HParams tab, so that runs under one ``--logdir`` (the parent
of their work directories) can be compared there.

View with ``tensorboard --logdir <workdir>``.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.hparams import summary_v2 as hparams_summary
from tensorboard.plugins.text import metadata as text_metadata
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from formed.training._callbacks import FlaxTrainingCallback
from formed.training._optimizers import learning_rate_of
from formed.training._state import TrainState

if TYPE_CHECKING:
    from flax import nnx

    from formed.training._trainer import FlaxTrainer


def text_event(tag: str, text: str, step: int) -> event_pb2.Event:
    """A text summary (shown as Markdown in the Text tab), built from protos alone."""
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING, string_val=[text.encode("utf-8")], tensor_shape=tensor_shape_pb2.TensorShapeProto()
    )
    value = summary_pb2.Summary.Value(tag=tag, metadata=text_metadata.create_summary_metadata(tag, ""), tensor=tensor)
    return event_pb2.Event(wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=[value]))


def scalar_event(tag: str, value: float, step: int) -> event_pb2.Event:
    """One scalar point as an event proto."""
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))])
    return event_pb2.Event(wall_time=time.time(), step=step, summary=summary)


def flatten_config(config: Any, prefix: str = "") -> dict[str, bool | int | float | str]:
    """``{"trainer.max_epochs": 8, "model.encoder.type": "lstm", ...}``: the leaves of a config as
    HParams values (lists and other values as their JSON text).

    >>> flatten_config({"model": {"type": "lstm", "sizes": [1, 2]}, "seed": 0})
    {'model.type': 'lstm', 'model.sizes': '[1, 2]', 'seed': 0}
    """
    flat: dict[str, bool | int | float | str] = {}
    if isinstance(config, dict):
        for key, value in config.items():
            flat.update(flatten_config(value, f"{prefix}{key}." if isinstance(value, dict) else f"{prefix}{key}"))
        return flat
    if isinstance(config, (bool, int, float, str)):
        return {prefix: config}
    return {prefix: json.dumps(config, default=str, sort_keys=True)}


# The final validation metrics are those of the kept model, which may differ from the last
# evaluation at that step: a tag of their own, not more points on the ``val/`` curves.
SPLIT_TAGS = {"validation": "final_val/", "test": "test/"}


def write_final_summaries(
    directory: str, metrics: dict[str, Any], step: int, config: dict[str, Any] | None = None, trial: str | None = None
) -> None:
    """Writes the final metrics (``{"validation": {...}, "test": {...}}``) as scalars at `step`
    (``final_val/<name>``, ``test/<name>``; `step` must be the run's last) and, with `config`, one HParams session of its flattened
    values, into `directory` (a file of its own, beside the training curves)."""
    writer = EventFileWriter(directory, filename_suffix=".final")
    try:
        if config is not None:
            summary = hparams_summary.hparams_pb(flatten_config(config), trial_id=trial or os.path.basename(directory))
            writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))
        for split, values in metrics.items():
            if isinstance(values, dict):
                prefix = SPLIT_TAGS.get(split, f"{split}/")
                for name, value in values.items():
                    writer.add_event(scalar_event(prefix + name, value, step))
        writer.flush()
    finally:
        writer.close()


@FlaxTrainingCallback.register("tensorboard")
class TensorBoardCallback(FlaxTrainingCallback):
    """Writes logged metrics, learning rate, speed and the run config as TensorBoard events.

    Args:
        directory: where the event files go; the `train` binary sets it to the work directory
            when absent.
        run_config: text shown in TensorBoard's Text tab (the `train` binary puts the resolved
            config there, as JSON).

    When training spans several processes, only the first (``process_index == 0``) writes.
    """

    keeps_states = False

    def __init__(self, directory: str | None = None, run_config: str | None = None) -> None:
        self.directory = directory
        self.run_config = run_config
        self.writer: EventFileWriter | None = None
        self._last_log: tuple[int, float] | None = None
        self._silent = False

    def set_workdir(self, workdir: str) -> None:
        """Used by the `train` binary: the work directory, unless a directory was configured."""
        if self.directory is None:
            self.directory = workdir

    def on_training_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> None:
        if self.directory is None:
            raise ValueError("TensorBoardCallback needs directory= (the train binary sets it to --workdir)")
        self.writer = None
        self._silent = trainer.distributor.process_index != 0
        if self._silent:
            return
        os.makedirs(self.directory, exist_ok=True)
        self.writer = EventFileWriter(self.directory)
        step = trainer.global_step
        if step > 0:
            # A resumed run: TensorBoard must drop what the interrupted run wrote after its last
            # checkpoint. A restart marker at step s drops the points at s as well, but those of
            # `step` (its evaluation, its training log) were written before its checkpoint and are
            # not repeated now: the marker goes at the first new step.
            self.writer.add_event(
                event_pb2.Event(
                    wall_time=time.time(), step=step + 1, session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)
                )
            )
        if self.run_config is not None:
            # Indented by four spaces: Markdown shows the JSON as a code block.
            text = "\n".join("    " + line for line in self.run_config.splitlines())
            self.writer.add_event(text_event("config", text, step))
        self.writer.flush()
        self._last_log = (step, time.monotonic())

    def write_scalars(self, metrics: dict[str, float], step: int, prefix: str = "") -> None:
        """Adds ``prefix + name`` points at `step` and flushes."""
        if self.writer is None:
            raise RuntimeError("TensorBoardCallback is not open: training has not started")
        for name, value in metrics.items():
            self.writer.add_event(scalar_event(prefix + name, value, step))
        self.writer.flush()

    def on_log(
        self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, metrics: dict[str, float], prefix: str = ""
    ) -> None:
        if self._silent:  # not the first of several processes
            return
        step = trainer.global_step
        scalars: dict[str, Any] = dict(metrics)
        if prefix == trainer.train_prefix:
            learning_rate = learning_rate_of(state.opt_state)
            if learning_rate is not None:
                scalars["learning_rate"] = float(np.asarray(trainer.distributor.unreplicate(learning_rate)))
            now = time.monotonic()
            rate = getattr(trainer, "steps_per_sec", None)
            if rate is not None:
                if rate > 0:
                    scalars["steps_per_sec"] = rate
            elif self._last_log is not None and step > self._last_log[0] and now > self._last_log[1]:
                scalars["steps_per_sec"] = (step - self._last_log[0]) / (now - self._last_log[1])
            self._last_log = (step, now)
        self.write_scalars(scalars, step, prefix)

    def on_training_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        return None
