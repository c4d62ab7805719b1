"""A smoke test of the benchmark's code path on a tiny corpus (never the full benchmark)."""

from formed.data import bench


def test_tiny_benchmark_runs_and_checks_agreement():
    lines: list[str] = []
    results = bench.run(num_tokens=3000, batch_size=8, repeats=1, log=lines.append)
    assert [r.name for r in results["indexing"]] == ["extension", "reference", "baseline"]
    assert all(r.tokens >= 3000 and r.seconds > 0 for rs in results.values() for r in rs)
    assert any("indexing + padding" in line for line in lines)


def test_corpus_is_deterministic_and_mixed():
    corpus = bench.make_corpus(2000, seed=5)
    assert corpus == bench.make_corpus(2000, seed=5)
    text = " ".join(corpus)
    assert any(c.isupper() for c in text) and any(c in ",.?!;:" for c in text)
    assert len({len(line.split()) for line in corpus}) > 10
