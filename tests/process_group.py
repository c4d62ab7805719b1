"""Starts the `train` binary as a group of processes joined by `jax.distributed` on loopback.

Each process gets its own simulated CPU devices (``--xla_force_host_platform_device_count``),
a free port on 127.0.0.1 names the coordinator, and every wait has a timeout: a process whose
peer died blocks in its next collective until JAX's heartbeat timeout ends it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from typing import Mapping, Sequence

import train_binary

DATA_PARALLEL_CONFIG = os.path.join(train_binary.TESTS_DIR, "configs", "tiny_data_parallel.py")
# A silent peer is declared dead after this long (JAX's default is 100 s): short enough for a
# test, long enough that a process starved of CPU on a loaded machine is not taken for dead.
HEARTBEAT_TIMEOUT_S = 10


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def device_env(devices: int) -> dict[str, str]:
    env = train_binary.train_env()
    flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device_count")]
    env["XLA_FLAGS"] = " ".join([*flags, f"--xla_force_host_platform_device_count={devices}"])
    return env


class ProcessGroup:
    """`processes` runs of the binary on `workdir`, `devices` CPU devices each; logs in `log_dir`;
    `extra_env` adds variables to some processes' environments (by process index).

    Example::

        with ProcessGroup(workdir, log_dir, processes=2, devices=2) as group:
            group.wait()            # raises if any process fails or runs past its timeout
    """

    def __init__(
        self,
        workdir: str,
        log_dir: str,
        processes: int = 2,
        devices: int = 2,
        flags: Sequence[str] = (),
        name: str = "run",
        extra_env: Mapping[int, Mapping[str, str]] = {},
    ) -> None:
        self.logs = [os.path.join(log_dir, f"{name}-{i}.log") for i in range(processes)]
        port = free_port()
        common = [
            *train_binary.tiny_flags(workdir, *flags, config=DATA_PARALLEL_CONFIG),
            f"--heartbeat_timeout={HEARTBEAT_TIMEOUT_S}",
            "--initialization_timeout=60",
        ]
        if processes > 1:
            common += [f"--coordinator_address=127.0.0.1:{port}", f"--num_processes={processes}"]
        self.processes: list[subprocess.Popen[bytes]] = []
        for i, log_path in enumerate(self.logs):
            command = train_binary.train_command(*common, *([f"--process_id={i}"] if processes > 1 else []))
            with open(log_path, "wb") as log:
                self.processes.append(
                    subprocess.Popen(
                        command, env={**device_env(devices), **extra_env.get(i, {})}, stdout=log, stderr=subprocess.STDOUT, cwd=train_binary.REPO_ROOT
                    )
                )

    def log(self, i: int) -> str:
        with open(self.logs[i], encoding="utf-8", errors="replace") as file:
            return file.read()

    def wait(self, timeout_s: float = train_binary.RUN_TIMEOUT_S) -> None:
        """Waits for every process; fails with their logs if one fails or runs past `timeout_s`."""
        for i, process in enumerate(self.processes):
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"process {i} still runs after {timeout_s} s:\n{self.log(i)}") from None
            if process.returncode != 0:
                self.kill()
                raise AssertionError(f"process {i} exited with {process.returncode}:\n{self.log(i)}")

    def kill(self, i: int | None = None) -> None:
        """SIGKILLs process `i` (all by default) and reaps it."""
        for process in self.processes if i is None else [self.processes[i]]:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
