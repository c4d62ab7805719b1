"""Reads the checkpoints of a work directory as files, with orbax alone (no formed), for the
end-to-end tests: what any tool that reads orbax checkpoints sees.

A checkpoint directory holds one orbax step directory per kept step (``step_00000012``; orbax
renames it into place once it is whole), each with named items: ``params``, ``opt_state``,
``model_state``, ``step`` (and ``ema_params``, ``callback_states`` when present) as orbax trees,
and ``formed/metadata``, the JSON of the step's metrics, best mark and callback states.
"""

from __future__ import annotations

import json
import os
import pathlib
import re

import jax
import numpy as np
import orbax.checkpoint as ocp

_STEP_DIR = re.compile(r"step_(\d+)")
_NOT_ARRAYS = ("formed", "metrics")


def committed_steps(checkpoints: str) -> list[int]:
    """The steps with a step directory (complete: orbax writes under a temporary name first)."""
    if not os.path.isdir(checkpoints):
        return []
    return sorted(int(m.group(1)) for name in os.listdir(checkpoints) if (m := _STEP_DIR.fullmatch(name)))


def step_path(checkpoints: str, step: int) -> str:
    return os.path.join(checkpoints, f"step_{step:08d}")


def read_metadata(checkpoints: str, step: int) -> dict:
    """The JSON formed saves with a step: ``{"step", "metrics", "best", "callbacks", ...}``."""
    with open(os.path.join(step_path(checkpoints, step), "formed", "metadata"), encoding="utf-8") as file:
        return json.load(file)


def read_index(checkpoints: str) -> dict:
    """``{"checkpoints": [{"step", "metrics", "callbacks", "best"}, ...], "best": step}`` from the
    steps' metadata (a step deleted while this reads is left out); the best step is the latest
    one saved as the best."""
    entries = []
    for step in committed_steps(checkpoints):
        try:
            metadata = read_metadata(checkpoints, step)
        except FileNotFoundError:
            continue
        entries.append({key: metadata[key] for key in ("step", "metrics", "callbacks", "best")})
    best = max((entry["step"] for entry in entries if entry["best"]), default=None)
    return {"checkpoints": entries, "best": best}


def read_arrays(checkpoints: str, step: int) -> dict[str, dict]:
    """Every array item of a step as numpy arrays: ``{"params": {"hidden": {"kernel": ...}}, ...}``."""
    path = step_path(checkpoints, step)
    items = {}
    for item in sorted(os.listdir(path)):
        directory = os.path.join(path, item)
        if item in _NOT_ARRAYS or not os.path.isdir(directory):
            continue
        metadata = ocp.PyTreeCheckpointHandler().metadata(pathlib.Path(directory))
        tree = getattr(metadata, "tree", metadata)
        restore_args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
        with ocp.PyTreeCheckpointer() as checkpointer:
            items[item] = checkpointer.restore(directory, args=ocp.args.PyTreeRestore(restore_args=restore_args))
    return items


def flat(tree: object, prefix: str = "") -> dict[str, object]:
    """``{"params/hidden/kernel": leaf}`` of nested dicts."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    found: dict[str, object] = {}
    for key, value in tree.items():
        found.update(flat(value, f"{prefix}/{key}" if prefix else str(key)))
    return found


def state_arrays(checkpoints: str, step: int) -> dict[str, np.ndarray]:
    """The train state's arrays of a step (without the callbacks'), by path."""
    items = read_arrays(checkpoints, step)
    items.pop("callback_states", None)
    return {key: np.asarray(value) for key, value in flat(items).items()}
