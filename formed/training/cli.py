"""What the binaries (`train`, `evaluate`, `predict`, `export`, the workflow's `run`) share: the
directory the user ran ``bazel run`` from as the working directory, the ``--import`` flag, and
errors printed without a traceback: any failure prints ``error: <message>`` as the last line of
stderr and exits with status 1 (the traceback first with --verbosity=1 or more); Ctrl-C prints
where it stopped and exits with 130.

    if __name__ == "__main__":
        cli.main(main)
"""

from __future__ import annotations

import logging as pylogging
import os
import re
import sys
import traceback
from typing import Any, Callable

from absl import app, flags, logging

from formed.core import closest_name
from formed.training._user_code import import_user_code

IMPORT = flags.DEFINE_multi_string(
    "import",
    [],
    "A module with your own registered models, datasets, callbacks or steps, imported before the "
    "config is built: a dotted module on the Python path or a .py file (repeatable).",
)

# Errors a user can fix (a bad flag, file, config or input line). `main` prints every failure as
# one message; binaries that catch errors themselves use this to tell these from others.
USER_ERRORS = (ValueError, TypeError, FileNotFoundError, NotADirectoryError, KeyError)


def enter_working_directory() -> None:
    """Changes to the directory `bazel run` was started in (``$BUILD_WORKING_DIRECTORY``; Bazel
    runs binaries from their runfiles tree), so that every relative path the user gives (flags,
    files named in a config, ``--import``) means what it means in their shell."""
    directory = os.environ.get("BUILD_WORKING_DIRECTORY")
    if directory:
        os.chdir(directory)


class ModelFlags:
    """The flags of the binaries that read a trained model (`evaluate`, `predict`, `export`):
    ``--run`` and ``--checkpoint``, and ``--batch_size`` given its help text. Define them at
    import time, as absl flags are."""

    def __init__(self, run_help: str, batch_size_help: str | None = None) -> None:
        self.run = flags.DEFINE_string("run", None, run_help, required=True)
        self.checkpoint = flags.DEFINE_string("checkpoint", "best", "Of a run: 'best', 'latest' or a step number.")
        self.batch_size = flags.DEFINE_integer("batch_size", 64, batch_size_help) if batch_size_help else None

    def load(self) -> Any:
        """The `Predictor` of ``--run`` at ``--checkpoint`` (see `formed.training.load_model`)."""
        from formed.training._model_directory import load_model  # the binaries' only heavy import

        value = self.checkpoint.value
        checkpoint: str | int = int(value) if value.isdigit() else value
        if self.batch_size is None:
            return load_model(self.run.value, checkpoint=checkpoint)
        return load_model(self.run.value, checkpoint=checkpoint, batch_size=self.batch_size.value)


class RecordFlags:
    """``--input``, ``--format`` and ``--skip_malformed`` of the binaries that read records
    (`evaluate`, `predict`)."""

    def __init__(self, input_help: str) -> None:
        self.input = flags.DEFINE_string("input", None, input_help)
        self.format = flags.DEFINE_enum("format", None, ["jsonl", "csv", "tsv"], "The input's format (default: from its extension).")
        self.skip_malformed = flags.DEFINE_bool("skip_malformed", False, "Skip (and count) malformed input lines instead of stopping.")


def unknown_override(argv: list[str]) -> str | None:
    """Describes the first ``--config.a.b=...`` in `argv` whose key path the config file lacks
    (``"<file>: a.b: unknown key 'b'; did you mean ...?"``), or returns None if there is none or
    the config file itself cannot be loaded."""
    config_arg = None
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            config_arg = arg.split("=", 1)[1]
        elif arg == "--config" and i + 1 < len(argv):
            config_arg = argv[i + 1]
    if config_arg is None:
        return None
    try:
        config = flags.FLAGS["config"].parser.parse(config_arg)
    except Exception:  # the config file's own error is the one to show
        return None
    for arg in argv:
        match = re.match(r"--(?:no)?config\.([^=]+)", arg)
        if match is None:
            continue
        node: Any = config
        walked: list[str] = []
        for key in match.group(1).split("."):
            keys = [str(k) for k in node.keys()] if hasattr(node, "keys") else []
            if key not in keys:
                where = ".".join(walked) or "the config"
                close = closest_name(key, keys)
                hint = f"did you mean {close!r}? " if close else ""
                listed = f"Keys of {where}: {', '.join(sorted(keys))}." if keys else f"{where} is not a dict."
                return f"{config_arg}: {'.'.join([*walked, key])}: unknown key {key!r}; {hint}{listed}"
            node, walked = node[key], [*walked, key]
    return None


def parse_config_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing for a binary with a ``--config`` file flag (`train`, the workflow's
    `run`), except that an override of a key the config lacks (a bare AttributeError or KeyError
    from ml_collections) exits with a message naming the file and key."""
    try:
        return app.parse_flags_with_usage(argv)
    except (AttributeError, KeyError):
        message = unknown_override(argv)
        if message is None:
            raise
    sys.stderr.write(f"FATAL Flags parsing error: {message}\n")
    sys.exit(1)


INTERRUPTED_EXIT_STATUS = 130  # 128 + SIGINT, as shells report a Ctrl-C


def show_traceback_if_verbose(error: BaseException) -> None:
    """Prints `error`'s traceback to stderr with --verbosity=1 or more (for bug reports)."""
    if flags.FLAGS["verbosity"].present and flags.FLAGS.verbosity >= 1:
        traceback.print_exception(error)


def fail(message: str) -> None:
    """Prints `message` to stderr (no traceback) and exits with status 1."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    sys.exit(1)


def _not_orbax_info(record: pylogging.LogRecord) -> bool:
    """Drops orbax's INFO records, and its reports of a failed background save (an ERROR with
    a traceback from each thread the failure passes through: the writer, the commit, the
    finalize), whose error reaches formed and is the binary's ``error:`` line."""
    if f"{os.sep}orbax{os.sep}" not in record.pathname:
        return True
    return record.levelno >= pylogging.WARNING and not record.exc_info


def _closed_event_loop(exc_value: BaseException | None) -> bool:
    return isinstance(exc_value, RuntimeError) and str(exc_value) == "Event loop is closed"


def _drop_closed_event_loop_reports(default: Callable[[Any], object]) -> Callable[[Any], None]:
    """An unraisable-exception hook that drops "Event loop is closed" and passes on the rest.

    When an orbax save fails (a full disk), orbax closes the event loop of the save while
    tensorstore still finishes the save's other writes; each of those then reports, as an
    unraisable exception printed after the binary's ``error:`` line, that it could not notify
    the closed loop. They say nothing the error line does not."""

    def hook(unraisable: Any) -> None:
        if not _closed_event_loop(getattr(unraisable, "exc_value", None)):
            default(unraisable)

    return hook


def quiet_logs() -> None:
    """orbax logs every file it reads or writes at INFO, and a failed background write as an
    ERROR with a traceback per thread: these records (and the closed-event-loop reports that
    follow a failed write) are dropped, unless --verbosity is given, so that a failure ends
    with one ``error:`` line. Other INFO lines stay (the trainer's progress lines off a
    terminal), so ``--log_dir`` and ``--alsologtostderr`` work as in the Flax examples."""
    if not flags.FLAGS["verbosity"].present:
        handler = logging.get_absl_handler()
        if _not_orbax_info not in handler.filters:
            handler.addFilter(_not_orbax_info)
        if not getattr(sys.unraisablehook, "drops_closed_event_loop", False):
            sys.unraisablehook = _drop_closed_event_loop_reports(sys.unraisablehook)
            sys.unraisablehook.drops_closed_event_loop = True  # type: ignore[attr-defined]  # a marker, read with getattr above


def import_flagged_modules() -> None:
    """Imports the ``--import`` modules (call it before building anything from a config)."""
    import_user_code(IMPORT.value)


def main(body: Callable[[list[str]], None], flags_parser: Callable[[list[str]], list[str]] | None = None) -> None:
    """Runs `body` as an absl app: in the user's working directory (`enter_working_directory`,
    before the flags are read, as a ``--config`` file is loaded then), ``--import`` modules imported, and a
    failure printed as one message (``error: ...``, the traceback too with --verbosity=1 or
    more), exit status 1; Ctrl-C (KeyboardInterrupt, whose message says where it stopped) exits
    with status 130."""

    def run(argv: list[str]) -> None:
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        quiet_logs()
        try:
            import_flagged_modules()
            body(argv)
        except KeyboardInterrupt as error:
            show_traceback_if_verbose(error)
            sys.stderr.write(f"{str(error) or 'interrupted; rerun the same command to resume'}\n")
            sys.stderr.flush()
            sys.exit(INTERRUPTED_EXIT_STATUS)
        except Exception as error:  # noqa: BLE001  every failure is reported the same way
            show_traceback_if_verbose(error)
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            fail(str(message) or type(error).__name__)

    enter_working_directory()
    if flags_parser is None:
        app.run(run)
    else:
        app.run(run, flags_parser=flags_parser)
