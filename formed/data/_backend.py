"""Chooses the text backend: the compiled extension, or its Python twin when it cannot load.

`backend` is the module that `Tokenizer` and `Vocabulary` call (`_text_native` or
`_text_reference`; both have the same API). When the extension is missing, one `RuntimeWarning`
says so and the twin is used: results are identical, only slower. Setting the environment
variable ``FORMED_REQUIRE_NATIVE=1`` (the Bazel test targets do) turns that fallback into an
`ImportError`, so tests cannot silently exercise the twin twice.
"""

from __future__ import annotations

import importlib
import logging
import os
import types
import warnings

from formed.data import _text_reference

REQUIRE_NATIVE_ENV = "FORMED_REQUIRE_NATIVE"

_logger = logging.getLogger(__name__)


def _load() -> tuple[types.ModuleType, str | None]:
    try:
        # import_module, not `from formed.data import ...`, so that a missing file reads as
        # "No module named ...", not as a circular import of the half-initialized package.
        _text_native = importlib.import_module("formed.data._text_native")
    except ImportError as error:
        if os.environ.get(REQUIRE_NATIVE_ENV) == "1":
            raise ImportError(
                f"{REQUIRE_NATIVE_ENV}=1 but the compiled text extension formed.data._text_native "
                f"cannot be imported ({error}); build //formed/data:_text_native.so"
            ) from error
        return _text_reference, str(error)
    return _text_native, None


backend, load_error = _load()
IMPLEMENTATION: str = backend.IMPLEMENTATION

if load_error is None:
    _logger.info("formed.data: using the compiled text extension (%s)", backend.__file__)
else:
    warnings.warn(
        "formed.data: the compiled text extension could not be loaded "
        f"({load_error}); using the pure-Python twin, which gives the same results more slowly",
        RuntimeWarning,
        stacklevel=2,
    )
