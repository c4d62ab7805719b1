"""An Equinox model on 8 host devices with `DataParallelDistributor`: the parameters of one device.

XLA reads the device count when the backend starts, so this file sets ``XLA_FLAGS`` before jax
is imported; it is its own test target (a separate process) for that reason.
"""

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402

from formed.training.testing import TinyEquinoxClassifier, assert_same_params, list_loader, make_records, params_of, train_tiny  # noqa: E402
from formed.training._distributors import DataParallelDistributor, SingleDeviceDistributor  # noqa: E402
from formed.training._equinox_engine import EquinoxTrainingEngine  # noqa: E402
from formed.training._trainer import FlaxTrainer  # noqa: E402


def _train(distributor, epochs=3):
    # No dropout: each device would otherwise draw its own masks from the same key.
    return train_tiny(TinyEquinoxClassifier(dropout=0.0), EquinoxTrainingEngine(optimizer=optax.adam(1e-2)), distributor, epochs=epochs)


def test_eight_host_devices_are_available():
    assert len(jax.local_devices()) == 8


def test_eight_devices_give_the_parameters_of_one():
    _, single = _train(SingleDeviceDistributor())
    trainer, parallel = _train(DataParallelDistributor(num_devices=8))
    assert int(parallel.step) == int(single.step) == 18
    assert_same_params(single, parallel)  # unreplicated: no device axis left
    np.testing.assert_array_equal(jax.random.key_data(single.key), jax.random.key_data(parallel.key))
    initial = params_of(trainer.engine.create_state(None, trainer, TinyEquinoxClassifier(dropout=0.0)))
    assert any(not np.allclose(a, b) for a, b in zip(initial, params_of(parallel)))

    records = make_records(32, seed=1)
    single_trainer = FlaxTrainer(
        train_dataloader=list_loader(16), val_dataloader=list_loader(32), engine=trainer.engine, progress=False
    )
    expected = single_trainer.evaluate(None, single, records)
    got = trainer.evaluate(None, parallel, records)  # states are mirrored: no device axis to add
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-4)
