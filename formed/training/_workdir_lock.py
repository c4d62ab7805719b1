"""`WorkdirLock`: one process at a time per work directory.

Two runs writing one work directory mix their checkpoints, configs and metrics. The lock is an
exclusive `fcntl.flock` on ``<workdir>/.lock``, which holds the owner's pid and host. The
operating system releases it when its process dies, however it dies, so a lock left by a dead
(killed) process never blocks a rerun; a live owner makes `acquire` fail at once:

>>> import tempfile
>>> workdir = tempfile.mkdtemp()
>>> with WorkdirLock(workdir):
...     WorkdirLock(workdir).acquire()
Traceback (most recent call last):
...
formed.training._workdir_lock.WorkdirInUseError: ... is in use by pid ... (host ...); wait for it or choose another --workdir

Releasing removes the lock file, and the work directory too if the lock created it and nothing
else was written there: a run that stops before writing anything leaves no trace.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from types import TracebackType

LOCK_FILE = ".lock"


class WorkdirInUseError(RuntimeError):
    """Another live process holds the work directory's lock."""


class WorkdirLock:
    """An exclusive lock on `workdir` for the life of one run.

    Args:
        workdir: the work directory (created if missing).
    """

    def __init__(self, workdir: str) -> None:
        self.workdir = os.path.abspath(workdir)
        self.path = os.path.join(self.workdir, LOCK_FILE)
        self._fd: int | None = None
        self._created_workdir = False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> WorkdirLock:
        """Takes the lock, writing this process's pid and host into it.

        Raises:
            WorkdirInUseError: if a live process holds it (the message names its pid and host).
        """
        if self._fd is not None:
            return self
        if not os.path.isdir(self.workdir):
            os.makedirs(self.workdir)
            self._created_workdir = True
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(fd)
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                self._forget_created_workdir()
                raise WorkdirInUseError(f"{self.workdir} is in use by {self._owner()}; wait for it or choose another --workdir") from None
            # The previous owner may have removed the file between our open and our lock: then
            # we locked a file nobody else will see, so take the lock of the current one.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid={os.getpid()} host={socket.gethostname()}\n".encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def _owner(self) -> str:
        try:
            with open(self.path, encoding="utf-8") as file:
                fields = dict(item.split("=", 1) for item in file.read().split() if "=" in item)
        except OSError:
            fields = {}
        return f"pid {fields.get('pid', '?')} (host {fields.get('host', '?')})"

    def _forget_created_workdir(self) -> None:
        if self._created_workdir:
            self._created_workdir = False
            try:
                os.rmdir(self.workdir)  # only if still empty
            except OSError:
                pass

    def release(self) -> None:
        """Removes the lock file and unlocks; removes the work directory if the lock created it
        and it is empty otherwise."""
        if self._fd is None:
            return
        try:
            os.remove(self.path)  # while still locked, so no other process holds this file
        except FileNotFoundError:
            pass
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
        self._forget_created_workdir()

    def __enter__(self) -> WorkdirLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
