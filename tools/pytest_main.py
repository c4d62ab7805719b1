"""Runs pytest on the test files given as arguments; the `main` of every `py_pytest` target.

Bazel runs it from the runfiles root of the workspace, so the paths are workspace-relative. It
fails when no test was collected: a target that runs nothing must not pass.
"""

import os
import sys

import pytest

_NO_TESTS_COLLECTED = 5


def main(argv: list[str]) -> int:
    sys.dont_write_bytecode = True
    args = ["-q", "-p", "no:cacheprovider", "--rootdir", os.getcwd(), *argv]
    xml_output = os.environ.get("XML_OUTPUT_FILE")
    if xml_output:
        args += ["--junitxml", xml_output]
    code = pytest.main(args)
    if code == _NO_TESTS_COLLECTED:
        print(f"no tests were collected from {argv}", file=sys.stderr)
        return 1
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
