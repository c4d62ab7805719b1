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
