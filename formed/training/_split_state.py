"""`DataParallelDistributor(shard_params=True)`'s layout: state leaves split along a dimension.

`replicate` places a large leaf as one array split over the devices (`place`, with the spec of
`spec_at`); `SplitStateMap` is the mapped step that gathers such leaves whole for the function
and splits its updated values again. Not API: used by `formed.training._distributors`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

if TYPE_CHECKING:
    from formed.training._distributors import DataParallelDistributor


def spec_at(dim: int, axis_name: str) -> PartitionSpec:
    """The spec of a leaf split along `dim`: ``spec_at(1, "batch") == PartitionSpec(None, "batch")``."""
    return PartitionSpec(*([None] * dim), axis_name)


# In `SplitStateMap`'s layouts: a leaf placed by `DataParallelDistributor.mirror`, whole on
# every device (the training state's leaves that `shard_params` does not split).
WHOLE = "whole"


def spec_of(placement: int | str | None, axis_name: str) -> PartitionSpec:
    """The `shard_map` spec of a leaf placed with the device axis (None), mirrored (`WHOLE`), or
    split along a dimension (int)."""
    if placement is None:
        return PartitionSpec(axis_name)
    if isinstance(placement, int):
        return spec_at(placement, axis_name)
    if placement == WHOLE:
        return PartitionSpec()
    raise ValueError(f"unknown placement {placement!r}; expected None, {WHOLE!r} or a dimension")


def place(x: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """`x` (the same on every process) as one array split by `sharding`."""
    if jax.process_count() == 1:
        return jax.device_put(x, sharding)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


class SplitStateMap:
    """`DataParallelDistributor.map` with ``shard_params``: a `shard_map` whose input specs follow
    each leaf's placement (a device axis, mirrored whole, or split along a dimension), compiled
    once per layout.

    Inside, split leaves are gathered whole before `fn` runs; an output leaf at the same path
    (within its argument / output) and of the same shape as a split input leaf, such as the
    updated parameters and optimizer state a step returns, is split again on the way out; one at
    the path of a mirrored input leaf stays whole. The other outputs get the device axis as usual.
    """

    def __init__(self, distributor: DataParallelDistributor, fn: Callable[..., Any], static: tuple[int, ...], donate: tuple[int, ...]) -> None:
        self.distributor = distributor
        self.fn = fn
        self.static = static
        self.donate = donate
        self._compiled: dict[Any, Callable[..., Any]] = {}

    def _layout(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        layout: list[tuple[Any, tuple[int | str | None, ...]] | None] = []
        for i, arg in enumerate(args):
            if i in self.static:
                layout.append(None)
                continue
            leaves, treedef = jax.tree.flatten(arg)
            layout.append((treedef, tuple(self._placement(x) for x in leaves)))
        return tuple(layout)

    def _placement(self, x: Any) -> int | str | None:
        """A leaf's layout: split along a dimension (int), mirrored (`WHOLE`), or with the
        device axis (None)."""
        if self.distributor.is_mirrored(x):
            return WHOLE
        return self.distributor.split_dim_of(x)

    def __call__(self, *args: Any) -> Any:
        layout = self._layout(args)
        compiled = self._compiled.get(layout)
        if compiled is None:
            compiled = self._compiled[layout] = self._compile(layout)
        return compiled(*args)

    def _compile(self, layout: tuple[Any, ...]) -> Callable[..., Any]:
        distributor, fn, static = self.distributor, self.fn, self.static
        axis, mesh, n = distributor.axis_name, distributor.mesh, distributor.num_devices

        def per_device(*args: Any) -> Any:
            positions = [i for i in range(len(args)) if i not in static]
            in_specs, split_inputs = [], {}
            for i in positions:
                treedef, dims = layout[i]
                paths = [path for path, _ in jax.tree_util.tree_flatten_with_path(args[i])[0]]
                in_specs.append(treedef.unflatten([spec_of(d, axis) for d in dims]))
                for path, dim, leaf in zip(paths, dims, jax.tree.leaves(args[i])):
                    if dim is not None:
                        split_inputs[jax.tree_util.keystr(path)] = (tuple(leaf.shape), dim)

            def call(*dynamic: Any) -> Any:
                call_args = list(args)
                for i, value in zip(positions, dynamic):
                    leaves, treedef = jax.tree.flatten(value)
                    whole = [
                        x[0] if d is None else x if d == WHOLE else jax.lax.all_gather(x, axis, axis=d, tiled=True)
                        for x, d in zip(leaves, layout[i][1])
                    ]
                    call_args[i] = jax.tree.unflatten(treedef, whole)
                return fn(*call_args)

            dynamic = [args[i] for i in positions]
            probe = jax.shard_map(call, mesh=mesh, in_specs=tuple(in_specs), out_specs=PartitionSpec(), check_vma=False)
            shapes = jax.eval_shape(probe, *dynamic)
            # jax annotates treedefs with an alias mypy cannot resolve (PyTreeDef = pytree.PyTreeDef).
            out_treedef: Any
            out_paths, out_treedef = jax.tree_util.tree_flatten_with_path(shapes)
            nested = isinstance(shapes, (tuple, list))
            out_dims = []
            for path, leaf in out_paths:
                split = split_inputs.get(jax.tree_util.keystr(path[1:] if nested else path))
                out_dims.append(split[1] if split is not None and split[0] == tuple(leaf.shape) else None)

            def body(*dynamic: Any) -> Any:
                leaves = out_treedef.flatten_up_to(call(*dynamic))
                out = []
                for x, d in zip(leaves, out_dims):
                    if d is None:
                        out.append(jnp.expand_dims(x, 0))
                    elif d == WHOLE:
                        out.append(x)
                    else:
                        size = x.shape[d] // n
                        out.append(jax.lax.dynamic_slice_in_dim(x, jax.lax.axis_index(axis) * size, size, axis=d))
                return out_treedef.unflatten(out)

            out_specs = out_treedef.unflatten([spec_of(d, axis) for d in out_dims])
            mapped = jax.shard_map(body, mesh=mesh, in_specs=tuple(in_specs), out_specs=out_specs, check_vma=False)
            return mapped(*dynamic)

        return jax.jit(per_device, static_argnums=static, donate_argnums=self.donate)
