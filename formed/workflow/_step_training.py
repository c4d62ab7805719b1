"""Training inside a workflow step: resumable, with TensorBoard curves and hyperparameters.

`train_in_step` is what ``flax::train`` does when it runs in a workflow with a cache (see
`formed.workflow.StepContext`):

* checkpoints go to ``<work_dir>/checkpoints`` (a `CheckpointCallback` keeping the latest is added
  when the trainer has none), and every callback with ``set_workdir`` gets the work directory, as
  in the `train` binary; when the step was killed, its rerun resumes from the latest checkpoint;
* TensorBoard events go to the step's ``tensorboard_dir`` (a `TensorBoardCallback` is added when
  the trainer has none), with the step's config flattened into TensorBoard's HParams tab, so runs
  under ``<cache_dir>/tensorboard`` can be compared by their hyperparameters.
"""

from __future__ import annotations

import json
import shutil
from typing import Any, Mapping, Sequence

from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.hparams import summary_v2 as hparams_summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from formed.core import RngsLike
from formed.training import CheckpointCallback, CheckpointDirectory, FlaxTrainer, TensorBoardCallback, TrainState
from formed.workflow._context import StepContext
from formed.workflow._refs import is_ref


def flatten_hparams(config: Mapping[str, Any], prefix: str = "") -> dict[str, bool | int | float | str]:
    """The scalar leaves of a step config as ``{"dotted.key": value}`` (lists as ``key[i]``,
    references as ``"ref:<step>"``), the form TensorBoard's HParams tab shows.

    >>> flatten_hparams({"type": "flax::train", "trainer": {"max_epochs": 3, "callbacks": [{"type": "tensorboard"}]},
    ...                  "train_dataset": {"type": "ref", "ref": "dataset", "path": "train"}})
    {'trainer.max_epochs': 3, 'trainer.callbacks[0].type': 'tensorboard', 'train_dataset': 'ref:dataset.train'}
    """
    flat: dict[str, bool | int | float | str] = {}

    def visit(value: Any, key: str) -> None:
        if is_ref(value):
            flat[key] = "ref:" + value["ref"] + (f".{value['path']}" if value.get("path") else "")
        elif isinstance(value, Mapping):
            for name, item in value.items():
                if not (key == "" and name == "type"):
                    visit(item, f"{key}.{name}" if key else str(name))
        elif isinstance(value, (list, tuple)):
            if all(isinstance(item, (bool, int, float, str)) for item in value):
                flat[key] = json.dumps(list(value))
            else:
                for index, item in enumerate(value):
                    visit(item, f"{key}[{index}]")
        elif isinstance(value, (bool, int, float, str)):
            flat[key] = value

    visit(config, prefix)
    return flat


def write_hparams(directory: str, hparams: Mapping[str, bool | int | float | str], trial: str) -> None:
    """Writes one HParams session-start event (TensorBoard's HParams tab) into `directory`."""
    writer = EventFileWriter(directory, filename_suffix=".hparams")
    writer.add_event(event_pb2.Event(step=0, summary=hparams_summary.hparams_pb(dict(hparams), trial_id=trial)))
    writer.close()


def _ensure_callbacks(trainer: FlaxTrainer, context: StepContext) -> None:
    if not any(isinstance(callback, TensorBoardCallback) for callback in trainer.callbacks):
        trainer.callbacks.append(TensorBoardCallback())
    if not any(isinstance(callback, CheckpointCallback) for callback in trainer.callbacks):
        trainer.callbacks.append(CheckpointCallback(keep_last=1))
    for callback in trainer.callbacks:
        if isinstance(callback, TensorBoardCallback) and callback.directory is None:
            callback.directory = str(context.tensorboard_dir)
            if callback.run_config is None:
                callback.run_config = json.dumps(context.config, indent=2, sort_keys=True, default=repr)
        set_workdir = getattr(callback, "set_workdir", None)
        if callable(set_workdir):
            set_workdir(str(context.work_dir))


def train_in_step(
    context: StepContext,
    trainer: FlaxTrainer,
    model: Any,
    train_dataset: Sequence[Any],
    val_dataset: Sequence[Any] | None,
    rngs: RngsLike | None,
) -> TrainState:
    """Trains as ``trainer.train`` does, in the step's directories (see the module docstring);
    resumes from the step's latest checkpoint unless the step is `fresh`."""
    assert context.work_dir is not None and context.tensorboard_dir is not None
    _ensure_callbacks(trainer, context)
    checkpoint_dirs = {callback.directory for callback in trainer.callbacks if isinstance(callback, CheckpointCallback)}
    state = trainer.engine.create_state(rngs, trainer, model)
    resumable = [CheckpointDirectory(directory) for directory in sorted(d for d in checkpoint_dirs if d)]
    resumable = [checkpoints for checkpoints in resumable if checkpoints.latest_step() is not None]
    if resumable and not context.fresh:
        checkpoints = resumable[0]
        state = checkpoints.resume(trainer, state)
        latest = checkpoints.latest_step()  # not None: `resumable` keeps only checkpoints that have one
        print(f"{context.name}: resuming from {checkpoints.path(latest)}", flush=True)  # type: ignore[arg-type]  # see above
    else:
        # A fresh start: curves of an earlier attempt would overlap the new ones.
        shutil.rmtree(context.tensorboard_dir, ignore_errors=True)
        context.tensorboard_dir.mkdir(parents=True, exist_ok=True)
        write_hparams(str(context.tensorboard_dir), flatten_hparams(context.config), trial=context.name)
    return trainer.train(model, train_dataset, val_dataset, state=state)
