"""Tests for formed.workflow.executor: order, references, caching and errors."""

from pathlib import Path

import jax
import pytest

from formed.core import ConfigurationError, Registrable, require_rngs
from formed.workflow.executor import Workflow
from formed.workflow.step import step

CALLS: list[str] = []


class Tokenizer(Registrable):
    pass


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
