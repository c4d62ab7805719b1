"""Joining a multi-process run: `jax.distributed.initialize` from the `train` binary's flags or
from the cluster's environment, with errors a user can act on.

One process runs per host (or several per machine, e.g. for tests on loopback); after
`initialize_processes` every process sees every device (``jax.devices()``) and a
`DataParallelDistributor` spans them all::

    initialize_processes("10.0.0.1:1234", num_processes=2, process_id=0)   # on host 0
    initialize_processes("10.0.0.1:1234", num_processes=2, process_id=1)   # on host 1

Under SLURM or Open MPI (more than one task), or with ``cluster=True`` (TPU pods, Kubernetes),
no address is needed: `jax.distributed.initialize()` reads the cluster's environment.
Collectives between CPU processes use gloo; on GPUs and TPUs JAX picks NCCL / ICI itself.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Mapping

import jax

# JAX's own join timeout is set this much longer than ours, so that ours reports the failure.
_JAX_TIMEOUT_MARGIN_S = 30


class ProcessGroupError(RuntimeError):
    """A process could not join the others (e.g. the coordinator is unreachable)."""


def cluster_processes(environ: Mapping[str, str] = os.environ) -> int:
    """The number of tasks a SLURM or Open MPI launch started (1 when there is none).

    >>> cluster_processes({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "4"})
    4
    >>> cluster_processes({})
    1
    """
    if "SLURM_JOB_ID" in environ and environ.get("SLURM_NTASKS", "").isdigit():
        return int(environ["SLURM_NTASKS"])
    if environ.get("OMPI_COMM_WORLD_SIZE", "").isdigit():
        return int(environ["OMPI_COMM_WORLD_SIZE"])
    return 1


def initialize_processes(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    cluster: bool = False,
    initialization_timeout: int = 300,
    heartbeat_timeout: int = 100,
    environ: Mapping[str, str] = os.environ,
) -> bool:
    """Joins the processes of a run; returns whether there is more than one process.

    Call before anything else uses JAX. With none of `coordinator_address`, `num_processes`,
    `process_id` given, the run is multi-process only if `cluster` is set or the environment is
    a SLURM / Open MPI launch of several tasks; otherwise nothing happens (one process).

    Args:
        coordinator_address: ``host:port`` of process 0, which runs the coordinator.
        num_processes: how many processes the run has.
        process_id: this process's rank, in ``[0, num_processes)``.
        cluster: read everything from the cluster's environment.
        initialization_timeout: seconds to wait for every process to join before failing.
        heartbeat_timeout: seconds after which a silent process is taken for dead; the others
            then stop with JAX's error naming it, instead of waiting forever in a collective.

    Raises:
        ValueError: if only some of the three arguments are given, or they are inconsistent.
        ProcessGroupError: if the processes cannot join within `initialization_timeout`.
    """
    given = {"coordinator_address": coordinator_address, "num_processes": num_processes, "process_id": process_id}
    if any(value is not None for value in given.values()):
        missing = [name for name, value in given.items() if value is None]
        if missing:
            raise ValueError(
                f"--{', --'.join(missing)} missing: a multi-process run needs --coordinator_address, "
                "--num_processes and --process_id together (or none of them, under SLURM / Open MPI)"
            )
        assert num_processes is not None and process_id is not None and coordinator_address is not None
        if num_processes < 1:
            raise ValueError(f"--num_processes must be at least 1, got {num_processes}")
        if not 0 <= process_id < num_processes:
            raise ValueError(f"--process_id must be in [0, {num_processes}) (--num_processes={num_processes}), got {process_id}")
        if ":" not in coordinator_address:
            raise ValueError(f"--coordinator_address must be host:port (e.g. 10.0.0.1:1234), got {coordinator_address!r}")
        if num_processes == 1:
            return False
    elif not cluster and cluster_processes(environ) <= 1:
        return False
    # CPU processes exchange collectives through gloo (ignored on GPUs and TPUs).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    where = f"the coordinator at {coordinator_address}" if coordinator_address else "the cluster's coordinator"
    rank = f"process {process_id} of {num_processes}" if process_id is not None else "this process"
    advice = (
        f"{rank} could not join the run through {where} within {initialization_timeout} s. Check that every "
        "process was started with the same --coordinator_address and --num_processes, that process 0 is "
        "running, and that its port is reachable from this host."
    )
    # When the processes cannot meet, JAX's client aborts the whole process from a C++ thread
    # with a message about a task that died. The watchdog ends the process first, saying why.
    joined = threading.Event()

    def watchdog() -> None:
        if not joined.wait(initialization_timeout):
            sys.stderr.write(f"error: {advice}\n")
            sys.stderr.flush()
            os._exit(1)

    threading.Thread(target=watchdog, name="formed-join-watchdog", daemon=True).start()
    try:
        jax.distributed.initialize(
            coordinator_address=coordinator_address,
            num_processes=num_processes,
            process_id=process_id,
            initialization_timeout=initialization_timeout + _JAX_TIMEOUT_MARGIN_S,
            heartbeat_timeout_seconds=heartbeat_timeout,
        )
    except Exception as error:  # e.g. an address that does not parse, a port already taken
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ProcessGroupError(f"{advice} ({first_line})") from None
    finally:
        joined.set()
    return jax.process_count() > 1
