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
import sys
import time

from absl import app, flags, logging
from ml_collections import config_flags

from formed.core import ConfigurationError
from formed.workflow import StepReport, Workflow
from formed.workflow.sweep import TABLE_STEP, format_table
from formed.workflow.workflow_config import import_modules, workflow_from_config

_CONFIG = config_flags.DEFINE_config_file("config", None, "Workflow config file (get_config() returns the steps).")
_CACHE_DIR = flags.DEFINE_string("cache_dir", None, "Directory of cached step results (shareable by workflows).")
_IMPORT = flags.DEFINE_multi_string("import", [], "Module (dotted name or .py file) to import first, e.g. to register steps.")
_FORCE = flags.DEFINE_multi_string("force", [], "Step to rerun with everything that depends on it (repeatable, or a,b).")
_DRY_RUN = flags.DEFINE_boolean("dry_run", False, "Print what would run and why; run nothing.")
flags.mark_flags_as_required(["config", "cache_dir"])


def _fail(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    sys.exit(1)


def _print_plan(workflow: Workflow, force: list[str]) -> None:
    planned = workflow.plan(force=force)
    running = sum(step.action == "run" for step in planned)
    print(f"plan of workflow {workflow.name} (cache {workflow.cache.root}): {running} of {len(planned)} steps would run")  # type: ignore[union-attr]
    width = max(len(step.name) for step in planned)
    for step in planned:
        where = workflow.cache.path_for(step.fingerprint) if step.action == "cached" else step.reason  # type: ignore[union-attr]
        print(f"  {step.name.ljust(width)}  {'would run' if step.action == 'run' else step.action:9}  {where}")
    print("nothing would run: every step is cached" if running == 0 else "dry run: nothing was run", flush=True)


def _reporter(workflow: Workflow):  # noqa: ANN202
    width = max(len(name) for name in workflow.order)
    position = {name: index + 1 for index, name in enumerate(workflow.order)}

    def report(step: StepReport) -> None:
        prefix = f"[{position[step.name]}/{len(position)}] {step.name.ljust(width)}"
        if step.status == "running":
            print(f"{prefix}  running ({step.reason})", flush=True)
        elif step.status == "ran":
            where = f" -> {step.path}" if step.path else ""
            print(f"{prefix}  ran in {step.seconds:.1f} s{where}", flush=True)
        elif step.status == "cached":
            print(f"{prefix}  cached -> {step.path}", flush=True)
        elif step.status == "failed":
            print(f"{prefix}  failed ({step.reason})", flush=True)
        else:
            print(f"{prefix}  skipped ({step.reason})", flush=True)

    return report


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # orbax logs every file it writes at INFO
    config_path = flags.FLAGS["config"].config_filename
    try:
        import_modules(_IMPORT.value)
    except ImportError as error:
        _fail(str(error))
    # "file.py:argument" passes an argument to get_config(); the workflow is named after the file.
    name = os.path.splitext(os.path.basename(config_path.split(".py:", 1)[0] + ".py"))[0]
    force = [item for value in _FORCE.value for item in value.split(",") if item]
    try:
        workflow = workflow_from_config(_CONFIG.value, cache_dir=_CACHE_DIR.value, name=name)
        workflow.plan(force=force)  # checks the --force names
    except ConfigurationError as error:
        _fail(f"{config_path}: {error}")
    except ValueError as error:
        _fail(f"--{error}")
    if _DRY_RUN.value:
        _print_plan(workflow, force)
        return
    started = time.monotonic()
    try:
        reports = workflow.execute(force=force, report=_reporter(workflow))
    except (ConfigurationError, ValueError, TypeError, KeyError, FileNotFoundError) as error:
        # A mistake in the user's data or in a value only known once a step ran (the failed step
        # is named in the line above): the message, not a traceback, unless --verbosity asks.
        if flags.FLAGS["verbosity"].present and flags.FLAGS.verbosity >= 1:
            raise
        _fail(f"{config_path}: {error.args[0] if isinstance(error, KeyError) and error.args else error}")
    ran = sum(report.status == "ran" for report in reports)
    cached = sum(report.status == "cached" for report in reports)
    if ran == 0:
        print(f"nothing to run: all {cached} steps are cached", flush=True)
    else:
        print(f"done in {time.monotonic() - started:.1f} s: {ran} ran, {cached} cached", flush=True)
    if TABLE_STEP in workflow.steps:
        print(f"\n{format_table(workflow.result(TABLE_STEP))}", flush=True)
    tensorboard = workflow.cache.root / "tensorboard"  # type: ignore[union-attr]
    if tensorboard.is_dir():
        print(f"\ncompare training runs: tensorboard --logdir {tensorboard}", flush=True)


if __name__ == "__main__":
    # Relative paths (--config, --cache_dir, files named in the config) are the user's: run from
    # the directory `bazel run` was started in rather than the runfiles tree.
    if os.environ.get("BUILD_WORKING_DIRECTORY"):
        os.chdir(os.environ["BUILD_WORKING_DIRECTORY"])
    app.run(main)
