"""A real `tensorboard --logdir` server for tests (not part of the public API).

``TensorBoardServer(logdir, log_path)`` starts ``tensorboard --logdir`` on a free port and waits
until it answers; ``server.get_json("/data/runs")`` then returns the runs it lists (``['.']``),
and ``server.close()`` stops it. (No doctest: starting TensorBoard takes seconds.)
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T | None], timeout_s: float, what: str, interval_s: float = 0.1) -> T:
    """The first truthy value of `condition()`; `timeout_s` only keeps a broken server from
    hanging the test (AssertionError naming `what`)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


class TensorBoardServer:
    """`tensorboard --logdir DIR` on a loopback port chosen by the OS (``--port 0``)."""

    STARTUP_TIMEOUT_S = 60

    def __init__(self, logdir: str, log_path: str) -> None:
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--host", "127.0.0.1", "--port", "0"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.url = wait_for(self._announced_url, self.STARTUP_TIMEOUT_S, "TensorBoard to print its URL")

    def _log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as file:
            return file.read()

    def _announced_url(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError(f"tensorboard exited with {self.process.returncode}:\n{self._log()}")
        match = re.search(r"(http://127\.0\.0\.1:\d+)/", self._log())
        return match.group(1) if match else None

    def get_json(self, path: str, **query: str) -> Any:
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200, url
            body = response.read()
            # Some plugins (profile) answer gzip-compressed whatever the request asked for.
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return json.loads(body)

    def poll_json(self, path: str, accept: Callable[[Any], bool], what: str, timeout_s: float = 60) -> Any:
        """Asks `path` until `accept(answer)` (the server loads runs in the background)."""

        def answer() -> object | None:
            try:
                value = self.get_json(path)
            except (urllib.error.URLError, ConnectionError):
                return None
            return value if accept(value) else None

        return wait_for(answer, timeout_s, what, interval_s=0.2)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
