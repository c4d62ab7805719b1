"""The `run` binary: runs a workflow config, step by step, caching every result.

    tools/bazel run //formed/workflow:run -- \\
        --config=formed/workflow/configs/text_classifier.py --cache_dir=/tmp/formed/cache \\
        [--import=my_project.steps] [--force=train] [--dry_run]

Prints, for each step, whether it ran or came from the cache and where its result lives; a rerun
with nothing changed runs nothing. ``--dry_run`` prints the plan (what would run and why) and
changes nothing; ``--force=STEP`` (repeatable, or comma-separated) reruns a step and everything
that depends on it. Every step's config is checked first: a mistake is reported, naming the step
and key, before any step runs. A sweep ends with its table of metrics. Relative paths are taken
from the directory `bazel run` was started in. List and remove cached results with
``//formed/workflow:cache``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from absl import flags
from ml_collections import config_flags

from formed.core import ConfigurationError
from formed.training import cli
from formed.workflow import StepCache, StepReport, Workflow
from formed.workflow._sweep import TABLE_STEP, format_table
from formed.workflow._workflow_config import workflow_from_config

_CONFIG = config_flags.DEFINE_config_file("config", None, "Workflow config file (get_config() returns the steps).")
_CACHE_DIR = flags.DEFINE_string("cache_dir", None, "Directory of cached step results (shareable by workflows).", required=True)
_FORCE = flags.DEFINE_multi_string("force", [], "Step to rerun with everything that depends on it (repeatable, or a,b).")
_DRY_RUN = flags.DEFINE_boolean("dry_run", False, "Print what would run and why; run nothing.")
flags.mark_flag_as_required("config")


def _cache_of(workflow: Workflow) -> StepCache:
    """The workflow's cache, which this binary always gives it (--cache_dir is required)."""
    if workflow.cache is None:
        raise ValueError(f"workflow {workflow.name} has no cache directory; pass --cache_dir")
    return workflow.cache


def _print_plan(workflow: Workflow, force: list[str]) -> None:
    planned = workflow.plan(force=force)
    running = sum(step.action == "run" for step in planned)
    cache = _cache_of(workflow)
    print(f"plan of workflow {workflow.name} (cache {cache.root}): {running} of {len(planned)} steps would run")
    width = max(len(step.name) for step in planned)
    for step in planned:
        where = result_location(cache.path_for(step.fingerprint)) if step.action == "cached" else step.reason
        print(f"  {step.name.ljust(width)}  {'would run' if step.action == 'run' else step.action:9}  {where}")
    print("nothing would run: every step is cached" if running == 0 else "dry run: nothing was run", flush=True)


def result_location(path: Path | None) -> Path | None:
    """What to show of a cached result at `path`: its artifact's one file (``artifact.json``,
    ``predictions.jsonl``), else its artifact directory (e.g. an exported model)."""
    if path is None:
        return None
    artifact = path / "artifact"
    files = list(artifact.iterdir()) if artifact.is_dir() else []
    return files[0] if len(files) == 1 and files[0].is_file() else artifact


def _reporter(workflow: Workflow):  # noqa: ANN202
    width = max(len(name) for name in workflow.order)
    position = {name: index + 1 for index, name in enumerate(workflow.order)}

    def report(step: StepReport) -> None:
        prefix = f"[{position[step.name]}/{len(position)}] {step.name.ljust(width)}"
        if step.status == "running":
            print(f"{prefix}  running ({step.reason})", flush=True)
        elif step.status == "ran":
            where = f" -> {result_location(step.path)}" if step.path else ""
            print(f"{prefix}  ran in {step.seconds:.1f} s{where}", flush=True)
        elif step.status == "cached":
            print(f"{prefix}  cached -> {result_location(step.path)}", flush=True)
        elif step.status == "failed":
            print(f"{prefix}  failed ({step.reason})", flush=True)
        else:
            print(f"{prefix}  skipped ({step.reason})", flush=True)

    return report


def main(argv: list[str]) -> None:
    """Runs (or with --dry_run, plans) the workflow; `cli.main` has imported the --import modules
    and prints a user error (ValueError, TypeError, KeyError, FileNotFoundError) as one line."""
    config_path = config_flags.get_config_filename(flags.FLAGS["config"])
    # "file.py:argument" passes an argument to get_config(); the workflow is named after the file.
    name = os.path.splitext(os.path.basename(config_path.split(".py:", 1)[0] + ".py"))[0]
    force = [item for value in _FORCE.value for item in value.split(",") if item]
    try:
        workflow = workflow_from_config(_CONFIG.value, cache_dir=_CACHE_DIR.value, name=name)
        workflow.plan(force=force)  # checks the --force names
    except ConfigurationError as error:
        cli.fail(f"{config_path}: {error}")
    except ValueError as error:
        cli.fail(f"--{error}")
    if _DRY_RUN.value:
        _print_plan(workflow, force)
        return
    started = time.monotonic()
    # A step that fails is named by the reporter; a user error's message follows (see cli.main).
    reports = workflow.execute(force=force, report=_reporter(workflow))
    ran = sum(report.status == "ran" for report in reports)
    cached = sum(report.status == "cached" for report in reports)
    if ran == 0:
        print(f"nothing to run: all {cached} steps are cached", flush=True)
    else:
        print(f"done in {time.monotonic() - started:.1f} s: {ran} ran, {cached} cached", flush=True)
    if TABLE_STEP in workflow.steps:
        print(f"\n{format_table(workflow.result(TABLE_STEP))}", flush=True)
    tensorboard = _cache_of(workflow).root / "tensorboard"
    if tensorboard.is_dir():
        print(f"\ncompare training runs: tensorboard --logdir {tensorboard}", flush=True)


if __name__ == "__main__":
    cli.main(main, flags_parser=cli.parse_config_flags)
