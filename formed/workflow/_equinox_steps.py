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
(the default format of every ``eqx.Module``) caches in the layout of an exported model (the one
the `export` binary writes, ``"model_format": "equinox"``), so `formed.training.load_model`
reads a cached model as it reads an export. ``equinox::evaluate`` runs the model under
`eqx.nn.inference_mode`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import equinox as eqx
import jax

from formed.core import config_of, from_config, remember_config, use_rngs
from formed.equinox import BaseEquinoxModel
from formed.training import BaseEvaluator, FlaxTrainer, IEvaluator
from formed.workflow._context import current_step
from formed.workflow._format import Format
from formed.workflow._model_format import ModelDirectoryFormat
from formed.workflow._refs import refs_in
from formed.workflow._step import step
from formed.workflow._step_training import train_in_step

__all__ = ["EquinoxModelFormat", "build_skeleton", "evaluate_equinox_model", "remember_config", "train_equinox_model"]


def build_skeleton(config: Mapping[str, Any]) -> eqx.Module:
    """The model `config` builds, with ``jax.ShapeDtypeStruct`` in place of arrays (nothing is
    allocated or initialised)."""

    def build() -> eqx.Module:
        with use_rngs(0):
            return from_config(BaseEquinoxModel, dict(config), path="model")

    return eqx.filter_eval_shape(build)


def _shapes(model: eqx.Module) -> list[Any]:
    return [(x.shape, x.dtype) if hasattr(x, "shape") else x for x in jax.tree.leaves(model)]


def _same_structure(a: eqx.Module, b: eqx.Module) -> bool:
    try:
        # Any: jax annotates treedefs with an alias mypy cannot resolve (PyTreeDef = pytree.PyTreeDef).
        structure: Any = jax.tree.structure(a)
        return structure == jax.tree.structure(b) and _shapes(a) == _shapes(b)
    except (TypeError, ValueError):
        return False


@Format.register("equinox_model")
class EquinoxModelFormat(ModelDirectoryFormat[eqx.Module]):
    """Writes an Equinox model in the exported-model layout of `formed.training.export_model`
    (as `FlaxModelFormat` does for Flax models): ``formed_model.json`` (``"model_format":
    "equinox"``), the config it was built from (``config.json``, its ``model`` section) and its
    floating-point arrays by name (``params/``, orbax).

    The config is the one `from_config` built the model from (`formed.core.config_of`;
    ``equinox::train`` gives the trained copy its input model's config). Reading rebuilds the
    model from it (its registered classes must be imported) and loads the arrays by name. A
    model without a config, or one whose config no longer builds its structure (changed after
    it was built), is saved with its structure pickled instead (``structure.pkl``).

    >>> import pathlib, tempfile
    >>> model = eqx.nn.Linear(2, 3, key=jax.random.key(0))  # built by hand: no config, so pickled
    >>> directory = pathlib.Path(tempfile.mkdtemp())
    >>> EquinoxModelFormat().write(model, directory)
    >>> sorted(path.name for path in directory.iterdir())
    ['formed_model.json', 'params', 'structure.pkl']
    >>> bool((EquinoxModelFormat().read(directory).weight == model.weight).all())  # the same arrays
    True

    ``formed.training.load_model(directory)`` reads it too.
    """

    model_format = "equinox"
    described_as = "an Equinox"

    def write(self, artifact: eqx.Module, directory: Path) -> None:
        if not isinstance(artifact, eqx.Module):
            raise TypeError(f"EquinoxModelFormat writes eqx.Module models, got {type(artifact).__name__}")
        config = config_of(artifact)
        if config is not None and not _same_structure(build_skeleton(config), artifact):
            config = None  # the model was changed after it was built: only its own structure fits
        self.write_model(artifact, directory, config)

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
    config = config_of(model)
    if config is None and context is not None:
        config = context.config.get("model")
    if isinstance(config, Mapping) and "type" in config and not refs_in(config):
        remember_config(trained, config)  # EquinoxModelFormat saves the trained copy by the same config
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
