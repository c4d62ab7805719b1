"""Importing the user's own code before a config is built (the binaries' ``--import``).

A model, dataset, field, callback or step registered in the user's module can be named in a
config once that module is imported, as AllenNLP's ``--include-package`` does:

    tools/bazel run //formed/training:train -- --config=my_config.py --workdir=/tmp/runs/a \\
        --import=my_project.models --import=extra_callbacks.py

A name ending in ``.py`` (or naming an existing file) is imported from that file, under its file
name as module name, with its directory put on ``sys.path`` so it can import its neighbours. Any
other name is a dotted module imported from ``sys.path``, to which the directory the command was
run in is added first (under ``bazel run``, ``$BUILD_WORKING_DIRECTORY``).

    >>> import_user_code(["json"])   # any importable module
    [<module 'json' ...>]
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from typing import Sequence


def working_directory() -> str:
    """Where the user ran the command (``bazel run`` starts binaries elsewhere)."""
    return os.environ.get("BUILD_WORKING_DIRECTORY") or os.getcwd()


def _add_to_path(directory: str) -> None:
    if directory not in sys.path:
        sys.path.insert(0, directory)


def _import_file(path: str) -> types.ModuleType:
    path = os.path.abspath(os.path.join(working_directory(), path))
    if not os.path.isfile(path):
        raise ValueError(f"--import={path}: no such file")
    name = os.path.splitext(os.path.basename(path))[0]
    existing = sys.modules.get(name)
    if existing is not None and os.path.abspath(getattr(existing, "__file__", "") or "") == path:
        return existing
    _add_to_path(os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"--import={path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def import_user_code(names: Sequence[str]) -> list[types.ModuleType]:
    """Imports each of `names` (dotted modules or ``.py`` files), in order.

    Raises:
        ValueError: naming the module that could not be found (errors raised by the module's
            own code propagate unchanged, with their traceback).
    """
    _add_to_path(working_directory())
    modules = []
    for name in names:
        if name.endswith(".py") or os.path.isfile(os.path.join(working_directory(), name)):
            modules.append(_import_file(name))
            continue
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as error:
            if error.name is not None and (name == error.name or name.startswith(error.name + ".")):
                raise ValueError(
                    f"--import={name}: no module named {error.name!r} on the Python path "
                    f"(searched from {working_directory()}); give a dotted module or a .py file"
                ) from None
            raise
    return modules
