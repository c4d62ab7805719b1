"""Workflow steps that train and evaluate Equinox models, and the format that caches them.

    {
        "train": {"type": "equinox::train", "model": {"type": "text_classifier", ...},
                  "trainer": {"type": "ref", "ref": "trainer"},      # engine: {"type": "equinox"}
                  "train_dataset": {"type": "ref", "ref": "data"}, "random_seed": 42},
        "metrics": {"type": "equinox::evaluate", "model": {"type": "ref", "ref": "train"}, ...},
    }

``equinox::train`` is ``flax::train`` for a `formed.equinox.BaseEquinoxModel` (the model config
is built from that registry; the trainer's engine must be ``equinox``): resumable in a workflow
with a cache, seeded by ``random_seed``. It returns the trained model, which `EquinoxModelFormat`
(the default format of every ``eqx.Module``) caches as its arrays plus what rebuilds its
skeleton. ``equinox::evaluate`` runs the model under `eqx.nn.inference_mode`.
"""

from __future__ import annotations

import json
import pickle
import weakref
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import equinox as eqx
import jax

from formed.core import from_config
from formed.core.random import use_rngs
from formed.equinox import BaseEquinoxModel
from formed.training.metrics import BaseEvaluator, IEvaluator
from formed.training.trainer import FlaxTrainer
from formed.workflow.context import current_step
from formed.workflow.format import Format
from formed.workflow.refs import refs_in
from formed.workflow.step import step
from formed.workflow.step_training import train_in_step

ARRAYS_FILE = "model.eqx"
ABOUT_FILE = "model.json"
SKELETON_FILE = "skeleton.pkl"

# The config each model `equinox::train` returned was built from, while the model lives: the
# format writes it so that reading rebuilds the skeleton from the config (no pickle).
_CONFIGS: dict[int, dict[str, Any]] = {}


def remember_config(model: eqx.Module, config: Mapping[str, Any]) -> None:
    """Records that `model` (its structure) is what ``from_config(BaseEquinoxModel, config)``
    builds, for `EquinoxModelFormat` to store."""
    key = id(model)
    _CONFIGS[key] = dict(config)
    weakref.finalize(model, _CONFIGS.pop, key, None)


def build_skeleton(config: Mapping[str, Any]) -> eqx.Module:
    """The model `config` builds, with ``jax.ShapeDtypeStruct`` in place of arrays (nothing is
    allocated or initialised)."""

    def build() -> eqx.Module:
        with use_rngs(0):
            return from_config(BaseEquinoxModel, dict(config), path="model")

    return eqx.filter_eval_shape(build)


def _skeleton_of(model: eqx.Module) -> eqx.Module:
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype) if eqx.is_array(x) else x, model)


def _same_structure(a: eqx.Module, b: eqx.Module) -> bool:
    shapes = lambda m: jax.tree.map(lambda x: (x.shape, x.dtype) if hasattr(x, "shape") else x, _skeleton_of(m))  # noqa: E731
    try:
        return jax.tree.structure(a) == jax.tree.structure(b) and jax.tree.leaves(shapes(a)) == jax.tree.leaves(shapes(b))
    except (TypeError, ValueError):
        return False


@Format.register("equinox_model")
class EquinoxModelFormat(Format[eqx.Module]):
    """Writes an Equinox model as its arrays (`eqx.tree_serialise_leaves`, ``model.eqx``) and
    what rebuilds its skeleton: the model config (``model.json``) when the model was built from
    one (`remember_config`; ``equinox::train`` does this) and that config rebuilds the same
    structure, otherwise the skeleton itself (``skeleton.pkl``: arrays as shapes and dtypes;
    reading it needs the model's classes importable, as for any pickle).
    """

    def write(self, artifact: eqx.Module, directory: Path) -> None:
        if not isinstance(artifact, eqx.Module):
            raise TypeError(f"EquinoxModelFormat writes eqx.Module models, got {type(artifact).__name__}")
        directory = Path(directory)
        config = _CONFIGS.get(id(artifact))
        if config is not None and not _same_structure(build_skeleton(config), artifact):
            config = None  # the model was changed after it was built: only its own skeleton fits
        eqx.tree_serialise_leaves(directory / ARRAYS_FILE, artifact)
        if config is None:
            with open(directory / SKELETON_FILE, "wb") as file:
                pickle.dump(_skeleton_of(artifact), file)
        about = {"class": f"{type(artifact).__module__}:{type(artifact).__qualname__}", "config": config}
        with open(directory / ABOUT_FILE, "w", encoding="utf-8") as file:
            json.dump(about, file, indent=2, sort_keys=True)

    def read(self, directory: Path) -> eqx.Module:
        directory = Path(directory)
        about_path = directory / ABOUT_FILE
        if not about_path.exists():
            raise FileNotFoundError(f"{about_path}: no model saved here by EquinoxModelFormat")
        with open(about_path, encoding="utf-8") as file:
            about = json.load(file)
        if about.get("config") is not None:
            skeleton = build_skeleton(about["config"])
        else:
            with open(directory / SKELETON_FILE, "rb") as file:
                skeleton = pickle.load(file)
        return eqx.tree_deserialise_leaves(directory / ARRAYS_FILE, skeleton)

    @classmethod
    def is_default_of(cls, obj: Any) -> bool:
        return isinstance(obj, eqx.Module)


@step("equinox::train", format=EquinoxModelFormat())
def train_equinox_model(
    model: BaseEquinoxModel,
    trainer: FlaxTrainer,
    train_dataset: Sequence[Any],
    val_dataset: Sequence[Any] | None = None,
    random_seed: int = 0,
) -> BaseEquinoxModel:
    """Trains the Equinox `model` with `trainer` (whose engine is ``equinox``) and returns the
    trained model (a new pytree; `model` is unchanged).

    Args:
        model: the model to train (from a config: a registered `BaseEquinoxModel`).
        trainer: the trainer, with its dataloaders, ``equinox`` engine and callbacks.
        train_dataset: training items.
        val_dataset: validation items, evaluated as the trainer's strategy says.
        random_seed: seeds the dropout key of the training state (and, in a workflow, the
            parameters of the model the step's config builds).

    Raises:
        TypeError: if the trainer's engine does not train Equinox models.
    """
    if not hasattr(trainer.engine, "model_base") or not issubclass(BaseEquinoxModel, trainer.engine.model_base):
        raise TypeError(
            f"equinox::train needs the trainer's engine to be 'equinox', got {type(trainer.engine).__name__}; "
            'set trainer.engine = {"type": "equinox", ...}'
        )
    context = current_step()
    with use_rngs(random_seed) as rngs:
        if context is not None and context.work_dir is not None:
            state = train_in_step(context, trainer, model, train_dataset, val_dataset, rngs)
        else:
            state = trainer.train(model, train_dataset, val_dataset, rngs=rngs)
    trained = state.to_model()
    config = context.config.get("model") if context is not None else None
    if isinstance(config, Mapping) and "type" in config and not refs_in(config):
        remember_config(trained, config)
    return trained


@step("equinox::evaluate")
def evaluate_equinox_model(
    model: BaseEquinoxModel,
    evaluator: BaseEvaluator | IEvaluator,
    dataset: Sequence[Any],
    dataloader: Callable[[Sequence[Any]], Iterable[Any]],
    params: Any = None,
) -> dict[str, float]:
    """Metrics of `model` on `dataset`: each batch from ``dataloader(dataset)`` goes through
    ``eqx.nn.inference_mode(model)(batch, params)`` (dropout off, no key) into `evaluator`.

    Args:
        model: the model to evaluate.
        evaluator: accumulates the metrics (it is reset first).
        dataset: the items to evaluate on.
        dataloader: turns the items into model inputs (a `formed.data.DataLoader` or any
            ``dataset -> batches`` function).
        params: call-time parameters passed to the model.
    """
    inference = eqx.filter_jit(lambda m, batch: m(batch, params))
    model = eqx.nn.inference_mode(model)
    evaluator.reset()
    for batch in dataloader(dataset):
        evaluator.update(batch, inference(model, batch))
    return {name: float(value) for name, value in evaluator.compute().items()}
