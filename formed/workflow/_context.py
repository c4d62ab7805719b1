"""What a running step may know about itself: its name, fingerprint and directories.

The executor sets it around each step it runs; a step reads it with `current_step()`, e.g.
``flax::train`` writes its checkpoints into ``work_dir`` (so a rerun after a kill resumes) and its
TensorBoard events into ``tensorboard_dir``. Outside a workflow (a step called as a plain
function) there is none:

>>> current_step() is None
True
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from pathlib import Path
from typing import Any, Iterator, Mapping


@dataclasses.dataclass(frozen=True)
class StepContext:
    """A running step.

    Attributes:
        name: the step's name in the workflow (``train``, ``train[learning_rate=0.01]``).
        fingerprint: its cache key.
        config: its config as written (references not resolved), e.g. for TensorBoard's HParams.
        work_dir: a directory for the step's own files that survives a killed run, removed once the
            result is cached; None when the workflow has no cache.
        tensorboard_dir: where a training step writes its TensorBoard events; None without a cache.
        fresh: True when the step must not resume from its work directory (``--force``).
    """

    name: str
    fingerprint: str
    config: Mapping[str, Any]
    work_dir: Path | None = None
    tensorboard_dir: Path | None = None
    fresh: bool = False


_CURRENT: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("formed_workflow_step", default=None)


def current_step() -> StepContext | None:
    """The step running now, or None outside a workflow."""
    return _CURRENT.get()


@contextlib.contextmanager
def running_step(context: StepContext) -> Iterator[StepContext]:
    """Makes `context` the current step inside the ``with`` block."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)
