"""Benchmark of `Predictor.predict` against a hand-written `jax.jit` loop over the same padded
batches, in the same process (the ratio is what to read, not the absolute numbers).

    tools/bazel run //formed/training:predict_bench [-- --records=20000 --batch_size=64]

Two inputs: the built-in dataset's test split, and `--records` records of mixed lengths (1 to 3
times the text field's max_length words, so every length bucket and truncation occur). The
model is the shipped `text_classifier` config's (an LSTM classifier), built with the data
module fitted on the training split; its parameters do not change the timing. The predictor's
time covers everything from records to readable predictions (batching, padding, the forward
pass, labels and probabilities); the hand-written loop gets the batches already padded and only
runs the jitted forward pass and fetches the outputs. Also printed: the number of compilations
(bounded by the number of length buckets).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import jax
import numpy as np
from flax import nnx

from formed.core import from_config
from formed.data import DataModule, SpatialRelationsDataset, buckets_up_to
from formed.training._predictor import Predictor
from formed.training._run import build_model, resolve_config
from formed.training.configs import text_classifier


def mixed_records(count: int, words: list[str], max_length: int, seed: int = 0) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 3 * max_length + 1, size=count)
    return [{"text": " ".join(rng.choice(words, size=n))} for n in lengths]


def hand_written_loop(model: nnx.Module, batches: list[Any]) -> float:
    """Seconds for a plain jitted forward over pre-padded batches, outputs fetched to the host."""
    graphdef, state = nnx.split(model)

    @jax.jit
    def forward(state: Any, batch: Any) -> Any:
        return nnx.merge(graphdef, state)(batch)

    for batch in {tuple(np.shape(b["text"].surfaces.ids)): b for b in batches}.values():
        jax.block_until_ready(forward(state, batch))  # compile every shape first
    start = time.perf_counter()
    pending = None
    for batch in batches:
        output = forward(state, batch)
        if pending is not None:
            jax.device_get(pending)
        pending = output
    jax.device_get(pending)
    return time.perf_counter() - start


def bench(name: str, predictor: Predictor, records: list[dict[str, Any]], repeats: int) -> None:
    collator = predictor.collator
    if collator is None:
        raise ValueError(f"{name}: the predictor has no data module to batch records with")
    batches = [collator(records[i : i + predictor.batch_size]) for i in range(0, len(records), predictor.batch_size)]
    predictor.predict(records[: predictor.batch_size * 4])  # warm up
    predictor.predict(records)  # compiles any bucket not yet seen
    ours = min(_timed(lambda: predictor.predict(records)) for _ in range(repeats))
    theirs = min(hand_written_loop(predictor.model, batches) for _ in range(repeats))
    print(
        f"{name:>22}: {len(records):6d} records  predictor {len(records) / ours:9.0f} ex/s  "
        f"hand-written jit loop {len(records) / theirs:9.0f} ex/s  ratio {theirs / ours:.2f}  "
        f"compilations {predictor.compilations}"
    )


def _timed(function: Any) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    config = text_classifier.get_config().to_dict()
    splits = from_config(SpatialRelationsDataset, {k: v for k, v in config["dataset"].items() if k != "type"}).load()
    datamodule = from_config(DataModule, config["datamodule"]).build(splits["train"])
    resolved = resolve_config(config, datamodule)
    predictor = Predictor(build_model(resolved), datamodule, config=resolved, batch_size=args.batch_size)
    max_length = config["datamodule"]["fields"]["text"]["max_length"]
    print(f"devices: {jax.devices()}; length buckets {buckets_up_to(max_length)}; batch size {args.batch_size}")
    test = [{"text": r["text"]} for r in splits["test"]]
    bench("test split", predictor, test, args.repeats)
    words = sorted({word for r in splits["train"] for word in r["text"].split()})
    bench("mixed lengths", predictor, mixed_records(args.records, words, max_length), args.repeats)
    print(f"compilations in all: {predictor.compilations} (length buckets: {len(buckets_up_to(max_length))})")


if __name__ == "__main__":
    main()
