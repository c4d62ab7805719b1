import sys

import pytest

from formed.training._user_code import import_user_code


def test_imports_a_file_and_a_dotted_module_from_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "my_pkg").mkdir()
    (tmp_path / "my_pkg" / "__init__.py").write_text("")
    (tmp_path / "my_pkg" / "models.py").write_text("VALUE = 'dotted'\n")
    (tmp_path / "helper.py").write_text("HELPER = 1\n")
    (tmp_path / "plugin.py").write_text("import helper\nVALUE = 'file' + str(helper.HELPER)\n")
    monkeypatch.setenv("BUILD_WORKING_DIRECTORY", str(tmp_path))
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        dotted, from_file = import_user_code(["my_pkg.models", "plugin.py"])
        assert dotted.VALUE == "dotted" and from_file.VALUE == "file1"
        assert import_user_code(["plugin.py"])[0] is from_file  # imported once
    finally:
        for name in ("my_pkg", "my_pkg.models", "plugin", "helper"):
            sys.modules.pop(name, None)


def test_a_missing_module_or_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("BUILD_WORKING_DIRECTORY", str(tmp_path))
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(ValueError, match=r"--import=no_such_pkg\.models: no module named 'no_such_pkg'"):
        import_user_code(["no_such_pkg.models"])
    with pytest.raises(ValueError, match=r"--import=.*missing\.py: no such file"):
        import_user_code(["missing.py"])


def test_errors_inside_the_module_propagate(tmp_path, monkeypatch):
    (tmp_path / "broken.py").write_text("import not_installed_anywhere\n")
    monkeypatch.setenv("BUILD_WORKING_DIRECTORY", str(tmp_path))
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(ModuleNotFoundError, match="not_installed_anywhere"):
        import_user_code(["broken.py"])
    assert "broken" not in sys.modules
