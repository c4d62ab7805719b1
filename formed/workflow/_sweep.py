"""Sweeps: one workflow config, several values of a key, and a table to compare them.

A workflow config's ``sweep`` gives a key of a step, ``"<step>.<key path>"``, and a list of values
(a list of such entries sweeps a grid of their combinations)::

    config.sweep = dict(key="train.trainer.engine.optimizer.learning_rate", values=[1e-3, 3e-3, 1e-2])
    config.sweep = [dict(key="train.random_seed", values=[0, 1]), dict(key=..., values=[...])]

`expand_sweep` turns the steps into one copy of the swept step per value (for several keys: per
combination) named after it, ``train[learning_rate=0.001]``, together with a copy of every step
that depends on it (its evaluation, ...), while the steps upstream (loading and fitting the data)
stay shared, so they run once. A final step, ``sweep_table`` (``sweep::table``), collects the
metrics of every copy of the steps that report metrics (those returning ``dict[str, float]``, such
as ``flax::evaluate``) into one row per value.

>>> steps = {"data": {"type": "d"}, "train": {"type": "t", "lr": 0.1, "data": {"type": "ref", "ref": "data"}},
...          "metrics": {"type": "e", "model": {"type": "ref", "ref": "train"}}}
>>> sorted(expand_sweep(steps, {"train.lr": [0.1, 0.2]}, metric_steps=["metrics"]))
['data', 'metrics[lr=0.1]', 'metrics[lr=0.2]', 'sweep_table', 'train[lr=0.1]', 'train[lr=0.2]']
>>> print(format_table(tabulate_sweep([{"variant": "lr=0.1", "values": {"lr": 0.1}, "metrics": {"metrics": {"accuracy": 0.5}}}])))
variant  lr   metrics/accuracy
lr=0.1   0.1  0.5
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import typing
from typing import Any, Iterable, Mapping, Sequence

from formed.core import ConfigurationError, closest_name, unknown_name_message
from formed.workflow._refs import map_refs, ref, refs_in
from formed.workflow._step import get_step, step

TABLE_STEP = "sweep_table"
_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


def _parse_key(key: str) -> list[str | int]:
    """``"a.b[2].c"`` -> ``["a", "b", 2, "c"]``."""
    parts: list[str | int] = []
    for part in key.split("."):
        indices: list[int] = []
        while (match := _INDEX.match(part)) is not None:
            part, index = match.group(1), int(match.group(2))
            indices.insert(0, index)
        parts.append(part)
        parts.extend(indices)
    return parts


def _set(config: dict[str, Any], path: list[str | int], value: Any, where: str) -> None:
    node: Any = config
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                raise ConfigurationError(where, f"{_describe(path[:depth])} has no item {part}")
        elif not isinstance(node, dict):
            raise ConfigurationError(where, f"{_describe(path[:depth])} is not a dict, so it has no key {part!r}")
        elif part not in node and not last:
            suggestion = closest_name(part, [str(key) for key in node])
            hint = f"; did you mean {suggestion!r}?" if suggestion else ""
            raise ConfigurationError(where, f"{_describe(path[:depth])} has no key {part!r}{hint}")
        if last:
            node[part] = copy.deepcopy(value)
        else:
            node = node[part]


def _describe(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return f"the step's {text!r}" if text else "the step's config"


def _format_value(value: Any) -> str:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def normalize_sweep(spec: Any) -> dict[str, list[Any]]:
    """``{"<step>.<key path>": [values]}`` from a config's ``sweep``: one ``{"key", "values"}``
    entry, a list of them, or (from Python, where keys may contain dots) that dict itself.

    >>> normalize_sweep({"key": "train.random_seed", "values": [0, 1]})
    {'train.random_seed': [0, 1]}

    Raises:
        ConfigurationError: naming ``sweep`` (or ``sweep[i]``) and what is expected.
    """
    if not spec:
        return {}
    entries = [spec] if isinstance(spec, Mapping) and set(spec) == {"key", "values"} else spec
    if isinstance(entries, Mapping):
        return {str(key): values for key, values in entries.items()}
    if not isinstance(entries, (list, tuple)):
        raise ConfigurationError("sweep", f"expected dict(key='<step>.<key>', values=[...]) or a list of them, got {spec!r}")
    normalized: dict[str, list[Any]] = {}
    for index, entry in enumerate(entries):
        where = f"sweep[{index}]" if entries is not spec or len(entries) > 1 else "sweep"
        if not isinstance(entry, Mapping) or set(entry) != {"key", "values"}:
            raise ConfigurationError(where, f"expected dict(key='<step>.<key>', values=[...]), got {entry!r}")
        normalized[str(entry["key"])] = entry["values"]
    return normalized


def reports_metrics(step_type: str) -> bool:
    """Whether the step registered as `step_type` returns metrics (``dict[str, float]``)."""
    try:
        returned = typing.get_type_hints(get_step(step_type).function).get("return")
    except Exception:
        return False
    origin = typing.get_origin(returned)
    return origin in (dict, typing.Dict, Mapping) and typing.get_args(returned)[1:] == (float,)


def _dependents(steps: Mapping[str, Mapping[str, Any]], roots: Iterable[str]) -> set[str]:
    found = set(roots)
    changed = True
    while changed:
        changed = False
        for name, config in steps.items():
            if name not in found and any(r in found for r in refs_in(config)):
                found.add(name)
                changed = True
    return found


def expand_sweep(
    steps: Mapping[str, Mapping[str, Any]],
    sweep: Mapping[str, Sequence[Any]],
    metric_steps: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The steps of a workflow with its `sweep` expanded (see the module docstring).

    Args:
        steps: ``{name: config}`` of the workflow.
        sweep: ``{"<step>.<key path>": [values...]}`` (see `normalize_sweep`); several keys make
            a grid.
        metric_steps: names of the steps whose results go into the table; by default every step
            depending on a swept one whose type returns ``dict[str, float]``.

    Raises:
        ConfigurationError: naming ``sweep.<key>`` for an unknown step or key, or an empty list;
            naming ``sweep`` when no step reports metrics to tabulate.
    """
    plain: dict[str, dict[str, Any]] = {name: dict(config) for name, config in steps.items()}
    if not sweep:
        return plain
    if TABLE_STEP in plain:
        raise ConfigurationError(f"steps.{TABLE_STEP}", "this name is taken by the sweep's table; rename the step")
    keys: list[tuple[str, str, list[str | int]]] = []
    for key, values in sweep.items():
        step_name, _, rest = key.partition(".")
        if step_name not in plain:
            raise ConfigurationError(f"sweep.{key}", "names " + unknown_name_message(step_name, list(plain)))
        if not rest:
            raise ConfigurationError(f"sweep.{key}", "give a key of the step: '<step>.<key>', e.g. 'train.random_seed'")
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ConfigurationError(f"sweep.{key}", f"expected a non-empty list of values, got {values!r}")
        path = _parse_key(rest)
        _set(copy.deepcopy(plain[step_name]), path, values[0], f"sweep.{key}")  # checks the path
        keys.append((key, step_name, path))
    short = [key.rsplit(".", 1)[-1] for key, _, _ in keys]
    labels = [s if short.count(s) == 1 else key.partition(".")[2] for s, (key, _, _) in zip(short, keys)]
    affected = _dependents(plain, {step_name for _, step_name, _ in keys})
    if metric_steps is None:
        metric_steps = [name for name in plain if name in affected and reports_metrics(plain[name].get("type", ""))]
    if not metric_steps:
        raise ConfigurationError(
            "sweep",
            f"no step that depends on {sorted({s for _, s, _ in keys})} reports metrics; add one (e.g. a "
            "'flax::evaluate' step referring to the trained model) so the sweep has something to compare",
        )

    expanded = {name: config for name, config in plain.items() if name not in affected}
    rows = []
    for combination in itertools.product(*(sweep[key] for key, _, _ in keys)):
        variant = ",".join(f"{label}={_format_value(value)}" for label, value in zip(labels, combination))
        names = {name: f"{name}[{variant}]" for name in affected}
        for name in plain:
            if name not in affected:
                continue
            config = map_refs(plain[name], lambda r: {**r, "ref": names.get(r["ref"], r["ref"])})
            for (key, step_name, path), value in zip(keys, combination):
                if step_name == name:
                    _set(config, path, value, f"sweep.{key}")
            expanded[names[name]] = config
        rows.append(
            {
                "variant": variant,
                "values": dict(zip(labels, combination)),
                "metrics": {name: ref(names[name]) for name in metric_steps},
            }
        )
    expanded[TABLE_STEP] = {"type": "sweep::table", "rows": rows}
    return expanded


@step("sweep::table")
def tabulate_sweep(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per swept value: ``variant``, the swept values, then ``<step>/<metric>``.

    Args:
        rows: ``[{"variant": ..., "values": {key: value}, "metrics": {step: {metric: value}}}]``.
    """
    table = []
    for row in rows:
        flat: dict[str, Any] = {"variant": row["variant"], **row["values"]}
        for step_name, metrics in row["metrics"].items():
            for metric, value in sorted(metrics.items()):
                flat[f"{step_name}/{metric}"] = value
        table.append(flat)
    return table


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """`rows` as an aligned plain-text table (floats with 4 significant digits)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(column for column in row if column not in columns)

    def cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else ("" if value is None else str(value))

    cells = [columns] + [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip() for line in cells)

