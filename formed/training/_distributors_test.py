import jax
import jax.numpy as jnp
import numpy as np
import pytest

from formed.core import from_config
from formed.training._distributors import BaseDistributor, DataParallelDistributor, SingleDeviceDistributor


def test_single_device_is_a_no_op_except_map():
    distributor = SingleDeviceDistributor()
    batch = {"x": np.ones((4, 2))}
    assert distributor.shard(batch) is batch
    assert distributor.replicate(batch) is batch
    assert distributor.unreplicate(batch) is batch
    assert distributor.reduce(jnp.float32(3.0)) == 3.0
    double = distributor.map(lambda x, k: x * k, static_argnums=(1,))
    np.testing.assert_allclose(double(jnp.ones(3), 2), [2.0, 2.0, 2.0])


def test_single_device_reduce_ignores_the_op_and_data_parallel_rejects_unknown_ones():
    array = jnp.ones(2)
    assert SingleDeviceDistributor().reduce(array, "max") is array
    with pytest.raises(ValueError, match="'max'"):
        DataParallelDistributor(num_devices=1).reduce(array, "max")  # type: ignore[arg-type]  # the unknown op is the point


def test_registered_and_buildable_from_config():
    assert isinstance(from_config(BaseDistributor, {"type": "single"}), SingleDeviceDistributor)
    built = from_config(BaseDistributor, {"type": "data_parallel", "axis_name": "data", "num_devices": 1})
    assert isinstance(built, DataParallelDistributor) and built.axis_name == "data"


def test_data_parallel_on_one_device_adds_the_device_axis():
    distributor = DataParallelDistributor(num_devices=1)
    sharded = distributor.shard({"x": np.arange(8.0).reshape(4, 2)})
    assert sharded["x"].shape == (1, 4, 2)
    replicated = distributor.replicate(jnp.ones(3))
    assert replicated.shape == (1, 3)
    assert distributor.unreplicate(replicated).shape == (3,)

    def step(batch, w):
        return distributor.reduce(jnp.mean(batch["x"] @ w)), batch["x"].sum(-1)

    loss, sums = distributor.map(step)(sharded, distributor.replicate(jnp.ones(2)))
    assert loss.shape == (1,)
    merged_loss, merged_sums = distributor.unshard((loss, sums))
    np.testing.assert_allclose(merged_loss, np.mean(np.arange(8.0).reshape(4, 2).sum(-1)))
    np.testing.assert_allclose(merged_sums, np.arange(8.0).reshape(4, 2).sum(-1))


def test_too_many_devices_is_a_clear_error():
    with pytest.raises(ValueError, match="xla_force_host_platform_device_count"):
        DataParallelDistributor(num_devices=len(jax.local_devices()) + 1)


def test_a_distributor_needs_only_map_and_reduce():
    class JitOnly(BaseDistributor):
        def map(self, fn, static_argnums=(), donate_argnums=()):
            return jax.jit(fn, static_argnums=tuple(static_argnums))

        def reduce(self, array, op="mean"):
            return array

    distributor = JitOnly()
    batch = {"x": np.ones((2, 3))}
    assert distributor.shard(batch) is batch and distributor.unreplicate(distributor.replicate(batch)) is batch
    with pytest.raises(TypeError):
        type("NoMap", (BaseDistributor,), {})()
