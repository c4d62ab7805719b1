"""Workflow steps that train and evaluate Flax NNX models, and the format that caches them.

    {
        "model": {"type": "my_model", ...},               # built under use_rngs(random_seed)
        "train": {"type": "flax::train", "model": {...}, "trainer": {"type": "ref", "ref": "trainer"},
                  "train_dataset": {"type": "ref", "ref": "data"}, "random_seed": 42},
    }

``flax::train`` returns the trained model, which `FlaxModelFormat` (the default format of every
`BaseFlaxModel`) caches in the layout of an exported model (`formed.training.load_model` reads
the parameters by name), so a rerun of the workflow reads the trained model back instead of
training again. ``flax::evaluate`` returns a dict of metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from flax import nnx

from formed.core import config_of, remember_config, use_rngs
from formed.data import DataLoader
from formed.modules import BaseFlaxModel
from formed.training import BaseEvaluator, FlaxTrainer, IEvaluator
from formed.workflow._context import current_step
from formed.workflow._format import Format
from formed.workflow._model_format import ModelDirectoryFormat
from formed.workflow._step import step
from formed.workflow._step_training import train_in_step



@Format.register("flax_model")
class FlaxModelFormat(ModelDirectoryFormat[BaseFlaxModel]):
    """Writes a `BaseFlaxModel` in the exported-model layout of `formed.training._model_directory`:
    ``formed_model.json``, the config it was built from (``config.json``, when `from_config` or
    a workflow step built it) and its parameters by name (``params/``, orbax).

    Reading rebuilds the model from its config (its registered classes must be imported) and
    loads the parameters by name; a model built in code has no config, and only then is its
    structure pickled. Non-parameter variables (RNG streams) start afresh.
    """

    model_format = "flax_nnx"
    described_as = "a Flax NNX"

    def write(self, artifact: BaseFlaxModel, directory: Path) -> None:
        if not isinstance(artifact, nnx.Module):
            raise TypeError(f"FlaxModelFormat writes nnx modules, got {type(artifact).__name__}")
        self.write_model(artifact, directory, config_of(artifact))

    @classmethod
    def is_default_of(cls, obj: Any) -> bool:
        return isinstance(obj, BaseFlaxModel)


@step("flax::train", format=FlaxModelFormat())
def train_flax_model(
    model: BaseFlaxModel,
    trainer: FlaxTrainer,
    train_dataset: Sequence[Any],
    val_dataset: Sequence[Any] | None = None,
    random_seed: int = 0,
) -> BaseFlaxModel:
    """Trains `model` with `trainer` and returns the trained model (a new object; `model` keeps
    its initial parameters).

    Args:
        model: the model to train.
        trainer: the trainer, with its dataloaders, engine and callbacks.
        train_dataset: training items.
        val_dataset: validation items, evaluated as the trainer's strategy says.
        random_seed: seeds the RNG the engine creates the training state with (and, in a
            workflow, the components the step's config builds).

    In a workflow with a cache, training checkpoints into the step's work directory and resumes
    from it when rerun after a kill, and writes TensorBoard events and hyperparameters under
    ``<cache_dir>/tensorboard`` (see `formed.workflow._step_training`).
    """
    context = current_step()
    with use_rngs(random_seed) as rngs:
        if context is not None and context.work_dir is not None:
            state = train_in_step(context, trainer, model, train_dataset, val_dataset, rngs)
        else:
            state = trainer.train(model, train_dataset, val_dataset, rngs=rngs)
    trained = state.to_model()
    config = config_of(model)
    if config is not None:  # FlaxModelFormat saves the trained copy by the same config
        remember_config(trained, config)
    return trained


@step("flax::evaluate")
def evaluate_flax_model(
    model: BaseFlaxModel,
    evaluator: BaseEvaluator | IEvaluator,
    dataset: Sequence[Any],
    dataloader: DataLoader | Callable[[Sequence[Any]], Iterable[Any]],
    params: Any = None,
    random_seed: int | None = None,
) -> dict[str, float]:
    """Metrics of `model` on `dataset`: each batch from ``dataloader(dataset)`` goes through the
    model in evaluation mode (``model(batch, params)``) and into `evaluator`.

    Args:
        model: the model to evaluate; left in evaluation mode.
        evaluator: accumulates the metrics (it is reset first).
        dataset: the items to evaluate on.
        dataloader: turns the items into model inputs: a `formed.data.DataLoader` (in a config,
            ``{"sampler": {...}, "collator": ...}``) or any ``dataset -> batches`` function.
        params: call-time parameters passed to the model.
        random_seed: when given, the ambient RNG while the model runs (for stochastic models).
    """
    model.eval()
    evaluator.reset()
    with use_rngs(random_seed):
        for batch in dataloader(dataset):
            evaluator.update(batch, model(batch, params))
    return {name: float(value) for name, value in evaluator.compute().items()}
