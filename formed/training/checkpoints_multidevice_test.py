"""Checkpoints of a state split over 4 host devices by ``DataParallelDistributor(shard_params=True)``:
saved as orbax writes sharded arrays (each device's shard, never gathered onto one), restored to
the same values, and resumed to the result of an uninterrupted run.

XLA reads the device count when the backend starts, so this file sets ``XLA_FLAGS`` before jax
is imported; it is its own test target (a separate process) for that reason.
"""

import os
import pathlib

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import orbax.checkpoint as ocp  # noqa: E402
import pytest  # noqa: E402

from formed.training.testing import TinyClassifier, list_loader, make_records, params_of  # noqa: E402
from formed.training._callbacks import FlaxTrainingCallback  # noqa: E402
from formed.training._checkpoints import CheckpointCallback, CheckpointDirectory, saveable_state  # noqa: E402
from formed.training._distributors import DataParallelDistributor  # noqa: E402
from formed.training._engine import DefaultFlaxTrainingEngine  # noqa: E402
from formed.training._trainer import FlaxTrainer  # noqa: E402


class Crash(FlaxTrainingCallback):
    def on_batch_end(self, trainer, model, state, epoch, output):
        if trainer.global_step == 5:
            raise RuntimeError("simulated crash")


def _trainer(directory, *extra):
    return FlaxTrainer(
        train_dataloader=list_loader(16),
        engine=DefaultFlaxTrainingEngine(optimizer=optax.adam(1e-2)),
        distributor=DataParallelDistributor(num_devices=4, shard_params=True, min_shard_size=16),
        callbacks=[CheckpointCallback(directory=directory, interval=2, keep_last=2), *extra],
        max_epochs=2,
        progress=False,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sharded")
    records = make_records(64)  # 4 steps per epoch, 8 in all
    uninterrupted = _trainer(str(root / "a")).train(TinyClassifier(dropout=0.0), records)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _trainer(str(root / "b"), Crash()).train(TinyClassifier(dropout=0.0), records)
    trainer = _trainer(str(root / "b"))
    model = TinyClassifier(dropout=0.0)
    state = CheckpointDirectory(str(root / "b")).resume(trainer, trainer.engine.create_state(None, trainer, model))
    resumed = trainer.train(model, records, state=state)
    return {"root": root, "trainer": trainer, "uninterrupted": uninterrupted, "resumed": resumed}


def test_split_arrays_are_saved_as_they_are_placed(runs):
    distributor = runs["trainer"].distributor
    state = distributor.mirror(runs["uninterrupted"])
    kernel = state.params["hidden"]["kernel"][...]
    assert distributor.split_dim_of(kernel) is not None  # (4, 16): split along its 16 columns
    saved = saveable_state(distributor, state)
    assert saved.params["hidden"]["kernel"][...] is kernel  # handed to orbax as it is, not gathered
    # Orbax recorded each array's sharding: the kernel's is split over the 4 devices' mesh.
    path = os.path.join(str(runs["root"] / "a"), "step_00000008", "params")
    metadata = ocp.PyTreeCheckpointHandler().metadata(pathlib.Path(path)).tree
    sharding = metadata["hidden"]["kernel"].sharding
    assert tuple(sharding.partition_spec) == (None, "batch") and list(sharding.shape) == [4], sharding


def test_a_split_state_restores_to_the_same_values(runs):
    trainer = runs["trainer"]
    template = trainer.engine.create_state(None, trainer, TinyClassifier(dropout=0.0))
    restored = CheckpointDirectory(str(runs["root"] / "a")).restore(template)
    assert int(restored.step) == 8
    for a, b in zip(params_of(runs["uninterrupted"]), params_of(restored)):
        np.testing.assert_array_equal(a, b)


def test_a_crashed_split_run_resumes_to_the_uninterrupted_result(runs):
    assert int(runs["resumed"].step) == int(runs["uninterrupted"].step) == 8
    for a, b in zip(params_of(runs["uninterrupted"]), params_of(runs["resumed"])):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
