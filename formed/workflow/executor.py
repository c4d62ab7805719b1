"""Running a workflow: a set of named step configs whose arguments may refer to other steps.

    workflow = Workflow({
        "words": {"type": "data::count_words", "texts": ["a b", "b c"]},
        "top": {"type": "data::top_word", "counts": {"type": "ref", "ref": "words"}},
    }, cache_dir="/tmp/cache")
    results = workflow.run()          # {"words": {...}, "top": "b"}

Steps run in dependency order. Each step's cache key (fingerprint) covers its name, version and
configuration, with every ``ref`` replaced by the fingerprint of the step it names: changing an
upstream step re-runs everything downstream, and nothing else. A step that has a ``random_seed``
argument builds its arguments and runs inside ``use_rngs(random_seed)``, so the modules its config
builds draw their parameters from that seed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from typing import Any, Mapping

from formed.core import ConfigurationError, from_config, use_rngs
from formed.core.registrable import unknown_name_message
from formed.workflow.cache import StepCache
from formed.workflow.format import default_format_for
from formed.workflow.step import StepDefinition, get_step

logger = logging.getLogger(__name__)


def _is_ref(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("type") == "ref" and set(value) == {"type", "ref"}


def _refs_in(value: Any) -> list[str]:
    if _is_ref(value):
        return [value["ref"]]
    if isinstance(value, Mapping):
        return [ref for item in value.values() for ref in _refs_in(item)]
    if isinstance(value, (list, tuple)):
        return [ref for item in value for ref in _refs_in(item)]
    return []


def _substitute(value: Any, replacement: Mapping[str, Any]) -> Any:
    if _is_ref(value):
        return replacement[value["ref"]]
    if isinstance(value, Mapping):
        return {key: _substitute(item, replacement) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_substitute(item, replacement) for item in value]
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))


def _seeded(definition: StepDefinition, config: Mapping[str, Any]) -> contextlib.AbstractContextManager[Any]:
    """For a step with a ``random_seed`` argument: ``use_rngs(seed)`` while its components are
    built and it runs, so modules in its config get their parameters from the step's seed (the
    value in the config, else the argument's default). A nullcontext for other steps."""
    parameter = definition.signature.parameters.get("random_seed")
    if parameter is None:
        return contextlib.nullcontext()
    seed = config.get("random_seed", parameter.default)
    if not isinstance(seed, int) or isinstance(seed, bool):
        return contextlib.nullcontext()
    return use_rngs(seed)


class Workflow:
    """A graph of steps given as ``{step_name: config}``; see the module docstring."""

    def __init__(self, steps: Mapping[str, Mapping[str, Any]], cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.steps = {name: dict(config) for name, config in steps.items()}
        self.cache = StepCache(cache_dir) if cache_dir is not None else None
        self._definitions = {name: self._definition(name, config) for name, config in self.steps.items()}
        self.order = self._topological_order()
        self.fingerprints = self._fingerprints()

    def _definition(self, name: str, config: Mapping[str, Any]) -> StepDefinition:
        if "type" not in config:
            raise ConfigurationError(f"steps.{name}", "a step needs a 'type' key naming a registered step")
        try:
            return get_step(config["type"])
        except KeyError as error:
            raise ConfigurationError(f"steps.{name}.type", error.args[0]) from None

    def _topological_order(self) -> list[str]:
        for name, config in self.steps.items():
            for ref in _refs_in(config):
                if ref not in self.steps:
                    raise ConfigurationError(f"steps.{name}", "refers to " + unknown_name_message(ref, list(self.steps)))
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str, chain: list[str]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "active":
                cycle = " -> ".join(chain[chain.index(name) :] + [name])
                raise ConfigurationError(f"steps.{name}", f"steps refer to each other in a cycle: {cycle}")
            state[name] = "active"
            for ref in _refs_in(self.steps[name]):
                visit(ref, chain + [name])
            state[name] = "done"
            order.append(name)

        for name in self.steps:
            visit(name, [])
        return order

    def _fingerprints(self) -> dict[str, str]:
        fingerprints: dict[str, str] = {}
        for name in self.order:
            definition = self._definitions[name]
            keyed = _substitute(self.steps[name], {ref: {"ref": fingerprints[ref]} for ref in _refs_in(self.steps[name])})
            payload = _canonical({"step": definition.name, "version": definition.version, "config": keyed})
            fingerprints[name] = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
        return fingerprints

    def run(self, targets: list[str] | None = None) -> dict[str, Any]:
        """Runs `targets` (default: every step) and what they depend on; returns their results.

        A step whose result is in the cache is read from it, and what it depends on is not run
        (unless another step that must run needs it).
        """
        needed = self._closure(targets or list(self.steps))
        results: dict[str, Any] = {}
        for name in self.order:
            if name in needed:
                results[name] = self._run_step(name, results)
        return {name: results[name] for name in (targets or self.order)}

    def _is_cached(self, name: str) -> bool:
        return self.cache is not None and self._definitions[name].cacheable and self.cache.has(self.fingerprints[name])

    def _closure(self, targets: list[str]) -> set[str]:
        """`targets` and, through the refs of every step that has to run, what they need."""
        needed: set[str] = set()
        pending = list(targets)
        while pending:
            name = pending.pop()
            if name not in self.steps:
                raise KeyError(unknown_name_message(name, list(self.steps)))
            if name not in needed:
                needed.add(name)
                if not self._is_cached(name):
                    pending.extend(_refs_in(self.steps[name]))
        return needed

    def _run_step(self, name: str, results: Mapping[str, Any]) -> Any:
        definition = self._definitions[name]
        fingerprint = self.fingerprints[name]
        if self._is_cached(name):
            logger.info("step %s: cached (%s)", name, fingerprint)
            return self.cache.load(fingerprint)
        logger.info("step %s: running %s", name, definition.name)
        config = _substitute({k: v for k, v in self.steps[name].items() if k != "type"}, results)
        with _seeded(definition, config):
            arguments = self._arguments(name, definition, config)
            result = definition.function(**arguments)
        if self.cache is not None and definition.cacheable:
            format = definition.format or default_format_for(result)
            self.cache.save(fingerprint, result, format, definition.name)
        return result

    @staticmethod
    def _arguments(name: str, definition: StepDefinition, config: Mapping[str, Any]) -> dict[str, Any]:
        import typing

        parameters = definition.signature.parameters
        try:
            hints = typing.get_type_hints(definition.function)
        except Exception:
            hints = {}
        arguments: dict[str, Any] = {}
        for key, value in config.items():
            if key not in parameters:
                raise ConfigurationError(
                    f"steps.{name}.{key}",
                    f"unexpected argument of step {definition.name!r}; accepted: {', '.join(parameters)}",
                )
            arguments[key] = from_config(hints.get(key, parameters[key].annotation), value, path=f"steps.{name}.{key}")
        for key, parameter in parameters.items():
            if key not in arguments and parameter.default is parameter.empty:
                raise ConfigurationError(f"steps.{name}.{key}", f"missing required argument of step {definition.name!r}")
        return arguments
