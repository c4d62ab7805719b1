"""Folding a (batch, sequence) pair of leading axes into one axis and back.

Word-level models that run a sub-layer over characters use this: ``(B, T, C, ...)`` character
ids become ``(B * T, C, ...)``, the sub-layer treats every word as its own sequence, and the
result is unfolded to ``(B, T, ...)``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence, TypeVar, overload

import jax

_MappingT = TypeVar("_MappingT", bound=Mapping[str, Any])


def _fold(array: jax.Array) -> jax.Array:
    if array.ndim < 2:
        raise ValueError(f"sequence_distribute needs at least 2 dimensions (batch, sequence), got shape {array.shape}")
    return array.reshape((array.shape[0] * array.shape[1], *array.shape[2:]))


def _unfold(array: jax.Array, shape: tuple[int, int]) -> jax.Array:
    if array.shape[0] != shape[0] * shape[1]:
        raise ValueError(f"cannot unfold leading axis of size {array.shape[0]} into {shape}")
    return array.reshape((*shape, *array.shape[1:]))


@overload
def sequence_distribute(inputs: jax.Array) -> tuple[jax.Array, tuple[int, int]]: ...
@overload
def sequence_distribute(inputs: _MappingT, ignore: Sequence[str] = ...) -> tuple[_MappingT, tuple[int, int]]: ...


def sequence_distribute(inputs: Any, ignore: Sequence[str] = ()) -> tuple[Any, tuple[int, int]]:
    """Merges the first two axes: ``(B, T, ...) -> (B * T, ...)``.

    Args:
        inputs: an array, or a mapping of arrays that share their first two axes.
        ignore: keys of the mapping to pass through unchanged.

    Returns:
        The folded input and the ``(B, T)`` shape that `sequence_undistribute` needs.
    """
    if isinstance(inputs, Mapping):
        folded_keys = [key for key in inputs if key not in ignore]
        if not folded_keys:
            raise ValueError("sequence_distribute got a mapping with nothing to fold")
        shape = tuple(inputs[folded_keys[0]].shape[:2])
        for key in folded_keys:
            if tuple(inputs[key].shape[:2]) != shape:
                raise ValueError(f"sequence_distribute: {key!r} has leading shape {inputs[key].shape[:2]}, expected {shape}")
        result = {key: (value if key in ignore else _fold(value)) for key, value in inputs.items()}
        # A Mapping other than dict (FrozenDict, ConfigDict) is rebuilt from a dict, which
        # typing's bare Mapping constructor does not declare: hence the ignores.
        return type(inputs)(result) if not isinstance(inputs, dict) else result, shape  # type: ignore[call-arg]  # see above
    return _fold(inputs), (int(inputs.shape[0]), int(inputs.shape[1]))


@overload
def sequence_undistribute(inputs: jax.Array, shape: tuple[int, int], ignore: Sequence[str] = ...) -> jax.Array: ...
@overload
def sequence_undistribute(inputs: _MappingT, shape: tuple[int, int], ignore: Sequence[str] = ...) -> _MappingT: ...


def sequence_undistribute(inputs: Any, shape: tuple[int, int], ignore: Sequence[str] = ()) -> Any:
    """Splits the first axis back: ``(B * T, ...) -> (B, T, ...)``; inverse of `sequence_distribute`."""
    shape = (int(shape[0]), int(shape[1]))
    if isinstance(inputs, Mapping):
        result = {key: (value if key in ignore else _unfold(value, shape)) for key, value in inputs.items()}
        return type(inputs)(result) if not isinstance(inputs, dict) else result  # type: ignore[call-arg]  # as above
    return _unfold(inputs, shape)
