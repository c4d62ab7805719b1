"""Checks of a whole run before its first step: a mistake is reported where it is (the config key,
the file and line), before anything is written to the work directory or trained.

* `check_config_values`: top-level keys, and values whose range is part of their meaning
  (dropout rates in [0, 1), positive learning rates and batch sizes, intervals of at least 1, a
  learning rate that is a number or a schedule, not a string);
* `check_metric_names`: the metrics that early stopping and checkpointing watch are among those
  the evaluation reports.

>>> check_config_values({"seed": 0, "seeed": 1}, known_keys=("seed", "model"))
Traceback (most recent call last):
...
formed.core._config.ConfigurationError: seeed: unknown top-level key 'seeed'; did you mean 'seed'? Top-level keys: model, seed.
>>> check_config_values({"model": {"dropout": 1.5}}, known_keys=("model",))
Traceback (most recent call last):
...
formed.core._config.ConfigurationError: model.dropout: must be in [0, 1) (a probability of dropping), got 1.5
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable, Sequence

from formed.core import ConfigurationError, closest_name
from formed.training._callbacks import parse_metric


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    name = type(value).__name__
    return f"{value!r} (a{'n' if name[0] in 'aeiou' else ''} {name})"


def _join(path: str, key: Any) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else str(key))


def _walk(node: Any, path: str = "") -> Iterable[tuple[str, str, Any]]:
    """``(path, key, value)`` of every entry of nested dicts and lists."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, (list, tuple)) else ()
    for key, value in items:
        child = _join(path, key)
        yield child, str(key), value
        yield from _walk(value, child)


def _check_learning_rate(path: str, value: Any) -> None:
    if _is_number(value):
        if not value > 0:
            raise ConfigurationError(path, f"must be a positive number, got {value!r}")
        return
    if isinstance(value, dict):
        for key in ("value", "peak_value"):
            if key in value and _is_number(value[key]) and not value[key] > 0:
                raise ConfigurationError(_join(path, key), f"must be a positive number, got {value[key]!r}")
        for key in ("init_value", "end_value"):
            if key in value and _is_number(value[key]) and value[key] < 0:
                raise ConfigurationError(_join(path, key), f"must not be negative, got {value[key]!r}")
        return
    if callable(value):
        return
    raise ConfigurationError(
        path, f"expected a number (e.g. 1e-3) or a schedule (a dict with a 'type'), got {_describe(value)}"
    )


_AT_LEAST_ONE = ("batch_size", "max_epochs", "patience", "keep_last", "num_heads", "num_layers")


def check_config_values(config: dict[str, Any], known_keys: Sequence[str]) -> None:
    """Raises `ConfigurationError` naming the key of the first value that cannot be meant.

    Args:
        config: the plain (dict) config of a run.
        known_keys: the top-level keys a run reads.
    """
    for key in config:
        if key not in known_keys:
            close = closest_name(str(key), list(known_keys))
            hint = f"did you mean {close!r}? " if close else ""
            raise ConfigurationError(
                str(key), f"unknown top-level key {key!r}; {hint}Top-level keys: {', '.join(sorted(known_keys))}."
            )
    for path, key, value in _walk(config):
        if key == "learning_rate" or key.endswith("_learning_rate"):
            _check_learning_rate(path, value)
        elif (key == "dropout" or key.endswith("_dropout") or key.endswith("dropout_rate")) and value is not None:
            if not _is_number(value):
                raise ConfigurationError(path, f"expected a number in [0, 1), got {_describe(value)}")
            if not 0 <= value < 1:
                raise ConfigurationError(path, f"must be in [0, 1) (a probability of dropping), got {value!r}")
        elif (key in _AT_LEAST_ONE or key == "interval" or key.endswith("_interval")) and value is not None:
            if isinstance(value, str) and key.endswith("interval"):
                continue  # e.g. a strategy name next to it; the constructors check these
            if not _is_number(value) or value != int(value):
                raise ConfigurationError(path, f"expected a whole number of at least 1, got {_describe(value)}")
            if value < 1:
                raise ConfigurationError(path, f"must be at least 1, got {value!r}")


def watched_metrics(callbacks: Sequence[Any]) -> list[tuple[int, str]]:
    """``(position, metric name)`` of the callbacks that watch a validation metric (early stopping,
    checkpointing's best model): their ``metric`` attribute, without its sign."""
    watched = []
    for position, callback in enumerate(callbacks):
        metric = getattr(callback, "metric", None)
        if isinstance(metric, str):
            watched.append((position, parse_metric(metric)[0]))
    return watched


def check_metric_names(callbacks: Sequence[Any], reported: Iterable[str], val_prefix: str = "val/", path: str = "trainer.callbacks") -> None:
    """Raises `ConfigurationError` (``trainer.callbacks[3].metric: 'acuracy' is not reported; did
    you mean 'accuracy'?``) for a watched metric the evaluation does not report.

    >>> class Watcher:
    ...     metric = "+acuracy"
    >>> check_metric_names([Watcher()], ["loss", "accuracy"])
    Traceback (most recent call last):
    ...
    formed.core._config.ConfigurationError: trainer.callbacks[0].metric: 'acuracy' is not reported; did you mean 'accuracy'? The evaluation reports: accuracy, loss.
    """
    names = sorted(set(reported))
    for position, name in watched_metrics(callbacks):
        bare = name[len(val_prefix):] if val_prefix and name.startswith(val_prefix) else name
        if bare in names:
            continue
        close = closest_name(bare, names)
        hint = f"did you mean {close!r}? " if close else ""
        raise ConfigurationError(
            f"{path}[{position}].metric", f"{name!r} is not reported; {hint}The evaluation reports: {', '.join(names)}."
        )
