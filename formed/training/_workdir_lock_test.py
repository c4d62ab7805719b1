import os
import subprocess
import sys

import pytest

from formed.training._workdir_lock import LOCK_FILE, WorkdirInUseError, WorkdirLock

_HOLD = """
import sys, time
from formed.training._workdir_lock import WorkdirLock
lock = WorkdirLock(sys.argv[1]).acquire()
print("locked", flush=True)
sys.stdin.read()  # holds the lock until the test closes stdin or kills it
"""


def _holder(workdir):
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD, workdir], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    return process


def test_a_second_process_is_refused_naming_the_owner_and_a_dead_owner_blocks_nothing(tmp_path):
    workdir = str(tmp_path / "run")
    holder = _holder(workdir)
    try:
        with pytest.raises(WorkdirInUseError) as error:
            WorkdirLock(workdir).acquire()
        assert str(error.value) == (
            f"{workdir} is in use by pid {holder.pid} (host {os.uname().nodename}); wait for it or choose another --workdir"
        )
    finally:
        holder.kill()  # as kill -9: the lock file stays behind, the lock itself dies with it
        holder.wait(timeout=30)
    assert os.path.exists(os.path.join(workdir, LOCK_FILE))
    with WorkdirLock(workdir) as lock:
        assert lock.held
        with open(os.path.join(workdir, LOCK_FILE), encoding="utf-8") as file:
            assert file.read().startswith(f"pid={os.getpid()} ")
    assert not os.path.exists(os.path.join(workdir, LOCK_FILE))
    assert os.path.isdir(workdir)  # it existed before this lock


def test_releasing_removes_a_work_directory_the_lock_created_if_nothing_else_is_there(tmp_path):
    workdir = tmp_path / "new"
    with WorkdirLock(str(workdir)):
        assert workdir.is_dir()
    assert not workdir.exists()
    with WorkdirLock(str(workdir)):
        (workdir / "config.json").write_text("{}")
    assert sorted(os.listdir(workdir)) == ["config.json"]
