"""Building optax optimizers and schedules from configs, and reading the learning rate back.

Registering a `formed.core.register_builder` rule teaches `from_config` that a parameter
annotated ``optax.GradientTransformation`` accepts::

    {"type": "adamw", "learning_rate": 1e-3, "weight_decay": 0.01}
    {"type": "adamw", "learning_rate": {"type": "warmup_cosine_decay_schedule", "init_value": 0.0,
                                        "peak_value": 1e-3, "warmup_steps": 100, "decay_steps": 1000}}
    {"type": "chain", "transforms": [{"type": "clip_by_global_norm", "max_norm": 1.0},
                                     {"type": "adam", "learning_rate": 1e-3}]}
    [{"type": "clip_by_global_norm", "max_norm": 1.0}, {"type": "adam", "learning_rate": 1e-3}]

(a list is the same chain, written shorter).

``type`` is the name of any optax function. The learning rate is wrapped with
`optax.inject_hyperparams`, so the current value sits in the optimizer state and
`learning_rate_of` can read it for logging, schedules included.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import jax
import optax

from formed.core import ConfigurationError, closest_name, register_builder


def _optax_names() -> list[str]:
    return sorted(
        name for name in dir(optax) if not name.startswith("_") and inspect.isfunction(getattr(optax, name, None))
    )


def _unknown(name: str, names: list[str]) -> str:
    suggestion = closest_name(name, names)
    hint = f"; did you mean {suggestion!r}?" if suggestion else " (type is the name of an optax function, e.g. 'adamw')"
    return f"{name!r}{hint}"


def _is_schedule_config(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("type"), str)


def build_schedule(config: Any, path: str = "") -> Any:
    """A number stays a number; ``{"type": "<optax schedule>", ...}`` becomes that schedule."""
    if not _is_schedule_config(config):
        return config
    kwargs = dict(config)
    name = kwargs.pop("type")
    factory = getattr(optax, name, None) or getattr(optax.schedules, name, None)
    if factory is None or not callable(factory):
        names = [n for n in _optax_names() if "schedule" in n]
        raise ConfigurationError(f"{path}.type" if path else "type", f"optax has no schedule {_unknown(name, names)}")
    kwargs = {key: build_schedule(value, f"{path}.{key}") for key, value in kwargs.items()}
    try:
        return factory(**kwargs)
    except TypeError as error:
        raise ConfigurationError(path, f"optax.{name}(...) failed: {error}") from error


def build_optimizer(config: Any, path: str = "") -> optax.GradientTransformation:
    """Builds an optax transformation from ``{"type": name, **kwargs}`` (see module docs)."""
    if isinstance(config, optax.GradientTransformation):
        return config
    if isinstance(config, str):
        config = {"type": config}
    if isinstance(config, (list, tuple)):
        return optax.chain(*(build_optimizer(t, f"{path}[{i}]") for i, t in enumerate(config)))
    if not isinstance(config, dict) or not isinstance(config.get("type"), str):
        raise ConfigurationError(path, f"expected an optimizer like {{'type': 'adamw', 'learning_rate': 1e-3}}, got {config!r}")
    kwargs = dict(config)
    name = kwargs.pop("type")
    type_path = f"{path}.type" if path else "type"
    if name == "chain":
        transforms = kwargs.pop("transforms", None)
        if not isinstance(transforms, (list, tuple)) or kwargs:
            raise ConfigurationError(path, "'chain' takes exactly one key, 'transforms': a list of optimizers")
        return optax.chain(*(build_optimizer(t, f"{path}.transforms[{i}]") for i, t in enumerate(transforms)))
    factory = getattr(optax, name, None)
    if factory is None or not inspect.isfunction(factory):
        raise ConfigurationError(type_path, f"optax has no optimizer {_unknown(name, _optax_names())}")
    parameters: Mapping[str, inspect.Parameter]
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        parameters = {}
    for key in kwargs:
        if parameters and key not in parameters and not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            raise ConfigurationError(f"{path}.{key}" if path else key, f"optax.{name} has no argument {key!r}; it takes {', '.join(parameters)}")
    kwargs = {key: build_schedule(value, f"{path}.{key}" if path else key) for key, value in kwargs.items()}
    try:
        if "learning_rate" in kwargs:
            static = tuple(key for key in kwargs if key != "learning_rate")
            return optax.inject_hyperparams(factory, static_args=static)(**kwargs)
        return factory(**kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigurationError(path, f"optax.{name}(...) failed: {error}") from error


def training_optimizer(
    optimizer: optax.GradientTransformation,
    *,
    accumulation_steps: int = 1,
    clip_by_global_norm: float | None = None,
    clip: float | None = None,
) -> optax.GradientTransformation:
    """`optimizer` with the engine's gradient options, all optax's own transformations:

    ``MultiSteps(chain(clip_by_global_norm(n), clip(v), optimizer), every_k_schedule=k)``

    Clipping sees the gradient that the update uses (with accumulation, the mean over the
    `accumulation_steps` micro-batches). With accumulation the wrapped optimizer, and so its
    learning-rate schedule, counts optimizer updates, not micro-batches; the partial sum lives
    in the optimizer state, so a checkpoint taken between updates resumes exactly. With every
    option at its default, `optimizer` comes back unchanged.

    >>> sgd = optax.sgd(0.1)
    >>> training_optimizer(sgd) is sgd
    True
    >>> tx = training_optimizer(sgd, accumulation_steps=4, clip_by_global_norm=1.0)
    >>> type(tx.init({"w": jax.numpy.zeros(2)})).__name__  # the partial sum lives in the state
    'MultiStepsState'

    Raises:
        ValueError: for an `accumulation_steps` below 1 or a non-positive clipping bound.
    """
    if not isinstance(accumulation_steps, int) or accumulation_steps < 1:
        raise ValueError(f"accumulation_steps must be an integer of at least 1, got {accumulation_steps!r}")
    for name, bound in (("clip_by_global_norm", clip_by_global_norm), ("clip", clip)):
        if bound is not None and not bound > 0:
            raise ValueError(f"{name} must be a positive number (or None for no clipping), got {bound!r}")
    clipping = []
    if clip_by_global_norm is not None:
        clipping.append(optax.clip_by_global_norm(clip_by_global_norm))
    if clip is not None:
        clipping.append(optax.clip(clip))
    if clipping:
        optimizer = optax.chain(*clipping, optimizer)
    if accumulation_steps > 1:
        optimizer = optax.MultiSteps(optimizer, every_k_schedule=accumulation_steps).gradient_transformation()
    return optimizer


def applied_update(opt_state: Any) -> jax.Array | None:
    """After an update of a `training_optimizer` with accumulation: whether that step applied
    the accumulated gradient (a bool array); None without accumulation (every step applies)."""
    if isinstance(opt_state, optax.MultiStepsState):
        return opt_state.mini_step == 0
    return None


def learning_rate_of(opt_state: Any) -> jax.Array | None:
    """The learning rate stored by `optax.inject_hyperparams` in `opt_state`, if any: the rate
    the latest update used (a schedule's value at the step before the current count).

    ``None`` when no transformation injects one, or when several do (``optax.multi_transform``
    with a rate per group: there is no one rate to report).

    >>> import jax.numpy as jnp
    >>> tx = optax.chain(optax.clip_by_global_norm(1.0), optax.inject_hyperparams(optax.adam)(learning_rate=0.01))
    >>> learning_rate_of(tx.init({"w": jnp.zeros(3)}))
    Array(0.01, dtype=float32)
    """
    try:
        # A schedule also keeps its own state under the name "learning_rate": take the value only.
        return optax.tree_utils.tree_get(opt_state, "learning_rate", filtering=lambda _, value: hasattr(value, "dtype"))
    except KeyError:  # several transformations inject one
        return None


def _is_optax_annotation(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, optax.GradientTransformation)


def _is_schedule_annotation(annotation: Any) -> bool:
    return annotation is optax.Schedule or annotation is optax.ScalarOrSchedule


register_builder(_is_optax_annotation, lambda annotation, value, path: build_optimizer(value, path))
register_builder(_is_schedule_annotation, lambda annotation, value, path: build_schedule(value, path))
