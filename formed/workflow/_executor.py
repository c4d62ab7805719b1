"""Running a workflow: a set of named step configs whose arguments may refer to other steps.

    workflow = Workflow({
        "words": {"type": "data::count_words", "texts": ["a b", "b c"]},
        "top": {"type": "data::top_word", "counts": {"type": "ref", "ref": "words"}},
    }, cache_dir="/tmp/cache")
    results = workflow.run()          # {"words": {...}, "top": "b"}

Every step's config is checked when the workflow is created (step types, references, argument
names, nested component types and keys), so a mistake is reported, naming the step and key,
before any step runs. Steps run in dependency order. Each step's cache key (see
`formed.workflow._fingerprint`) covers its name, version, configuration, the content of the files
it names, and the keys of the steps it refers to: changing an upstream step reruns everything
downstream, and nothing else. ``force=["train"]`` reruns a step and everything that depends on
it. A step that has a ``random_seed`` argument builds its arguments and runs inside
``use_rngs(random_seed)``, so the modules its config builds draw their parameters from that seed.

With a cache, each step runs with a `formed.workflow.StepContext`: a work directory that survives
a kill (``flax::train`` keeps its checkpoints there, so a rerun resumes) and a TensorBoard
directory ``<cache_dir>/tensorboard/<workflow name>-<key>/<step name>``, where the key hashes the
workflow's fingerprints: a rerun of the same workflow continues the same curves, a changed one gets
a new directory beside the old, and ``tensorboard --logdir <cache_dir>/tensorboard`` compares them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import time
import typing
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping

from formed.core import ConfigurationError, check_config, closest_name, from_config, unknown_name_message, use_rngs
from formed.workflow._cache import StepCache
from formed.workflow._context import StepContext, running_step
from formed.workflow._fingerprint import step_fingerprint
from formed.workflow._format import default_format_for
from formed.workflow._refs import is_ref, refs_in, substitute
from formed.workflow._step import StepDefinition, get_step

Action = Literal["run", "cached", "skip"]


@dataclasses.dataclass(frozen=True)
class PlannedStep:
    """What a run will do with one step, and why."""

    name: str
    fingerprint: str
    action: Action
    reason: str


@dataclasses.dataclass(frozen=True)
class StepReport:
    """What happened to one step: ``"running"`` (reported when it starts), ``"ran"``,
    ``"cached"``, ``"skipped"`` or ``"failed"``; `path` is where its result lives in the cache."""

    name: str
    status: str
    fingerprint: str
    path: Path | None = None
    seconds: float | None = None
    reason: str = ""


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


def _type_hints(definition: StepDefinition) -> dict[str, Any]:
    try:
        return typing.get_type_hints(definition.function)
    except Exception:
        return {}


def base_name(name: str) -> str:
    """A step's name without its sweep variant: ``train[learning_rate=0.01]`` -> ``train``."""
    return name.split("[", 1)[0]


class Workflow:
    """A graph of steps given as ``{step_name: config}``; see the module docstring.

    Args:
        steps: ``{name: {"type": <registered step or "module:function">, **arguments}}``.
        cache_dir: where results are cached (None: nothing is cached, every step runs).
        name: names the workflow's TensorBoard directory and its cache entries.

    Raises:
        ConfigurationError: naming ``steps.<step>.<key>`` for any mistake in the configs.
    """

    def __init__(
        self,
        steps: Mapping[str, Mapping[str, Any]],
        cache_dir: str | os.PathLike[str] | None = None,
        name: str = "workflow",
    ) -> None:
        self.steps = {step_name: dict(config) for step_name, config in steps.items()}
        self.name = name
        self.cache = StepCache(cache_dir) if cache_dir is not None else None
        self._definitions = {step_name: self._definition(step_name, config) for step_name, config in self.steps.items()}
        self.order = self._topological_order()
        for step_name in self.order:
            self._check_arguments(step_name)
        self.fingerprints = self._fingerprints()
        self._results: dict[str, Any] = {}

    # Checking the configs --------------------------------------------------------------------

    def _definition(self, name: str, config: Mapping[str, Any]) -> StepDefinition:
        if "type" not in config:
            raise ConfigurationError(f"steps.{name}", "a step needs a 'type' key naming a registered step")
        try:
            return get_step(config["type"])
        except KeyError as error:
            raise ConfigurationError(f"steps.{name}.type", error.args[0]) from None

    def _topological_order(self) -> list[str]:
        for name, config in self.steps.items():
            for ref in refs_in(config):
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
            for ref in refs_in(self.steps[name]):
                visit(ref, chain + [name])
            state[name] = "done"
            order.append(name)

        for name in self.steps:
            visit(name, [])
        return order

    def _check_arguments(self, name: str) -> None:
        """Argument names, and every nested component type and key, without building anything."""
        definition = self._definitions[name]
        parameters = definition.signature.parameters
        hints = _type_hints(definition)
        config = {key: value for key, value in self.steps[name].items() if key != "type"}
        for key, value in config.items():
            if key not in parameters:
                suggestion = closest_name(key, list(parameters))
                hint = f"did you mean {suggestion!r}? " if suggestion else ""
                raise ConfigurationError(
                    f"steps.{name}.{key}",
                    f"unexpected argument of step {definition.name!r}; {hint}accepted: {', '.join(parameters)}",
                )
            check_config(hints.get(key, parameters[key].annotation), value, path=f"steps.{name}.{key}", is_deferred=is_ref)
        for key, parameter in parameters.items():
            if key not in config and parameter.default is parameter.empty:
                raise ConfigurationError(f"steps.{name}.{key}", f"missing required argument of step {definition.name!r}")

    def _fingerprints(self) -> dict[str, str]:
        fingerprints: dict[str, str] = {}
        for name in self.order:
            definition = self._definitions[name]
            config = {key: value for key, value in self.steps[name].items() if key != "type"}
            fingerprints[name] = step_fingerprint(definition.name, definition.version, config, fingerprints)
        return fingerprints

    # Planning --------------------------------------------------------------------------------

    def dependents(self, names: Iterable[str]) -> set[str]:
        """`names` and every step that depends on them, directly or not."""
        found = set(names)
        for name in self.order:  # dependencies come first
            if any(ref in found for ref in refs_in(self.steps[name])):
                found.add(name)
        return found

    def resolve_names(self, names: Iterable[str], what: str = "force") -> list[str]:
        """Step names, where a sweep's base name (``train``) stands for all its variants.

        Raises:
            ValueError: naming `what` and the closest step for a name that matches none.
        """
        resolved: list[str] = []
        for requested in names:
            matches = [name for name in self.order if name == requested or base_name(name) == requested]
            if not matches:
                raise ValueError(f"{what}: {unknown_name_message(requested, self.order)}")
            resolved.extend(matches)
        return resolved

    def _is_cached(self, name: str) -> bool:
        return self.cache is not None and self._definitions[name].cacheable and self.cache.has(self.fingerprints[name])

    def plan(self, targets: list[str] | None = None, force: Iterable[str] = ()) -> list[PlannedStep]:
        """What `run` would do, in order: each step runs (with the reason), comes from the cache,
        or is skipped (nothing that runs needs it). Reads and writes nothing but the cache index.

        `force` names steps to rerun even if cached, with everything that depends on them.
        """
        forced_roots = set(self.resolve_names(force))
        forced = self.dependents(forced_roots)
        reasons: dict[str, str] = {}
        for name in self.order:
            if name in forced_roots:
                reasons[name] = "forced"
            elif name in forced:
                upstream = next(ref for ref in refs_in(self.steps[name]) if ref in forced)
                reasons[name] = f"depends on {upstream!r}, which reruns"
            elif self.cache is None:
                reasons[name] = "no cache"
            elif not self._definitions[name].cacheable:
                reasons[name] = "never cached"
            elif not self._is_cached(name):
                reasons[name] = "not cached"
        needed: set[str] = set()
        pending = list(self.resolve_names(targets, "targets") if targets is not None else self.order)
        while pending:
            name = pending.pop()
            if name not in needed:
                needed.add(name)
                if name in reasons:
                    pending.extend(refs_in(self.steps[name]))
        planned = []
        action: Action
        for name in self.order:
            if name not in needed:
                action, reason = "skip", "not needed: what uses it is cached"
            elif name in reasons:
                action, reason = "run", reasons[name]
            else:
                action, reason = "cached", "cached"
            planned.append(PlannedStep(name, self.fingerprints[name], action, reason))
        return planned

    # Running ---------------------------------------------------------------------------------

    @property
    def tensorboard_run(self) -> str:
        """This workflow's directory under ``<cache_dir>/tensorboard``."""
        key = hashlib.sha256("".join(self.fingerprints[name] for name in self.order).encode()).hexdigest()[:8]
        return f"{self.name}-{key}"

    def execute(
        self,
        targets: list[str] | None = None,
        force: Iterable[str] = (),
        report: Callable[[StepReport], None] | None = None,
    ) -> list[StepReport]:
        """Runs what `plan` says, reporting each step to `report` as it starts and ends.

        Cached results are not read unless a step that runs needs them.
        """
        planned = self.plan(targets, force)
        fresh = {step.name for step in planned if step.reason == "forced" or "which reruns" in step.reason}
        reports = []
        for step in planned:
            if step.action == "run":
                if report is not None:
                    report(StepReport(step.name, "running", step.fingerprint, reason=step.reason))
                try:
                    result = self._run_step(step.name, fresh=step.name in fresh)
                except Exception as error:
                    if report is not None:
                        report(StepReport(step.name, "failed", step.fingerprint, reason=f"{type(error).__name__}: {error}"))
                    raise
            else:
                path = self.cache.path_for(step.fingerprint) if step.action == "cached" and self.cache else None
                result = StepReport(step.name, "cached" if step.action == "cached" else "skipped", step.fingerprint, path, reason=step.reason)
            reports.append(result)
            if report is not None:
                report(result)
        return reports

    def run(self, targets: list[str] | None = None, force: Iterable[str] = ()) -> dict[str, Any]:
        """Runs `targets` (default: every step) and what they need; returns their results.

        A step whose result is in the cache is read from it, and what it depends on is not run
        (unless another step that must run needs it).
        """
        self.execute(targets, force)
        return {name: self.result(name) for name in (self.resolve_names(targets, "targets") if targets else self.order)}

    def result(self, name: str) -> Any:
        """The result of step `name` from this run, else from the cache.

        Raises:
            KeyError: if the step has neither run nor been cached.
        """
        if name not in self._results:
            if self.cache is None or not self._is_cached(name):
                raise KeyError(f"step {name!r} has no result: it has not run and is not cached")
            self._results[name] = self.cache.load(self.fingerprints[name])
        return self._results[name]

    def _run_step(self, name: str, fresh: bool) -> StepReport:
        definition = self._definitions[name]
        fingerprint = self.fingerprints[name]
        cache = self.cache if definition.cacheable else None
        with cache.lock(fingerprint) if cache is not None else contextlib.nullcontext():
            if cache is not None and not fresh and cache.has(fingerprint):
                # Another process sharing the cache finished it while this one waited.
                return StepReport(name, "cached", fingerprint, cache.path_for(fingerprint), reason="finished by another process")
            started = time.monotonic()
            context = self._context(name, fresh)
            if context.work_dir is not None and fresh:
                shutil.rmtree(context.work_dir, ignore_errors=True)
            config = {key: value for key, value in self.steps[name].items() if key != "type"}
            inputs = {ref: self.result(ref) for ref in refs_in(config)}
            config = substitute(config, inputs, where=f"steps.{name}")
            with running_step(context), _seeded(definition, config):
                arguments = self._arguments(name, definition, config)
                result = definition.function(**arguments)
            self._results[name] = result
            path = None
            if cache is not None:
                format = definition.format or default_format_for(result)
                path = cache.save(
                    fingerprint, result, format, definition.name, name=name, workflow=self.name, config=self.steps[name]
                )
                if context.work_dir is not None:
                    shutil.rmtree(context.work_dir, ignore_errors=True)
            return StepReport(name, "ran", fingerprint, path, time.monotonic() - started)

    def _context(self, name: str, fresh: bool) -> StepContext:
        config = self.steps[name]
        if self.cache is None or not self._definitions[name].cacheable:
            return StepContext(name, self.fingerprints[name], config, fresh=fresh)
        return StepContext(
            name,
            self.fingerprints[name],
            config,
            work_dir=self.cache.work_dir(self.fingerprints[name]),
            tensorboard_dir=self.cache.root / "tensorboard" / self.tensorboard_run / name,
            fresh=fresh,
        )

    @staticmethod
    def _arguments(name: str, definition: StepDefinition, config: Mapping[str, Any]) -> dict[str, Any]:
        parameters = definition.signature.parameters
        hints = _type_hints(definition)
        return {
            key: from_config(hints.get(key, parameters[key].annotation), value, path=f"steps.{name}.{key}")
            for key, value in config.items()
        }
