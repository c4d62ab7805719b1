"""End to end: the workflow `run` binary on the tiny text classifier workflow, as a user runs it.

One cache directory is shared by every test here, in order: a first run runs every step; a second
runs none; ``--dry_run`` plans without changing anything (after a change of the learning rate, of
an input file); a config mistake names the step and key before any step runs; a run with a new
learning rate killed during training, then rerun, resumes the training step from its checkpoints
and reruns only the steps downstream of the change.
"""

from __future__ import annotations

import glob
import json
import os

import pytest

import train_binary
import workflow_binary as wb
from formed.training import CheckpointDirectory

NEW_RATE = "--config.steps.train.trainer.engine.optimizer.learning_rate.peak_value=0.02"
STEPS = ["dataset", "datamodule", "train", "test_metrics", "export", "predictions"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("workflow")
    data, cache = str(root / "data"), str(root / "cache")
    wb.write_spatial_relations(data, train=128, validation=32, test=32)
    first = wb.run_workflow(*wb.tiny_flags(cache, data))
    return {"root": str(root), "data": data, "cache": cache, "first": first.stdout}


def test_a_first_run_runs_every_step_and_a_second_none(setup: dict[str, str]) -> None:
    assert wb.statuses(setup["first"]) == {name: "ran" for name in STEPS}
    results = glob.glob(os.path.join(setup["cache"], "steps", "*", "metadata.json"))
    assert len(results) == 6
    predictions = glob.glob(os.path.join(setup["cache"], "steps", "*", "artifact", "predictions.jsonl"))
    with open(predictions[0], encoding="utf-8") as file:
        lines = [json.loads(line) for line in file]
    assert len(lines) == 6 and all({"label", "probabilities"} <= set(line) for line in lines)  # sentences.jsonl
    assert glob.glob(os.path.join(setup["cache"], "steps", "*", "artifact", "formed_model.json"))  # the export
    assert glob.glob(os.path.join(setup["cache"], "tensorboard", "tiny_workflow-*", "train", "events.out.tfevents.*"))
    assert os.listdir(os.path.join(setup["cache"], "work")) == []  # no unfinished work left

    before = wb.tree(setup["cache"])
    second = wb.run_workflow(*wb.tiny_flags(setup["cache"], setup["data"]))
    assert wb.statuses(second.stdout) == {name: "cached" for name in STEPS}
    assert "nothing to run: all 6 steps are cached" in second.stdout
    assert wb.tree(setup["cache"]) == before


def test_dry_run_plans_without_changing_anything(setup: dict[str, str]) -> None:
    before = wb.tree(setup["cache"])
    plan = wb.run_workflow(*wb.tiny_flags(setup["cache"], setup["data"], NEW_RATE, "--dry_run")).stdout
    lines = {line.split()[0]: line.split()[1:] for line in plan.splitlines() if line.startswith("  ")}
    assert lines["dataset"][0] == lines["datamodule"][0] == "cached"
    for name in ("train", "test_metrics", "export", "predictions"):
        assert lines[name] == ["would", "run", "not", "cached"], name
    assert "4 of 6 steps would run" in plan

    # A changed input file: the data steps (and all that follows) would rerun.
    path = os.path.join(setup["data"], "train.jsonl")
    with open(path, encoding="utf-8") as file:
        original = file.read()
    try:
        with open(path, "w", encoding="utf-8") as file:
            file.write(original.replace('"label": "red"', '"label": "blue"', 1))
        plan = wb.run_workflow(*wb.tiny_flags(setup["cache"], setup["data"], "--dry_run")).stdout
    finally:
        with open(path, "w", encoding="utf-8") as file:
            file.write(original)
    assert "6 of 6 steps would run" in plan
    assert wb.tree(setup["cache"]) == before


def test_a_config_mistake_names_the_step_and_key_and_runs_nothing(setup: dict[str, str]) -> None:
    before = wb.tree(setup["cache"])
    result = wb.run_workflow(
        *wb.tiny_flags(setup["cache"], setup["data"], NEW_RATE, "--config.steps.train.model.vectorizer.type=boee"), check=False
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {wb.TINY_WORKFLOW}:{setup['data']}: ")
    assert "steps.train.model.vectorizer.type: unknown 'boee'; did you mean 'boe'?" in last
    assert "Traceback" not in result.stderr and result.stdout.count("running") == 0
    assert wb.tree(setup["cache"]) == before


def test_killed_during_training_a_rerun_resumes_and_runs_only_what_the_change_affects(setup: dict[str, str]) -> None:
    flags = wb.tiny_flags(setup["cache"], setup["data"], NEW_RATE)
    log_path = os.path.join(setup["root"], "killed.log")
    process = wb.start_workflow(*flags, log_path=log_path)

    def resumable() -> bool:
        return any(
            CheckpointDirectory(os.path.join(work, "checkpoints")).latest_step() is not None
            for work in glob.glob(os.path.join(setup["cache"], "work", "*"))
        )

    train_binary.kill_when(process, log_path, resumable, "the training step's first checkpoint", timeout_s=wb.RUN_TIMEOUT_S)
    assert len(glob.glob(os.path.join(setup["cache"], "steps", "*", "metadata.json"))) == 6  # nothing new reads as done

    rerun = wb.run_workflow(*flags)
    assert wb.statuses(rerun.stdout) == {
        "dataset": "cached",
        "datamodule": "cached",
        "train": "ran",
        "test_metrics": "ran",
        "export": "ran",
        "predictions": "ran",
    }
    assert "train: resuming from " in rerun.stdout
    assert len(glob.glob(os.path.join(setup["cache"], "steps", "*", "metadata.json"))) == 10
    assert os.listdir(os.path.join(setup["cache"], "work")) == []
    # Two trainings, two TensorBoard runs to compare.
    assert len(glob.glob(os.path.join(setup["cache"], "tensorboard", "tiny_workflow-*", "train"))) == 2
