"""Tests for formed.workflow._sweep: expanding a swept key, sharing upstream steps, the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from formed.core import ConfigurationError
from formed.workflow import Workflow, ref, step
from formed.workflow._sweep import expand_sweep, format_table, normalize_sweep, reports_metrics, tabulate_sweep

CALLS: list[str] = []


@step("sweep_test::data")
def make_data(size: int) -> list[float]:
    CALLS.append("data")
    return [float(i) for i in range(size)]


@step("sweep_test::fit")
def fit(data: list[float], scale: float, options: dict[str, list[float]] | None = None) -> float:
    CALLS.append("fit")
    return sum(data) * scale


@step("sweep_test::score")
def score(fitted: float, data: list[float]) -> dict[str, float]:
    CALLS.append("score")
    return {"score": fitted / len(data), "size": float(len(data))}


def steps() -> dict:
    return {
        "data": {"type": "sweep_test::data", "size": 4},
        "fit": {"type": "sweep_test::fit", "data": ref("data"), "scale": 1.0, "options": {"seeds": [1.0, 2.0]}},
        "score": {"type": "sweep_test::score", "fitted": ref("fit"), "data": ref("data")},
    }


def test_one_copy_per_value_of_the_swept_step_and_of_what_depends_on_it() -> None:
    expanded = expand_sweep(steps(), {"fit.scale": [1.0, 2.0]})
    assert sorted(expanded) == ["data", "fit[scale=1.0]", "fit[scale=2.0]", "score[scale=1.0]", "score[scale=2.0]", "sweep_table"]
    assert expanded["fit[scale=2.0]"]["scale"] == 2.0
    assert expanded["fit[scale=2.0]"]["data"] == ref("data")  # upstream: shared
    assert expanded["score[scale=2.0]"]["fitted"] == ref("fit[scale=2.0]")
    assert expanded["sweep_table"]["rows"][1] == {
        "variant": "scale=2.0",
        "values": {"scale": 2.0},
        "metrics": {"score": ref("score[scale=2.0]")},
    }
    assert steps()["fit"]["scale"] == 1.0  # the input is not changed


def test_several_keys_make_a_grid_and_keys_may_index_lists() -> None:
    expanded = expand_sweep(steps(), {"fit.scale": [1.0, 2.0], "fit.options.seeds[1]": [5.0, 6.0]})
    fits = sorted(name for name in expanded if name.startswith("fit["))
    assert fits == [
        "fit[scale=1.0,seeds[1]=5.0]",
        "fit[scale=1.0,seeds[1]=6.0]",
        "fit[scale=2.0,seeds[1]=5.0]",
        "fit[scale=2.0,seeds[1]=6.0]",
    ]
    assert expanded["fit[scale=2.0,seeds[1]=6.0]"]["options"] == {"seeds": [1.0, 6.0]}


def test_a_sweep_runs_the_shared_steps_once_and_tabulates_the_metrics(tmp_path: Path) -> None:
    CALLS.clear()
    workflow = Workflow(expand_sweep(steps(), normalize_sweep({"key": "fit.scale", "values": [1.0, 3.0]})), cache_dir=tmp_path)
    table = workflow.run(["sweep_table"])["sweep_table"]
    assert sorted(CALLS) == ["data", "fit", "fit", "score", "score"]
    assert table == [
        {"variant": "scale=1.0", "scale": 1.0, "score/score": 1.5, "score/size": 4.0},
        {"variant": "scale=3.0", "scale": 3.0, "score/score": 4.5, "score/size": 4.0},
    ]
    assert format_table(table).splitlines() == [
        "variant    scale  score/score  score/size",
        "scale=1.0  1      1.5          4",
        "scale=3.0  3      4.5          4",
    ]
    # Adding a value runs only its own copies.
    CALLS.clear()
    workflow = Workflow(expand_sweep(steps(), {"fit.scale": [1.0, 3.0, 5.0]}), cache_dir=tmp_path)
    assert [row["score/score"] for row in workflow.run(["sweep_table"])["sweep_table"]] == [1.5, 4.5, 7.5]
    assert sorted(CALLS) == ["fit", "score"]


def test_config_formats_and_their_mistakes() -> None:
    assert normalize_sweep(None) == {}
    assert normalize_sweep([{"key": "a.b", "values": [1]}, {"key": "a.c", "values": [2, 3]}]) == {"a.b": [1], "a.c": [2, 3]}
    with pytest.raises(ConfigurationError, match=r"^sweep\[1\]: expected dict\(key="):
        normalize_sweep([{"key": "a.b", "values": [1]}, {"key": "a.c"}])
    with pytest.raises(ConfigurationError, match=r"^sweep.fti.scale: names unknown 'fti'; did you mean 'fit'"):
        expand_sweep(steps(), {"fti.scale": [1.0]})
    with pytest.raises(ConfigurationError, match=r"^sweep.fit.optoins.seeds: the step's config has no key 'optoins'; did you mean 'options'"):
        expand_sweep(steps(), {"fit.optoins.seeds": [1.0]})
    with pytest.raises(ConfigurationError, match=r"^sweep.fit.options.seeds\[4\]: the step's 'options.seeds' has no item 4"):
        expand_sweep(steps(), {"fit.options.seeds[4]": [1.0]})
    with pytest.raises(ConfigurationError, match=r"^sweep.fit.scale: expected a non-empty list of values"):
        expand_sweep(steps(), {"fit.scale": []})
    with pytest.raises(ConfigurationError, match=r"^sweep: no step that depends on \['fit'\] reports metrics"):
        expand_sweep({name: config for name, config in steps().items() if name != "score"}, {"fit.scale": [1.0]})


def test_steps_returning_a_dict_of_floats_report_metrics() -> None:
    assert reports_metrics("sweep_test::score") and reports_metrics("flax::evaluate")
    assert not reports_metrics("sweep_test::fit") and not reports_metrics("flax::train")
    assert tabulate_sweep([]) == []
