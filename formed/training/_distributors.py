"""Distributors: how the trainer places batches and state on devices and compiles the step.

The trainer talks to devices only through a distributor:

* ``shard(batch)`` before each step and ``mirror(state)`` once at the start: a mirrored value is
  one array held whole on every device, with no device axis, so the state callbacks see reads
  like a single-device state (``state.step`` is a scalar) at no cost per step;
* ``map_with_state(step_fn, ...)`` compiles the step once (``map`` compiles any function);
* ``reduce(tree, op)`` is called *inside* the step function to combine per-device values
  (gradients, losses).

``replicate`` / ``unreplicate`` are the reference's ``pmap``-style copies with a leading device
axis, for code that wants them; the trainer does not use them.

`SingleDeviceDistributor` makes all of these no-ops except ``map`` (a plain `jax.jit`).
`DataParallelDistributor` follows the ``pmap`` conventions of the reference API (a leading device
axis on sharded and replicated values, ``reduce`` as a collective over ``axis_name``) but is built
on what current JAX recommends: a device `Mesh`, `NamedSharding` placement and `jax.shard_map`
under `jax.jit`. Its mesh may span several processes (``jax.distributed.initialize``): each
process then shards its own rows of every batch (``process_index`` / ``process_count`` tell the
data loader which), and ``gather`` brings every process's rows back to each for evaluation.
"""

from __future__ import annotations

import abc
from typing import Any, Callable, Generic, Literal, Sequence, cast

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from typing_extensions import TypeVar

from formed.core import Registrable
from formed.training._split_state import SplitStateMap, place, spec_at

ModelInputT = TypeVar("ModelInputT", default=Any)
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

    def mirror(self, inputs: _T) -> _T:
        """Places `inputs` whole on every device, shapes unchanged (identity on one device): the
        layout of the training state, which a mapped function takes through `mirrored_argnums`."""
        return inputs

    @abc.abstractmethod
    def map(self, fn: _CallableT, static_argnums: Sequence[int] = (), donate_argnums: Sequence[int] = ()) -> _CallableT:
        """Compiles `fn` to run on the devices; `static_argnums` are hashed, not traced, and
        `donate_argnums` may be overwritten in place (pass a fresh value on every call)."""

    def map_with_state(
        self,
        fn: _CallableT,
        static_argnums: Sequence[int] = (),
        donate_argnums: Sequence[int] = (),
        mirrored_argnums: Sequence[int] = (),
        mirrored_outputs: Sequence[bool] = (),
    ) -> _CallableT:
        """`map` for a function that also takes and returns mirrored values (the trainer's steps).

        Arguments at `mirrored_argnums` are mirrored values (see `mirror`), given whole to every
        device. With `mirrored_outputs` (one flag per item), `fn` returns a tuple whose flagged
        items are mirrored too: the same on every device, such as the state after reduced
        gradients. Every other argument and output is handled as `map` handles it. A distributor
        whose `mirror` is the identity needs nothing more than `map`, which is the default.
        """
        return self.map(fn, static_argnums=static_argnums, donate_argnums=donate_argnums)

    @abc.abstractmethod
    def reduce(self, array: _T, op: ReduceOp = "mean") -> _T:
        """Combines per-device values of `array` (any pytree) inside a mapped function."""

    def unshard(self, outputs: _T) -> _T:
        """Undoes `shard` on the outputs of a mapped function (identity on one device)."""
        return outputs

    @property
    def process_index(self) -> int:
        """This process's rank among those the distributor spans (0 on one process)."""
        return 0

    @property
    def process_count(self) -> int:
        """How many processes share each batch; each loads ``1 / process_count`` of its rows."""
        return 1

    def gather(self, tree: _T) -> _T:
        """Every process's rows of `tree` on every process (identity on one process)."""
        return tree


@BaseDistributor.register("single")
class SingleDeviceDistributor(BaseDistributor[ModelInputT]):
    """Runs on the default device: `map` is `jax.jit`; `shard`, `replicate` and `unreplicate`
    return their input (the base class's behaviour)."""

    def map(self, fn: _CallableT, static_argnums: Sequence[int] = (), donate_argnums: Sequence[int] = ()) -> _CallableT:
        # jax.jit's wrapper is called like `fn`: typed as `fn`.
        return cast(_CallableT, jax.jit(fn, static_argnums=tuple(static_argnums), donate_argnums=tuple(donate_argnums)))

    def reduce(self, array: _T, op: str = "mean") -> _T:
        """Returns `array` unchanged: one device has nothing to combine (`op` is ignored)."""
        return array


def _check_op(op: str) -> None:
    if op not in ("mean", "sum"):
        raise ValueError(f"unsupported reduction {op!r}: expected 'mean' or 'sum'")


@BaseDistributor.register("data_parallel")
class DataParallelDistributor(BaseDistributor[ModelInputT]):
    """Data parallelism: each device runs the same step on its slice of the batch.

    The devices may belong to several processes (hosts) joined by ``jax.distributed.initialize``:
    the mesh then spans every device of every process, each process passes `shard` its own rows
    of the global batch (`jax.make_array_from_process_local_data`), and `reduce` is a collective
    over all of them (gloo between CPU processes, NCCL on GPUs, ICI on TPUs).

    Args:
        axis_name: name of the device axis, used by `reduce` (``lax.pmean`` / ``lax.psum``).
        num_devices: devices to use: on one process the first `num_devices` of
            ``jax.local_devices()``; over several processes the total, taken as the first
            ``num_devices // process_count`` local devices of each process. All by default.
        shard_params: store every large state leaf (parameters and their optimizer state)
            split along the device axis instead of one copy per device (ZeRO-3 / FSDP style):
            `replicate` places it as one array with a `NamedSharding` over its largest dimension
            divisible by the device count; a mapped function gathers it (``all_gather``) and
            returns its updated value split again. Results equal replicated training.
        min_shard_size: with `shard_params`, leaves of fewer elements stay replicated.

    Shapes: ``shard`` turns each ``(batch, ...)`` array into ``(num_devices, batch // num_devices,
    ...)`` (with several processes, each passes its ``(batch // process_count, ...)`` rows and
    gets the global array); ``replicate`` turns ``(...)`` into ``(num_devices, ...)`` (a leaf
    split by `shard_params` keeps its shape ``(...)``); a function from `map` sees, on each
    device, the value without the device axis (a split leaf whole), and returns values with it.

    Raises:
        ValueError: if `num_devices` exceeds the devices available (or is not a multiple of the
            process count), or (in `shard`) a batch size is not divisible by `num_devices`.

    A batch gets a leading device axis: with 4 devices ``(32, 10)`` becomes ``(4, 8, 10)``; on
    one device:

    >>> distributor = DataParallelDistributor(axis_name="batch", num_devices=1)
    >>> distributor.shard({"x": np.zeros((32, 10))})["x"].shape
    (1, 32, 10)
    """

    def __init__(
        self,
        axis_name: str = "batch",
        num_devices: int | None = None,
        shard_params: bool = False,
        min_shard_size: int = 4096,
    ) -> None:
        if min_shard_size < 1:
            raise ValueError(f"min_shard_size must be at least 1, got {min_shard_size}")
        local = jax.local_devices()
        processes = jax.process_count()
        if processes == 1:
            if num_devices is None:
                num_devices = len(local)
            if not 1 <= num_devices <= len(local):
                raise ValueError(
                    f"num_devices={num_devices} but {len(local)} local device(s) are available "
                    f"({local[0].platform}); on CPU, set XLA_FLAGS=--xla_force_host_platform_device_count=N "
                    "before importing jax"
                )
            devices = local[:num_devices]
        else:
            if num_devices is None:
                num_devices = jax.device_count()
            per_process, remainder = divmod(num_devices, processes)
            if remainder or not 1 <= per_process <= len(local):
                raise ValueError(
                    f"num_devices={num_devices} over {processes} processes with {len(local)} local device(s) "
                    f"each: num_devices must be a multiple of {processes} and at most {processes * len(local)}"
                )
            by_process: dict[int, list[Any]] = {}
            for device in jax.devices():
                by_process.setdefault(device.process_index, []).append(device)
            devices = [d for p in sorted(by_process) for d in by_process[p][:per_process]]
        self.axis_name = axis_name
        self.shard_params = shard_params
        self.min_shard_size = min_shard_size
        self._num_devices = num_devices
        self.mesh = Mesh(np.asarray(devices), (axis_name,))
        self._sharding = NamedSharding(self.mesh, PartitionSpec(axis_name))
        self._process_index, self._process_count = jax.process_index(), processes
        self._local_devices = [d for d in devices if d.process_index == self._process_index]

    @property
    def num_devices(self) -> int:
        return self._num_devices

    @property
    def process_index(self) -> int:
        return self._process_index

    @property
    def process_count(self) -> int:
        return self._process_count

    def shard(self, inputs: ModelInputT) -> ModelInputT:
        n, local = self._num_devices, len(self._local_devices)
        many = self._process_count > 1

        def shard_leaf(x: Any) -> Any:
            shape = np.shape(x)
            if not shape or shape[0] % local != 0:
                where = (
                    f"this process's {shape[0] if shape else 0} rows must be divisible by its {local} devices "
                    f"(the global batch by num_devices={n})"
                    if many
                    else f"the batch size (first axis) must be divisible by num_devices={n}"
                )
                raise ValueError(
                    f"cannot shard an array of shape {shape} over {n} devices: {where}; choose a batch "
                    f"size that is a multiple of {n} (and drop_last=True in the sampler)"
                )
            x = x.reshape(local, shape[0] // local, *shape[1:])
            if many:
                return jax.make_array_from_process_local_data(self._sharding, np.asarray(x), (n, *x.shape[1:]))
            return jax.device_put(x, self._sharding)

        return jax.tree.map(shard_leaf, inputs)

    def replicate(self, inputs: _T) -> _T:
        n = self._num_devices

        def replicate_leaf(x: Any) -> Any:
            dim = self._split_dim(x)
            if dim is not None:
                return place(np.asarray(x), NamedSharding(self.mesh, spec_at(dim, self.axis_name)))
            if self._process_count == 1:
                return jax.device_put(jnp.broadcast_to(x, (n, *jnp.shape(x))), self._sharding)
            # device_put cannot build an array that spans processes from PRNG keys: assemble the
            # global array from this process's per-device copies instead.
            x = jnp.asarray(x)[None]
            return jax.make_array_from_single_device_arrays(
                (n, *x.shape[1:]), self._sharding, [jax.device_put(x, d) for d in self._local_devices]
            )

        return jax.tree.map(replicate_leaf, inputs)

    def unreplicate(self, inputs: _T) -> _T:
        def unreplicate_leaf(x: Any) -> Any:
            if self.is_mirrored(x):  # already one copy's shape: this process's copy of it
                return x if x.is_fully_addressable else x.addressable_data(0)
            if self.split_dim_of(x) is not None:
                if x.is_fully_addressable:
                    return jax.device_put(x, self._local_devices[0])
                return jnp.asarray(multihost_utils.process_allgather(x))
            if isinstance(x, jax.Array) and not x.is_fully_addressable:
                return x.addressable_data(0)[0]
            return x[0]

        return jax.tree.map(unreplicate_leaf, inputs)

    def mirror(self, inputs: _T) -> _T:
        """Each leaf as one array held whole on every device (shape unchanged); with
        `shard_params`, a large leaf is split over the devices instead (its shape unchanged too).
        Leaves placed so already are kept as they are."""
        whole = NamedSharding(self.mesh, PartitionSpec())

        def mirror_leaf(x: Any) -> Any:
            if self.is_mirrored(x) or self.split_dim_of(x) is not None:
                return x
            dim = self._split_dim(x)
            if dim is not None:
                return place(np.asarray(x), NamedSharding(self.mesh, spec_at(dim, self.axis_name)))
            if jax.process_count() == 1:
                return jax.device_put(x, whole)
            # As in `replicate`: assemble the global array from this process's per-device copies
            # (device_put cannot build one that spans processes from PRNG keys).
            x = jnp.asarray(x)
            return jax.make_array_from_single_device_arrays(
                x.shape, whole, [jax.device_put(x, d) for d in self._local_devices]
            )

        return jax.tree.map(mirror_leaf, inputs)

    def is_mirrored(self, x: Any) -> bool:
        """Whether `x` is placed by `mirror`: whole on the devices of this mesh, no device axis."""
        if not isinstance(x, jax.Array) or not isinstance(x.sharding, NamedSharding) or x.sharding.mesh != self.mesh:
            return False
        return all(names is None for names in x.sharding.spec)

    def unshard(self, outputs: _T) -> _T:
        """Merges the device axis back into the batch axis: ``(n, b, ...) -> (n * b, ...)``.

        Per-device scalars ``(n,)`` (e.g. a loss) become their mean over devices. With several
        processes the results are global arrays (see `gather` for host values).
        """

        def merge(x: Any) -> Any:
            if jnp.ndim(x) == 1:
                return jnp.mean(x)
            return jnp.reshape(x, (-1, *jnp.shape(x)[2:]))

        return jax.tree.map(merge, outputs)

    def gather(self, tree: _T) -> _T:
        """Every process's rows of `tree` (host batches, or `unshard`'s outputs) concatenated in
        process order, as host arrays on every process; identity on one process. A collective:
        every process must call it."""
        if self._process_count == 1:
            return tree
        return multihost_utils.process_allgather(tree, tiled=True)

    def map(self, fn: _CallableT, static_argnums: Sequence[int] = (), donate_argnums: Sequence[int] = ()) -> _CallableT:
        return self.map_with_state(fn, static_argnums, donate_argnums)

    def map_with_state(
        self,
        fn: _CallableT,
        static_argnums: Sequence[int] = (),
        donate_argnums: Sequence[int] = (),
        mirrored_argnums: Sequence[int] = (),
        mirrored_outputs: Sequence[bool] = (),
    ) -> _CallableT:
        if self.shard_params:
            # Placement decides there: split, mirrored and device-axis leaves are told apart by
            # their sharding, so the flags are not needed.
            # The map is called like `fn` (its outputs gain the device axis): typed as `fn`.
            return cast(_CallableT, SplitStateMap(self, fn, tuple(static_argnums), tuple(donate_argnums)))
        static = tuple(static_argnums)
        spec = PartitionSpec(self.axis_name)
        whole = PartitionSpec()
        mesh = self.mesh

        def per_device(*args: Any) -> Any:
            dynamic_positions = [i for i in range(len(args)) if i not in static]
            in_specs = tuple(whole if i in mirrored_argnums else spec for i in dynamic_positions)

            def body(*dynamic: Any) -> Any:
                call_args = list(args)
                for position, value in zip(dynamic_positions, dynamic):
                    if position not in mirrored_argnums:
                        # Each device holds a (1, ...) block of the device axis: drop it.
                        value = jax.tree.map(lambda x: x[0], value)
                    call_args[position] = value
                result = fn(*call_args)
                if not mirrored_outputs:
                    return jax.tree.map(lambda x: jnp.expand_dims(x, 0), result)
                return tuple(
                    item if flag else jax.tree.map(lambda x: jnp.expand_dims(x, 0), item)
                    for flag, item in zip(mirrored_outputs, result)
                )

            out_specs: Any = tuple(whole if flag else spec for flag in mirrored_outputs) if mirrored_outputs else spec
            mapped = jax.shard_map(body, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)
            return mapped(*(args[i] for i in dynamic_positions))

        return cast(_CallableT, jax.jit(per_device, static_argnums=static, donate_argnums=tuple(donate_argnums)))

    def reduce(self, array: _T, op: ReduceOp = "mean") -> _T:
        """Combines per-device values inside a mapped function: ``lax.pmean`` or ``lax.psum``.

        Raises:
            ValueError: for an `op` other than ``"mean"`` or ``"sum"``.
        """
        _check_op(op)
        collective = jax.lax.pmean if op == "mean" else jax.lax.psum
        return jax.tree.map(lambda x: collective(x, self.axis_name), array)

    def _split_dim(self, x: Any) -> int | None:
        """The dimension `replicate` splits `x` along with `shard_params` (None: one copy per device).

        The largest dimension divisible by the device count; never a leading dimension equal to
        it, so that a split leaf cannot be mistaken for one with a device axis.
        """
        if not self.shard_params or _is_key(x):
            return None
        shape, n = np.shape(x), self._num_devices
        if int(np.prod(shape, dtype=np.int64)) < self.min_shard_size:
            return None
        candidates = [d for d, size in enumerate(shape) if size % n == 0 and not (d == 0 and size == n)]
        return max(candidates, key=lambda d: shape[d], default=None)

    def split_dim_of(self, x: Any) -> int | None:
        """The dimension a placed array is split along by `shard_params`, or None (a leaf with a
        device axis, or one not placed by this distributor)."""
        if not self.shard_params or not isinstance(x, jax.Array) or not isinstance(x.sharding, NamedSharding):
            return None
        for dim, names in enumerate(x.sharding.spec):
            if names == self.axis_name or (isinstance(names, tuple) and self.axis_name in names):
                return None if dim == 0 and x.shape[0] == self._num_devices else dim
        return None


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
