"""End to end, as a user does after training: a model and a callback defined outside `formed/`
(`tests/user_code/my_project.py`, brought in with ``--import``) are trained by the `train`
binary, then the `evaluate`, `predict` and `export` binaries run on the work directory, and the
exported model is used by a fresh process without the run.

One training run (a module fixture) is shared by the tests.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

import binaries

USER_MODULE = os.path.join(binaries.USER_CODE, "my_project.py")
USER_CONFIG = os.path.join(binaries.USER_CODE, "my_config.py")
IMPORT = f"--import={USER_MODULE}"
COLOURS = {"black", "blue", "green", "orange", "purple", "red", "white", "yellow"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("after_training")
    workdir = str(root / "run")
    binaries.run("train", f"--config={USER_CONFIG}", f"--workdir={workdir}", IMPORT)
    test = root / "test.jsonl"
    # The test split the run measured (same seed and sizes), written as a labelled file.
    records = _test_split()
    test.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    unlabelled = root / "new.csv"
    unlabelled.write_text("text\n" + "".join(f"\"{r['text']}\"\n" for r in records[:5]), encoding="utf-8")
    return {"root": str(root), "workdir": workdir, "test": str(test), "new": str(unlabelled)}


def _test_split() -> list[dict]:
    from formed.data import SpatialRelationsDataset

    return SpatialRelationsDataset(seed=0, train_size=256, validation_size=64, test_size=64).load()["test"]


def _read_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_the_user_callback_ran_and_evaluate_reproduces_the_runs_test_metrics(run: dict[str, str]) -> None:
    with open(os.path.join(run["workdir"], "epochs.jsonl"), encoding="utf-8") as file:
        assert [json.loads(line)["epoch"] for line in file] == [1, 2]
    with open(os.path.join(run["workdir"], "metrics.json"), encoding="utf-8") as file:
        final = json.load(file)
    output = os.path.join(run["root"], "metrics_out.json")
    # The run's final model is its last step (no early stopping): evaluate that checkpoint.
    result = binaries.run(
        "evaluate", f"--run={run['workdir']}", f"--input={run['test']}", f"--output={output}",
        f"--checkpoint={final['step']}", IMPORT,
    )
    assert "accuracy" in result.stdout and "loss" in result.stdout and "test.jsonl" in result.stdout
    with open(output, encoding="utf-8") as file:
        written = json.load(file)
    assert written["records"] == 64 and written["step"] == final["step"]
    assert written["metrics"]["accuracy"] == pytest.approx(final["test"]["accuracy"])
    assert written["metrics"]["loss"] == pytest.approx(final["test"]["loss"], rel=1e-5)


def test_predict_writes_one_line_per_record_in_order_from_a_file_and_from_stdin(run: dict[str, str]) -> None:
    output = os.path.join(run["root"], "predictions.jsonl")
    binaries.run("predict", f"--run={run['workdir']}", f"--input={run['new']}", f"--output={output}", IMPORT)
    with open(output, encoding="utf-8") as file:
        from_file = _read_lines(file.read())
    assert len(from_file) == 5
    assert all(set(p) == {"colour", "score"} and p["colour"] in COLOURS for p in from_file)  # the model's readable_output
    texts = [json.loads(line)["text"] for line in open(run["test"], encoding="utf-8")][:5]
    stdin = "".join(json.dumps({"text": t}) + "\n" for t in reversed(texts))
    result = binaries.run("predict", f"--run={run['workdir']}", IMPORT, stdin=stdin)
    assert _read_lines(result.stdout) == list(reversed(from_file))


def test_a_malformed_line_stops_with_file_and_line_or_is_skipped_and_counted(run: dict[str, str]) -> None:
    bad = os.path.join(run["root"], "bad.jsonl")
    with open(bad, "w", encoding="utf-8") as file:
        file.write('{"text": "the red box"}\n{"text": "a blue ball"\n{"text": "the green box"}\n')
    output = os.path.join(run["root"], "bad_predictions.jsonl")
    with open(output, "w", encoding="utf-8") as file:
        file.write("an earlier result\n")
    result = binaries.run("predict", f"--run={run['workdir']}", f"--input={bad}", f"--output={output}", IMPORT, check=False)
    assert result.returncode == 1 and f"{bad}:2:" in result.stderr and "Traceback" not in result.stderr
    with open(output, encoding="utf-8") as file:
        assert file.read() == "an earlier result\n"  # nothing written is lost or half-written
    skipped = binaries.run("predict", f"--run={run['workdir']}", f"--input={bad}", "--skip_malformed", IMPORT)
    assert len(_read_lines(skipped.stdout)) == 2 and "skipped 1 malformed line(s)" in skipped.stderr
    # Standard input: the predictions before the malformed line are written, then it stops.
    streamed = binaries.run("predict", f"--run={run['workdir']}", IMPORT, stdin=open(bad).read(), check=False)
    assert streamed.returncode == 1 and "<stdin>:2:" in streamed.stderr
    assert len(_read_lines(streamed.stdout)) == 1


@pytest.mark.parametrize(
    "name, flags, message",
    [
        ("predict", ["--run={root}/no_such_run", "--input={test}"], "no_such_run: no such directory"),
        ("predict", ["--run={workdir}", "--input={root}/missing.jsonl"], "missing.jsonl: no such file"),
        ("evaluate", ["--run={workdir}", "--input={new}"], "has no column 'label'"),
        ("export", ["--run={root}", "--output={root}/x"], "is neither a run directory"),
    ],
)
def test_user_errors_are_one_line_without_a_traceback(run: dict[str, str], name: str, flags: list[str], message: str) -> None:
    result = binaries.run(name, *(f.format(**run) for f in flags), IMPORT, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_an_exported_model_predicts_in_a_fresh_process_without_the_run(run: dict[str, str]) -> None:
    model_dir = os.path.join(run["root"], "models", "a")
    binaries.run("export", f"--run={run['workdir']}", f"--output={model_dir}", IMPORT)
    expected = binaries.run("predict", f"--run={run['workdir']}", f"--input={run['new']}", IMPORT).stdout
    moved = os.path.join(run["root"], "elsewhere")
    shutil.copytree(model_dir, moved)
    shutil.move(run["workdir"], run["workdir"] + "-hidden")  # the run is gone
    try:
        got = binaries.run("predict", f"--run={moved}", f"--input={run['new']}", IMPORT).stdout
    finally:
        shutil.move(run["workdir"] + "-hidden", run["workdir"])
    assert _read_lines(got) == _read_lines(expected)
    with open(os.path.join(moved, "formed_model.json"), encoding="utf-8") as file:
        about = json.load(file)
    assert about["model_type"] == "my_project::bag_of_words" and about["formed_version"]
