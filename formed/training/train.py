"""The `train` binary: trains a model from an ml_collections config file.

    tools/bazel run //formed/training:train -- \\
        --config=formed/training/configs/text_classifier.py --workdir=/tmp/formed/run1 \\
        --config.trainer.max_epochs=3 [--import=my_project.models]

Relative paths are taken from the directory `bazel run` was started in. ``--import`` (repeatable)
imports the user's own modules (registered models, datasets, callbacks) before the config is
built. The work is done by `formed.training._run.run`; see there for the config keys and the
work directory's contents. Running again with the same --workdir resumes from the latest
checkpoint, with the same config (a changed one is refused, listing the changes, unless
--accept_config_change).

A failure prints its message alone as the last line of stderr (``error: ...``; the traceback too
with --verbosity=1 or more) and exits with status 1; Ctrl-C prints ``interrupted at step N; rerun
the same command to resume`` and exits with status 130 (see `formed.training.cli`).

Several processes (one per host, or several on one machine) train one model together, each
reading its own rows of every global batch; start the same command on each with
``--coordinator_address=HOST:PORT --num_processes=N --process_id=I`` (nothing under SLURM or Open
MPI, ``--cluster`` on a TPU pod) and ``distributor=dict(type="data_parallel")`` in the trainer.
"""

from __future__ import annotations

from absl import flags
from ml_collections import config_flags

from formed.training import cli
from formed.training._distributed import ProcessGroupError, initialize_processes
from formed.training._run import run

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to an ml_collections config file (get_config()).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, TensorBoard events and metrics.", required=True)
flags.mark_flag_as_required("config")
_ACCEPT_CONFIG_CHANGE = flags.DEFINE_bool(
    "accept_config_change",
    False,
    "Resume a work directory trained with another config (the old config is kept as config.previous-N.json).",
)
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "host:port of process 0 in a multi-process run (with --num_processes, --process_id)."
)
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "How many processes the run has.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's rank, in [0, num_processes).")
_CLUSTER = flags.DEFINE_bool(
    "cluster", False, "Join a multi-process run described by the cluster's environment (TPU pods, Kubernetes); "
    "SLURM and Open MPI launches of several tasks are recognised without it."
)
_INIT_TIMEOUT = flags.DEFINE_integer("initialization_timeout", 300, "Seconds to wait for every process to join.")
_HEARTBEAT_TIMEOUT = flags.DEFINE_integer(
    "heartbeat_timeout", 100, "Seconds after which a silent process is taken for dead and the others stop."
)


def main(argv: list[str]) -> None:
    del argv
    try:
        initialize_processes(
            _COORDINATOR.value,
            _NUM_PROCESSES.value,
            _PROCESS_ID.value,
            cluster=_CLUSTER.value,
            initialization_timeout=_INIT_TIMEOUT.value,
            heartbeat_timeout=_HEARTBEAT_TIMEOUT.value,
        )
    except (ValueError, ProcessGroupError) as error:
        cli.fail(str(error))
    config_path = config_flags.get_config_filename(flags.FLAGS["config"])
    run(_CONFIG.value, _WORKDIR.value, config_path=config_path, accept_config_change=_ACCEPT_CONFIG_CHANGE.value)  # prints the summary


if __name__ == "__main__":
    cli.main(main, flags_parser=cli.parse_config_flags)
