"""Type-checks formed/ with mypy and the repository's mypy.ini; the main of //tools:typecheck_test.

Bazel runs it from the runfiles root, where the target's data put every Python file of formed/
and mypy.ini. mypy's cache lives in the test's TEST_TMPDIR. The test fails with mypy's report
when mypy finds an error (or a `# type: ignore` that no longer silences anything).
"""

from __future__ import annotations

import os
import sys
import tempfile

from mypy import api


def main() -> int:
    cache_dir = os.path.join(os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp(), "mypy_cache")
    # mypy.ini names what to check (`files = formed`).
    stdout, stderr, status = api.run(["--config-file", "mypy.ini", "--cache-dir", cache_dir])
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    if status == 0 and "Success" not in stdout:
        print("mypy reported no result: nothing was checked?", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
