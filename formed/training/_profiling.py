"""`ProfileCallback`: a `jax.profiler` trace of chosen training steps, in the work directory.

``FlaxTrainer(profile_steps=(10, 20))`` (or ``dict(type="profile", steps=(10, 20))`` among the
callbacks) traces steps 10 to 20, counted from 1, into ``<workdir>/plugins/profile/<run>/``,
where TensorBoard's profile plugin (the ``tensorboard-plugin-profile`` package) finds it::

    tensorboard --logdir <workdir>     # then the "Profile" tab

The trace starts before step `start` is dispatched and stops once step `stop` has finished on
the device (the callback waits for it), so the trace holds the device work of those steps.
Skip the first steps: they include compilation. Without ``profile_steps`` nothing is added to
the loop.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Sequence

import jax

from formed.training._callbacks import FlaxTrainingCallback
from formed.training._state import TrainState

if TYPE_CHECKING:
    from flax import nnx

    from formed.training._trainer import FlaxTrainer


def check_profile_steps(steps: Any, path: str = "profile_steps") -> tuple[int, int]:
    """``(start, stop)`` as two ints with ``1 <= start <= stop``; ValueError naming `path` otherwise."""
    if (
        not isinstance(steps, Sequence)
        or isinstance(steps, str)
        or len(steps) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in steps)
    ):
        raise ValueError(f"{path} must be two step numbers (start, stop), e.g. (10, 20), got {steps!r}")
    start, stop = steps
    if not 1 <= start <= stop:
        raise ValueError(f"{path} must satisfy 1 <= start <= stop (steps count from 1), got {steps!r}")
    return start, stop


@FlaxTrainingCallback.register("profile")
class ProfileCallback(FlaxTrainingCallback):
    """Records a `jax.profiler` trace of steps `start` to `stop` (inclusive, counted from 1).

    Args:
        steps: ``(start, stop)``.
        directory: the TensorBoard log directory the trace goes under (``plugins/profile``);
            the `train` binary sets the work directory.
    """

    def __init__(self, steps: tuple[int, int], directory: str | None = None) -> None:
        self.start, self.stop = check_profile_steps(steps, "steps")
        self.directory = directory
        self.tracing = False
        self.trace_directory: str | None = None

    def set_workdir(self, workdir: str) -> None:
        if self.directory is None:
            self.directory = workdir

    def on_batch_start(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, epoch: int) -> None:
        if trainer.global_step + 1 == self.start and not self.tracing:
            if self.directory is None:
                raise ValueError("profile_steps needs a directory for the trace (the train binary uses --workdir)")
            os.makedirs(self.directory, exist_ok=True)
            jax.profiler.start_trace(self.directory)
            self.tracing = True

    def on_batch_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState, epoch: int, output: Any) -> None:
        if self.tracing and trainer.global_step >= self.stop:
            self._stop(state)

    def on_training_end(self, trainer: FlaxTrainer, model: nnx.Module, state: TrainState) -> None:
        if self.tracing:  # training ended (or stopped early) inside the traced steps
            self._stop(state)
        return None

    def _stop(self, state: Any) -> None:
        jax.block_until_ready(state)
        jax.profiler.stop_trace()
        self.tracing = False
        runs = os.path.join(self.directory or "", "plugins", "profile")
        if os.path.isdir(runs):
            names = sorted(os.listdir(runs), key=lambda name: os.path.getmtime(os.path.join(runs, name)))
            self.trace_directory = os.path.join(runs, names[-1]) if names else None
