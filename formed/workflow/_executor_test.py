"""Tests for formed.workflow._executor: order, references, caching and errors."""

import threading
from pathlib import Path
from typing import Any

import jax
import pytest

from formed.core import ConfigurationError, Registrable, require_rngs
from formed.workflow._cache import StepCache
from formed.workflow._context import current_step
from formed.workflow._executor import Workflow
from formed.workflow._step import step

CALLS: list[str] = []


class Tokenizer(Registrable):
    def __call__(self, text: str) -> list[str]:
        raise NotImplementedError


@Tokenizer.register("whitespace")
class WhitespaceTokenizer(Tokenizer):
    def __init__(self, lowercase: bool = False) -> None:
        self.lowercase = lowercase

    def __call__(self, text: str) -> list[str]:
        return (text.lower() if self.lowercase else text).split()


@step("executor_test::count")
def count_words(texts: list[str], tokenizer: Tokenizer) -> dict[str, int]:
    CALLS.append("count")
    counts: dict[str, int] = {}
    for text in texts:
        for token in tokenizer(text):
            counts[token] = counts.get(token, 0) + 1
    return counts


@step("executor_test::top")
def top_word(counts: dict[str, int]) -> str:
    CALLS.append("top")
    return max(sorted(counts), key=counts.__getitem__)


def steps(texts=("A b", "b c")):
    return {
        "top": {"type": "executor_test::top", "counts": {"type": "ref", "ref": "words"}},
        "words": {"type": "executor_test::count", "texts": list(texts), "tokenizer": {"type": "whitespace", "lowercase": True}},
    }


def test_runs_in_dependency_order_and_builds_arguments_from_config(tmp_path: Path):
    CALLS.clear()
    workflow = Workflow(steps(), cache_dir=tmp_path)
    assert workflow.order == ["words", "top"]
    results = workflow.run()
    assert results == {"words": {"a": 1, "b": 2, "c": 1}, "top": "b"}
    assert CALLS == ["count", "top"]


def test_second_run_comes_from_the_cache(tmp_path: Path):
    Workflow(steps(), cache_dir=tmp_path).run()
    CALLS.clear()
    assert Workflow(steps(), cache_dir=tmp_path).run()["top"] == "b"
    assert CALLS == []


def test_changing_an_upstream_step_reruns_downstream(tmp_path: Path):
    first = Workflow(steps(), cache_dir=tmp_path)
    first.run()
    CALLS.clear()
    second = Workflow(steps(texts=("c c", "b")), cache_dir=tmp_path)
    assert second.fingerprints["words"] != first.fingerprints["words"]
    assert second.fingerprints["top"] != first.fingerprints["top"]
    assert second.run()["top"] == "c"
    assert CALLS == ["count", "top"]


@step("executor_test::uncached_count", cacheable=False)
def uncached_count_words(texts: list[str], tokenizer: Tokenizer) -> dict[str, int]:
    return count_words(texts, tokenizer)


def test_a_cached_step_does_not_run_what_it_depends_on(tmp_path: Path):
    config = steps()
    config["words"]["type"] = "executor_test::uncached_count"
    Workflow(config, cache_dir=tmp_path).run(["top"])
    CALLS.clear()
    assert Workflow(config, cache_dir=tmp_path).run(["top"]) == {"top": "b"}
    assert CALLS == []  # "words" cannot be cached but "top" is: nothing runs
    assert Workflow(config, cache_dir=tmp_path).run() == {"words": {"a": 1, "b": 2, "c": 1}, "top": "b"}
    assert CALLS == ["count"]  # asked for explicitly, the uncached step runs


@step("executor_test::seeded_vector")
def seeded_vector(size: int, random_seed: int = 0) -> list[float]:
    """Draws from the ambient RNG, which the executor seeds with `random_seed`."""
    return [float(x) for x in jax.random.uniform(require_rngs().params(), (size,))]


def test_a_step_with_a_random_seed_builds_and_runs_under_that_seed(tmp_path: Path):
    first = Workflow({"v": {"type": "executor_test::seeded_vector", "size": 3, "random_seed": 1}}).run()["v"]
    again = Workflow({"v": {"type": "executor_test::seeded_vector", "size": 3, "random_seed": 1}}).run()["v"]
    other = Workflow({"v": {"type": "executor_test::seeded_vector", "size": 3, "random_seed": 2}}).run()["v"]
    default = Workflow({"v": {"type": "executor_test::seeded_vector", "size": 3}}).run()["v"]
    assert first == again and first != other and default not in (first, other)


def test_targets_run_only_what_they_need(tmp_path: Path):
    CALLS.clear()
    assert Workflow(steps(), cache_dir=tmp_path).run(["words"]) == {"words": {"a": 1, "b": 2, "c": 1}}
    assert CALLS == ["count"]


def test_without_a_cache_steps_always_run():
    CALLS.clear()
    Workflow(steps()).run()
    Workflow(steps()).run()
    assert CALLS == ["count", "top", "count", "top"]


def test_errors_name_the_step_and_key():
    with pytest.raises(ConfigurationError, match=r"^steps.words.type: unknown 'executor_test::cuont'; did you mean 'executor_test::count'"):
        Workflow({"words": {"type": "executor_test::cuont"}})
    with pytest.raises(ConfigurationError, match=r"^steps.top: refers to unknown 'word'; did you mean 'words'"):
        Workflow({**steps(), "top": {"type": "executor_test::top", "counts": {"type": "ref", "ref": "word"}}})
    with pytest.raises(ConfigurationError, match="cycle: a -> b -> a"):
        Workflow({
            "a": {"type": "executor_test::top", "counts": {"type": "ref", "ref": "b"}},
            "b": {"type": "executor_test::top", "counts": {"type": "ref", "ref": "a"}},
        })
    bad = steps()
    bad["words"]["tokenizer"] = {"type": "whitespace", "lowercse": True}
    with pytest.raises(ConfigurationError, match=r"^steps.words.tokenizer.lowercse: unexpected key"):
        Workflow(bad).run()
    with pytest.raises(ConfigurationError, match=r"^steps.words.texts: missing required argument"):
        Workflow({"words": {"type": "executor_test::count", "tokenizer": {"type": "whitespace"}}}).run()


# Plans, --force, files, context, sharing ---------------------------------------------------------


@step("executor_test::lines")
def read_lines(path: str) -> list[str]:
    CALLS.append("lines")
    with open(path, encoding="utf-8") as file:
        return file.read().split()


@step("executor_test::join")
def join_words(words: list[str], separator: str = " ") -> str:
    CALLS.append("join")
    return separator.join(words)


def file_steps(path: Path) -> dict:
    return {
        "lines": {"type": "executor_test::lines", "path": str(path)},
        "joined": {"type": "executor_test::join", "words": {"type": "ref", "ref": "lines"}},
    }


def test_the_plan_says_what_runs_and_why_and_changes_nothing(tmp_path: Path):
    cache_dir = tmp_path / "cache"
    workflow = Workflow(steps(), cache_dir=cache_dir)
    assert [(p.name, p.action, p.reason) for p in workflow.plan()] == [
        ("words", "run", "not cached"),
        ("top", "run", "not cached"),
    ]
    assert not cache_dir.exists()
    workflow.run()
    again = Workflow(steps(), cache_dir=cache_dir)
    assert [(p.action, p.reason) for p in again.plan()] == [("cached", "cached")] * 2
    assert [(p.name, p.action, p.reason) for p in again.plan(force=["words"])] == [
        ("words", "run", "forced"),
        ("top", "run", "depends on 'words', which reruns"),
    ]
    # A cached step does not need its inputs: without the result of "words", "top" is still cached.
    assert again.cache is not None
    again.cache.remove(again.fingerprints["words"])
    assert [(p.name, p.action) for p in again.plan(["top"])] == [("words", "skip"), ("top", "cached")]


def test_force_reruns_a_step_and_what_depends_on_it_only(tmp_path: Path):
    config = {**steps(), "other": {"type": "executor_test::count", "texts": ["x"], "tokenizer": {"type": "whitespace"}}}
    Workflow(config, cache_dir=tmp_path).run()
    CALLS.clear()
    reports = Workflow(config, cache_dir=tmp_path).execute(force=["words"])
    assert CALLS == ["count", "top"]
    assert {r.name: r.status for r in reports} == {"words": "ran", "top": "ran", "other": "cached"}
    with pytest.raises(ValueError, match="force: unknown 'word'; did you mean 'words'"):
        Workflow(config, cache_dir=tmp_path).plan(force=["word"])


def test_a_changed_input_file_reruns_the_step_that_reads_it_and_what_follows(tmp_path: Path):
    path = tmp_path / "words.txt"
    path.write_text("b a")
    assert Workflow(file_steps(path), cache_dir=tmp_path / "cache").run()["joined"] == "b a"
    CALLS.clear()
    path.write_text("b a")  # rewritten with the same content: still cached
    assert Workflow(file_steps(path), cache_dir=tmp_path / "cache").run()["joined"] == "b a"
    assert CALLS == []
    path.write_text("c d")
    assert Workflow(file_steps(path), cache_dir=tmp_path / "cache").run()["joined"] == "c d"
    assert CALLS == ["lines", "join"]


def test_every_step_is_checked_before_the_first_runs(tmp_path: Path):
    CALLS.clear()
    config = {**steps(), "top": {"type": "executor_test::top", "counts": {"type": "ref", "ref": "words"}, "cuonts": 1}}
    with pytest.raises(ConfigurationError, match=r"^steps.top.cuonts: unexpected argument of step 'executor_test::top'; did you mean 'counts'"):
        Workflow(config, cache_dir=tmp_path)
    config = {**steps(), "words": {**steps()["words"], "tokenizer": {"type": "whitespace", "lowercase": "yes"}}}
    with pytest.raises(ConfigurationError, match=r"^steps.words.tokenizer.lowercase: expected bool, got str 'yes'"):
        Workflow(config, cache_dir=tmp_path)
    assert CALLS == [] and not (tmp_path / "steps").exists()


def test_a_reference_may_name_part_of_a_result(tmp_path: Path):
    config = {
        **steps(),
        "joined": {"type": "executor_test::join", "words": [{"type": "ref", "ref": "top"}, "and"], "separator": "-"},
        "from_b": {"type": "executor_test::top", "counts": {"x": {"type": "ref", "ref": "words", "path": "b"}, "y": 1}},
    }
    results = Workflow(config, cache_dir=tmp_path).run()
    assert results["joined"] == "b-and"
    assert results["from_b"] == "x"  # x: the count of "b", 2


def test_cached_results_are_read_only_when_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    Workflow(steps(), cache_dir=tmp_path).run()
    loads: list[str] = []
    original = StepCache.load
    def load(self: StepCache, fp: str) -> Any:
        loads.append(fp)
        return original(self, fp)

    monkeypatch.setattr(StepCache, "load", load)
    workflow = Workflow(steps(), cache_dir=tmp_path)
    assert [r.status for r in workflow.execute()] == ["cached", "cached"]
    assert loads == []
    workflow.execute(force=["top"])
    assert loads == [workflow.fingerprints["words"]]


@step("executor_test::uses_its_work_dir")
def uses_its_work_dir(fail: bool) -> str:
    context = current_step()
    assert context is not None and context.work_dir is not None
    context.work_dir.mkdir(parents=True, exist_ok=True)
    attempts = context.work_dir / "attempts.txt"
    attempts.write_text(attempts.read_text() + "x" if attempts.exists() else "x")
    if fail and len(attempts.read_text()) == 1:
        raise RuntimeError("killed")
    return f"{context.name} after {len(attempts.read_text())} attempts"


def test_a_step_keeps_its_work_dir_until_its_result_is_cached(tmp_path: Path):
    config = {"job": {"type": "executor_test::uses_its_work_dir", "fail": True}}
    with pytest.raises(RuntimeError, match="killed"):
        Workflow(config, cache_dir=tmp_path).run()
    workflow = Workflow(config, cache_dir=tmp_path)
    assert workflow.cache is not None
    assert not workflow.cache.has(workflow.fingerprints["job"])
    assert [entry.name for entry in workflow.cache.entries()] == ["(unfinished work)"]
    assert workflow.run()["job"] == "job after 2 attempts"  # what the failed attempt left is there
    assert not workflow.cache.work_dir(workflow.fingerprints["job"]).exists()
    with pytest.raises(RuntimeError, match="killed"):  # forced: a fresh start, nothing left to resume
        Workflow(config, cache_dir=tmp_path).run(force=["job"])


def test_workflows_sharing_a_cache_share_their_common_steps(tmp_path: Path):
    Workflow(steps(), cache_dir=tmp_path, name="first").run()
    CALLS.clear()
    other = {**steps(), "joined": {"type": "executor_test::join", "words": [{"type": "ref", "ref": "top"}]}}
    reports = Workflow(other, cache_dir=tmp_path, name="second").execute()
    assert {r.name: r.status for r in reports} == {"words": "cached", "top": "cached", "joined": "ran"}
    assert CALLS == ["join"]
    assert {(e.workflow, e.name) for e in StepCache(tmp_path).entries()} == {("first", "words"), ("first", "top"), ("second", "joined")}


ENTERED, RELEASE = threading.Event(), threading.Event()


@step("executor_test::slow")
def slow_step(value: int) -> int:
    CALLS.append("slow")
    ENTERED.set()
    assert RELEASE.wait(timeout=60)
    return value


def test_a_second_process_waits_for_a_step_another_is_running_then_reads_its_result(tmp_path: Path):
    CALLS.clear()
    ENTERED.clear()
    RELEASE.clear()
    config = {"slow": {"type": "executor_test::slow", "value": 3}}
    first = threading.Thread(target=lambda: Workflow(config, cache_dir=tmp_path).run())
    first.start()
    assert ENTERED.wait(timeout=60)
    reports: list = []
    second = threading.Thread(target=lambda: reports.extend(Workflow(config, cache_dir=tmp_path).execute()))
    second.start()
    RELEASE.set()
    first.join(timeout=60)
    second.join(timeout=60)
    assert CALLS == ["slow"]
    assert [r.status for r in reports] == ["cached"]
