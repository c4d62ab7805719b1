"""Distributors: how the trainer places batches and state on devices and compiles the step.

The trainer talks to devices only through a distributor:

* ``shard(batch)`` before each step, ``replicate(state)`` once at the start and
  ``unreplicate(state)`` once at the end;
* ``map(step_fn)`` compiles the step function once;
* ``reduce(tree, op)`` is called *inside* the step function to combine per-device values
  (gradients, losses).

`SingleDeviceDistributor` makes all of these no-ops except ``map`` (a plain `jax.jit`).
`DataParallelDistributor` follows the ``pmap`` conventions of the reference API (a leading device
axis on sharded and replicated values, ``reduce`` as a collective over ``axis_name``) but is built
on what current JAX recommends: a device `Mesh`, `NamedSharding` placement and `jax.shard_map`
under `jax.jit`.
"""

from __future__ import annotations

import abc
from typing import Any, Callable, Generic, Literal, Sequence, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from formed.core import Registrable

ModelInputT = TypeVar("ModelInputT")
_T = TypeVar("_T")
_CallableT = TypeVar("_CallableT", bound=Callable[..., Any])

ReduceOp = Literal["mean", "sum"]


class BaseDistributor(Registrable, abc.ABC, Generic[ModelInputT]):
    """Places data on devices and compiles functions that run on them."""

    default_implementation = "single"

    @property
    def num_devices(self) -> int:
        """How many devices a batch is split over."""
        return 1

    def shard(self, inputs: ModelInputT) -> ModelInputT:
        """Splits a batch along its first axis across devices (identity on one device)."""
        return inputs

    def replicate(self, inputs: _T) -> _T:
        """Copies `inputs` (e.g. the training state) to every device (identity on one device)."""
        return inputs

    def unreplicate(self, inputs: _T) -> _T:
        """Takes the first device's copy of replicated data (identity on one device)."""
        return inputs

    @abc.abstractmethod
    def map(self, fn: _CallableT, static_argnums: Sequence[int] = (), donate_argnums: Sequence[int] = ()) -> _CallableT:
        """Compiles `fn` to run on the devices; `static_argnums` are hashed, not traced, and
        `donate_argnums` may be overwritten in place (pass a fresh value on every call)."""

    @abc.abstractmethod
    def reduce(self, array: _T, op: ReduceOp = "mean") -> _T:
        """Combines per-device values of `array` (any pytree) inside a mapped function."""

    def unshard(self, outputs: _T) -> _T:
        """Undoes `shard` on the outputs of a mapped function (identity on one device)."""
        return outputs


@BaseDistributor.register("single")
class SingleDeviceDistributor(BaseDistributor[ModelInputT]):
    """Runs on the default device: `map` is `jax.jit`; `shard`, `replicate` and `unreplicate`
    return their input (the base class's behaviour)."""

    def map(self, fn: _CallableT, static_argnums: Sequence[int] = (), donate_argnums: Sequence[int] = ()) -> _CallableT:
        return jax.jit(fn, static_argnums=tuple(static_argnums), donate_argnums=tuple(donate_argnums))

    def reduce(self, array: _T, op: ReduceOp = "mean") -> _T:
        _check_op(op)
        return array


def _check_op(op: str) -> None:
    if op not in ("mean", "sum"):
        raise ValueError(f"unsupported reduction {op!r}: expected 'mean' or 'sum'")


@BaseDistributor.register("data_parallel")
class DataParallelDistributor(BaseDistributor[ModelInputT]):
    """Data parallelism: each device runs the same step on its slice of the batch.

    Args:
        axis_name: name of the device axis, used by `reduce` (``lax.pmean`` / ``lax.psum``).
        num_devices: devices to use, the first `num_devices` of ``jax.local_devices()``; all by
            default.

    Shapes: ``shard`` turns each ``(batch, ...)`` array into ``(num_devices, batch // num_devices,
    ...)``; ``replicate`` turns ``(...)`` into ``(num_devices, ...)``; a function from `map` sees,
    on each device, the value without the device axis, and returns values with it.

    Raises:
        ValueError: if `num_devices` exceeds the devices available, or (in `shard`) a batch size
            is not divisible by `num_devices`.

    Example::

        distributor = DataParallelDistributor(axis_name="batch", num_devices=4)
        sharded = distributor.shard({"x": np.zeros((32, 10))})   # sharded["x"].shape == (4, 8, 10)
    """

    def __init__(self, axis_name: str = "batch", num_devices: int | None = None) -> None:
        devices = jax.local_devices()
        if num_devices is None:
            num_devices = len(devices)
        if not 1 <= num_devices <= len(devices):
            raise ValueError(
                f"num_devices={num_devices} but {len(devices)} local device(s) are available "
                f"({devices[0].platform}); on CPU, set XLA_FLAGS=--xla_force_host_platform_device_count=N "
                "before importing jax"
            )
        self.axis_name = axis_name
        self._num_devices = num_devices
        self.mesh = Mesh(np.asarray(devices[:num_devices]), (axis_name,))
        self._sharding = NamedSharding(self.mesh, PartitionSpec(axis_name))

    @property
    def num_devices(self) -> int:
        return self._num_devices

    def shard(self, inputs: ModelInputT) -> ModelInputT:
        n = self._num_devices

        def shard_leaf(x: Any) -> Any:
            shape = np.shape(x)
            if not shape or shape[0] % n != 0:
                raise ValueError(
                    f"cannot shard an array of shape {shape} over {n} devices: the batch size "
                    f"(first axis) must be divisible by num_devices={n}; choose a batch size that is "
                    f"a multiple of {n} (and drop_last=True in the sampler)"
                )
            x = x.reshape(n, shape[0] // n, *shape[1:])
            return jax.device_put(x, self._sharding)

        return jax.tree.map(shard_leaf, inputs)

    def replicate(self, inputs: _T) -> _T:
        n = self._num_devices
        return jax.tree.map(
            lambda x: jax.device_put(jnp.broadcast_to(x, (n, *jnp.shape(x))), self._sharding), inputs
        )

    def unreplicate(self, inputs: _T) -> _T:
        return jax.tree.map(lambda x: x[0], inputs)

    def unshard(self, outputs: _T) -> _T:
        """Merges the device axis back into the batch axis: ``(n, b, ...) -> (n * b, ...)``.

        Per-device scalars ``(n,)`` (e.g. a loss) become their mean over devices.
        """

        def merge(x: Any) -> Any:
            if jnp.ndim(x) == 1:
                return jnp.mean(x)
            return jnp.reshape(x, (-1, *jnp.shape(x)[2:]))

        return jax.tree.map(merge, outputs)

    def map(self, fn: _CallableT, static_argnums: Sequence[int] = (), donate_argnums: Sequence[int] = ()) -> _CallableT:
        static = tuple(static_argnums)
        spec = PartitionSpec(self.axis_name)
        mesh = self.mesh

        def per_device(*args: Any) -> Any:
            dynamic_positions = [i for i in range(len(args)) if i not in static]

            def body(*dynamic: Any) -> Any:
                call_args = list(args)
                for position, value in zip(dynamic_positions, dynamic):
                    # Each device holds a (1, ...) block of the device axis: drop it.
                    call_args[position] = jax.tree.map(lambda x: x[0], value)
                result = fn(*call_args)
                return jax.tree.map(lambda x: jnp.expand_dims(x, 0), result)

            mapped = jax.shard_map(body, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)
            return mapped(*(args[i] for i in dynamic_positions))

        return jax.jit(per_device, static_argnums=static, donate_argnums=tuple(donate_argnums))  # type: ignore[return-value]

    def reduce(self, array: _T, op: ReduceOp = "mean") -> _T:
        _check_op(op)
        collective = jax.lax.pmean if op == "mean" else jax.lax.psum
        return jax.tree.map(lambda x: collective(x, self.axis_name), array)
