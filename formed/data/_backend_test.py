"""The backend loader: the extension when it loads, else the twin with exactly one warning."""

import importlib.util
import sys
import warnings

import pytest

from formed.data import _backend


def _fresh_backend_module(monkeypatch, extension_available, require):
    if not extension_available:
        # A None entry makes `from formed.data import _text_native` raise ImportError.
        monkeypatch.setitem(sys.modules, "formed.data._text_native", None)
        monkeypatch.delattr(sys.modules["formed.data"], "_text_native", raising=False)
    if require:
        monkeypatch.setenv(_backend.REQUIRE_NATIVE_ENV, "1")
    else:
        monkeypatch.delenv(_backend.REQUIRE_NATIVE_ENV, raising=False)
    spec = importlib.util.find_spec("formed.data._backend")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec.loader.exec_module(module)
    return module, caught


def test_falls_back_to_the_twin_with_one_warning(monkeypatch):
    module, caught = _fresh_backend_module(monkeypatch, extension_available=False, require=False)
    assert module.IMPLEMENTATION == "python"
    assert [w.category for w in caught] == [RuntimeWarning]
    assert "pure-Python twin" in str(caught[0].message)


def test_uses_the_extension_silently(monkeypatch):
    module, caught = _fresh_backend_module(monkeypatch, extension_available=True, require=True)
    assert module.IMPLEMENTATION == "native" and not caught


def test_required_extension_missing_is_an_error(monkeypatch):
    with pytest.raises(ImportError, match="FORMED_REQUIRE_NATIVE=1"):
        _fresh_backend_module(monkeypatch, extension_available=False, require=True)
