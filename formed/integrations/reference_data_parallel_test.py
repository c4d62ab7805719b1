"""Issue 11, item 8: under `DataParallelDistributor` (8 host devices), callbacks see a state that
reads like a single-device state, held on the devices (no per-step transfer to the host).

XLA reads the device count when the backend starts, so this file sets ``XLA_FLAGS`` before jax is
imported; it is its own test target (a separate process) for that reason.
"""

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from formed.integrations.flax.distributors import DataParallelDistributor  # noqa: E402
from formed.integrations.flax.training import DefaultFlaxTrainingEngine, FlaxTrainer, FlaxTrainingCallback  # noqa: E402
from formed.training.testing import TinyClassifier, list_loader, make_records  # noqa: E402


class Shapes(FlaxTrainingCallback):
    def __init__(self) -> None:
        self.steps: list[jax.Array] = []
        self.kernels: list[jax.Array] = []

    def on_batch_end(self, trainer, model, state, epoch, output) -> None:
        self.steps.append(state.step)
        self.kernels.append(state.params["out"]["kernel"][...])


def test_item8_callbacks_see_single_device_shapes_held_on_every_device() -> None:
    shapes = Shapes()
    trainer = FlaxTrainer(
        train_dataloader=list_loader(16),
        engine=DefaultFlaxTrainingEngine(optimizer=optax.adam(1e-2)),
        distributor=DataParallelDistributor(num_devices=8),
        callbacks=[shapes],
        max_epochs=1,
        progress=False,
    )
    final = trainer.train(TinyClassifier(dropout=0.0), make_records(64))
    assert len(shapes.steps) == 4
    for step in shapes.steps:
        assert step.shape == ()  # a scalar, not (num_devices,)
        # Still a device array, whole on all 8 devices: handing it over needed no host transfer.
        assert isinstance(step, jax.Array) and len(step.sharding.device_set) == 8
        assert step.sharding.is_fully_replicated
    assert [int(step) for step in shapes.steps] == [1, 2, 3, 4]
    assert all(kernel.shape == (16, 3) for kernel in shapes.kernels)
    assert isinstance(final.step, jax.Array) and int(final.step) == 4 and final.step.shape == ()
    np.testing.assert_array_equal(np.asarray(shapes.kernels[-1]), np.asarray(final.params["out"]["kernel"][...]))
