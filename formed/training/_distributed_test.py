import pytest

from formed.training._distributed import cluster_processes, initialize_processes


def test_one_process_needs_no_coordinator():
    assert initialize_processes(environ={}) is False
    assert initialize_processes("127.0.0.1:1234", num_processes=1, process_id=0, environ={}) is False


def test_flags_come_together_and_must_agree():
    with pytest.raises(ValueError, match="--num_processes, --process_id missing"):
        initialize_processes("127.0.0.1:1234", environ={})
    with pytest.raises(ValueError, match=r"--process_id must be in \[0, 2\) \(--num_processes=2\), got 2"):
        initialize_processes("127.0.0.1:1234", num_processes=2, process_id=2, environ={})
    with pytest.raises(ValueError, match="--num_processes must be at least 1, got 0"):
        initialize_processes("127.0.0.1:1234", num_processes=0, process_id=0, environ={})
    with pytest.raises(ValueError, match="host:port"):
        initialize_processes("127.0.0.1", num_processes=2, process_id=0, environ={})


def test_cluster_launches_are_recognised():
    assert cluster_processes({"SLURM_JOB_ID": "1", "SLURM_NTASKS": "8"}) == 8
    assert cluster_processes({"SLURM_JOB_ID": "1", "SLURM_NTASKS": "1"}) == 1
    assert cluster_processes({"OMPI_COMM_WORLD_SIZE": "4"}) == 4
    assert cluster_processes({"SLURM_NTASKS": "8"}) == 1  # no job: not a SLURM launch
