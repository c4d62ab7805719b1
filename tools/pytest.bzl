"""`py_pytest`: a `py_test` whose test files are run by pytest."""

def py_pytest(name, srcs, deps = [], args = [], **kwargs):
    """Declares a test target that runs `srcs` with pytest.

    Args:
      name: target name, by convention the test file's name without `.py`.
      srcs: the test files.
      deps: what the tests import; pytest itself is added.
      args: extra pytest arguments.
      **kwargs: passed to `py_test` (size, data, env, shard_count, tags, ...).
    """
    native.py_test(
        name = name,
        srcs = srcs + ["//tools:pytest_main.py"],
        main = "//tools:pytest_main.py",
        args = args + ["$(location %s)" % src for src in srcs],
        deps = deps + ["//third_party/py:pytest"],
        python_version = "PY3",
        srcs_version = "PY3",
        **kwargs
    )

def py_doctest(name, srcs, deps = [], **kwargs):
    """Declares a test target that runs the `>>>` examples in the docstrings of `srcs`.

    pytest imports each module (`--doctest-modules`) and runs every docstring's examples as one
    test; the target fails when the modules hold no example at all.

    Args:
      name: target name, by convention "doctest".
      srcs: the modules whose docstrings are run (binaries that define absl flags are left out:
        importing two of them in one process defines a flag twice).
      deps: the libraries the modules import; pytest itself is added.
      **kwargs: passed to `py_test` (size, tags, ...).
    """
    native.py_test(
        name = name,
        srcs = ["//tools:pytest_main.py"],
        main = "//tools:pytest_main.py",
        data = srcs,
        args = ["--doctest-modules"] + ["$(location %s)" % src for src in srcs],
        deps = deps + ["//third_party/py:pytest"],
        python_version = "PY3",
        srcs_version = "PY3",
        **kwargs
    )
