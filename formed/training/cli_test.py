"""Tests of what the binaries share (`formed.training.cli`): orbax's failure reports are dropped
so that a failed save ends with the binary's one ``error:`` line."""

from __future__ import annotations

import logging
import os
import sys
import types

from formed.training import cli

ORBAX_FILE = os.path.join(os.sep, "venv", "site-packages", "orbax", "checkpoint", "future.py")


def _record(level: int, pathname: str, exc_info: bool = False) -> logging.LogRecord:
    error = None
    if exc_info:
        try:
            raise ValueError("OUT_OF_RANGE: Failed to write 40532 bytes: File too large [os_error_code='27']")
        except ValueError:
            error = sys.exc_info()
    return logging.LogRecord("absl", level, pathname, 1, "background save failed", None, error)


def test_orbax_info_and_orbax_failure_tracebacks_are_dropped_and_the_rest_kept() -> None:
    assert not cli._not_orbax_info(_record(logging.INFO, ORBAX_FILE))
    assert not cli._not_orbax_info(_record(logging.ERROR, ORBAX_FILE, exc_info=True))
    assert cli._not_orbax_info(_record(logging.WARNING, ORBAX_FILE))  # orbax's warnings stay
    assert cli._not_orbax_info(_record(logging.ERROR, ORBAX_FILE))
    mine = os.path.join(os.sep, "repo", "formed", "training", "progress.py")
    assert cli._not_orbax_info(_record(logging.INFO, mine))
    assert cli._not_orbax_info(_record(logging.ERROR, mine, exc_info=True))


def test_closed_event_loop_reports_are_dropped_and_other_unraisables_passed_on() -> None:
    seen: list[BaseException] = []
    hook = cli._drop_closed_event_loop_reports(lambda unraisable: seen.append(unraisable.exc_value))
    closed = RuntimeError("Event loop is closed")
    other = RuntimeError("something else")
    for error in (closed, other, ValueError("Event loop is closed")):
        hook(types.SimpleNamespace(exc_value=error, exc_type=type(error), exc_traceback=None, object=None))
    assert [str(e) for e in seen] == ["something else", "Event loop is closed"]
    assert isinstance(seen[1], ValueError)
