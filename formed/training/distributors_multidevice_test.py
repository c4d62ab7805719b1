"""Data parallelism on 8 host devices: same parameters as one device (with parameters replicated
or split across the devices), clear errors otherwise.

XLA reads the device count when the backend starts, so this file sets ``XLA_FLAGS`` before jax
is imported; it is its own test target (a separate process) for that reason.
"""

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402

from formed.training.testing import TinyClassifier, assert_same_params, list_loader, make_records, params_of, train_tiny  # noqa: E402
from formed.training._distributors import DataParallelDistributor, SingleDeviceDistributor  # noqa: E402
from formed.training._engine import DefaultFlaxTrainingEngine  # noqa: E402
from formed.training._trainer import FlaxTrainer, _dynamic_fields, _LossSum  # noqa: E402


def _train(distributor, batch_size=16, epochs=3):
    # No dropout: each device would otherwise draw its own masks.
    engine = DefaultFlaxTrainingEngine(optimizer=optax.adam(1e-2))
    return train_tiny(TinyClassifier(dropout=0.0), engine, distributor, batch_size, epochs)


def test_eight_host_devices_are_available():
    assert len(jax.local_devices()) == 8


def test_eight_devices_give_the_parameters_of_one():
    _, single = _train(SingleDeviceDistributor())
    trainer, parallel = _train(DataParallelDistributor(num_devices=8))
    assert int(parallel.step) == int(single.step) == 18
    assert_same_params(single, parallel)  # unreplicated: no device axis left
    # And the model did learn: the result is not trivially equal because nothing moved.
    initial = params_of(trainer.engine.create_state(None, trainer, TinyClassifier(dropout=0.0)))
    assert any(not np.allclose(a, b) for a, b in zip(initial, params_of(parallel)))


def test_parallel_evaluation_matches_single_device():
    single_trainer, single = _train(SingleDeviceDistributor(), epochs=1)
    parallel_trainer, parallel = _train(DataParallelDistributor(num_devices=8), epochs=1)
    records = make_records(32, seed=1)
    expected = single_trainer.evaluate(None, single, records)
    got = parallel_trainer.evaluate(None, parallel, records)
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-4)


def test_the_batch_is_split_across_all_devices():
    distributor = DataParallelDistributor(num_devices=8)
    sharded = distributor.shard({"x": np.zeros((32, 4), np.float32)})
    assert sharded["x"].shape == (8, 4, 4)
    assert len(sharded["x"].sharding.device_set) == 8


def test_a_batch_size_not_divisible_by_the_device_count_is_a_clear_error():
    with pytest.raises(ValueError, match=r"divisible by num_devices=8"):
        _train(DataParallelDistributor(num_devices=8), batch_size=12, epochs=1)


def test_sharded_parameters_give_the_parameters_of_replication():
    _, replicated = _train(DataParallelDistributor(num_devices=8), epochs=2)
    distributor = DataParallelDistributor(num_devices=8, shard_params=True, min_shard_size=16)
    _, sharded = _train(distributor, epochs=2)
    assert int(sharded.step) == int(replicated.step) == 12
    for a, b in zip(params_of(replicated), params_of(sharded)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_sharded_parameters_are_split_across_devices_with_their_optimizer_state():
    distributor = DataParallelDistributor(num_devices=8, shard_params=True, min_shard_size=16)
    trainer = FlaxTrainer(
        train_dataloader=list_loader(16), engine=DefaultFlaxTrainingEngine(optimizer=optax.adam(1e-2)),
        distributor=distributor, max_epochs=1, progress=False,
    )
    state = trainer.engine.create_state(None, trainer, TinyClassifier(dropout=0.0))
    placed = distributor.replicate(state)
    kernel = placed.params["hidden"]["kernel"].get_value()  # (4, 16): split along its 16 columns
    assert kernel.shape == (4, 16)
    assert {shard.data.shape for shard in kernel.addressable_shards} == {(4, 2)}
    mu = placed.opt_state[0].mu["hidden"]["kernel"].get_value()
    assert {shard.data.shape for shard in mu.addressable_shards} == {(4, 2)}
    small = placed.params["out"]["bias"].get_value()  # 3 elements: one copy per device
    assert small.shape == (8, 3)
    # The step keeps the layout: its outputs are split the way its inputs were.
    steps = trainer.compiled_steps(placed)
    loss_total = _LossSum(distributor).total
    batch = distributor.shard(list_loader(16)(make_records(16))[0])
    leaves, _, _ = steps.train_step(batch, steps.flatten(placed), loss_total, trainer)
    dynamic = _dynamic_fields(steps.as_state(leaves))
    assert {s.data.shape for s in dynamic["params"]["hidden"]["kernel"].get_value().addressable_shards} == {(4, 2)}
    whole = distributor.unreplicate(dynamic)
    assert whole["params"]["hidden"]["kernel"].get_value().shape == (4, 16)
    assert whole["params"]["out"]["bias"].get_value().shape == (3,)
