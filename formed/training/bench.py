"""Benchmark: `FlaxTrainer` against a hand-written `jax.jit` loop, same model, same batches.

    tools/bazel run //formed/training:bench
    tools/bazel run //formed/training:bench -- --steps=300 --rounds=3

Two cases: an LSTM text classifier (batch 32, length 64), where the device work dominates, and
a tiny classifier (batch 8, length 16), where per-step host overhead dominates. Two Equinox
cases train the Equinox LSTM classifier (`formed.equinox`) at both sizes with `FlaxTrainer`'s
``equinox`` engine against a hand-written `eqx.filter_jit` + optax loop. Both loops read
their batches from the same prefetching `DataLoader`; the trainer's compiled step is warmed up
first, so the timings exclude compilation. Rounds alternate between the two loops and the best
round of each is kept, to damp the noise of a shared machine.

Every feature of the engine is off in those cases. Two more (``*_accum4_clip_ema``) switch on
gradient accumulation (k=4), clipping by global norm and an EMA of the parameters, against a
hand-written loop that does the same with optax (`optax.MultiSteps`, `optax.clip_by_global_norm`)
and its own EMA update. ``tiny_b8_l16_progress_terminal`` compares the trainer drawing its
progress line on a (fake) terminal with the same trainer drawing nothing: the cost of the drawing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from typing import Any, Callable

import equinox as eqx
import jax
import numpy as np
import optax
from flax import nnx

from formed.core import AnalyzedTextBatch, IDSequenceBatch, from_config, use_rngs
from formed.data import BasicBatchSampler, DataLoader
from formed.equinox import BaseEquinoxModel
from formed.modules import BaseFlaxModel
from formed.training import (
    DefaultFlaxTrainingEngine,
    EquinoxTrainingEngine,
    FlaxTrainer,
    FlaxTrainingCallback,
    FlaxTrainingEngine,
)

VOCAB_SIZE = 500
NUM_CLASSES = 4
CASES: dict[str, dict[str, Any]] = {
    "lstm_b32_l64": dict(
        batch_size=32,
        length=64,
        model=dict(
            embedder=dict(type="analyzed_text", surface=dict(type="token", vocab_size=VOCAB_SIZE, embedding_dim=64)),
            encoder=dict(type="lstm", features=64, bidirectional=True),
            vectorizer=dict(type="boe", pooling=["mean", "max"]),
        ),
    ),
    "tiny_b8_l16": dict(
        batch_size=8,
        length=16,
        model=dict(
            embedder=dict(type="analyzed_text", surface=dict(type="token", vocab_size=VOCAB_SIZE, embedding_dim=16)),
            vectorizer=dict(type="boe", pooling="mean"),
        ),
    ),
}


# The Equinox LSTM classifier (the model keys of the Flax LSTM case), at both batch shapes.
EQUINOX_MODEL = CASES["lstm_b32_l64"]["model"]
EQUINOX_CASES: dict[str, dict[str, Any]] = {
    "equinox_lstm_b32_l64": dict(batch_size=32, length=64, model=EQUINOX_MODEL),
    "equinox_lstm_b8_l16": dict(batch_size=8, length=16, model=EQUINOX_MODEL),
}


# Accumulation, clipping and EMA together, on each Flax case.
FEATURES: dict[str, Any] = dict(accumulation_steps=4, clip_by_global_norm=1.0, ema_decay=0.99)
FEATURE_CASES = {f"{name}_accum4_clip_ema": name for name in CASES}
PROGRESS_CASES = {"tiny_b8_l16_progress_terminal": "tiny_b8_l16"}


def make_batches(num: int, batch_size: int, length: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(num):
        ids = rng.integers(1, VOCAB_SIZE, size=(batch_size, length), dtype=np.int32)
        mask = np.ones((batch_size, length), dtype=bool)
        labels = rng.integers(0, NUM_CLASSES, size=(batch_size,), dtype=np.int32)
        batches.append({"text": AnalyzedTextBatch(surfaces=IDSequenceBatch(ids, mask)), "label": labels})
    return batches


def make_model(config: dict[str, Any]) -> nnx.Module:
    with use_rngs(0):
        return from_config(
            BaseFlaxModel, {"type": "text_classifier", "num_classes": NUM_CLASSES, **config}, path="model"
        )


def loader() -> DataLoader:
    # The dataset items are whole batches: the collator hands each one through.
    return DataLoader(BasicBatchSampler(batch_size=1), collator=lambda items: items[0], prefetch=2)


def split_params(model: nnx.Module) -> tuple[Any, Any, Any]:
    """``nnx.split(model, nnx.Param, ...)``: the graph, the parameters and the other states."""
    graphdef, params, *others = nnx.split(model, nnx.Param, ...)
    return graphdef, params, others[0]


def hand_written(model: nnx.Module, batches: list[Any], tx: optax.GradientTransformation) -> tuple[float, Any]:
    """Steps per second of a plain jitted update loop, and its final parameters."""
    model.train()
    graphdef, params, rest = split_params(model)
    params = jax.tree.map(lambda x: x.copy(), params)
    opt_state = tx.init(params)

    def step(params: Any, rest: Any, opt_state: Any, batch: Any) -> tuple[Any, Any, Any, jax.Array]:
        model = nnx.merge(graphdef, params, rest)
        loss, grads = nnx.value_and_grad(lambda m: m(batch).loss)(model)
        rest = split_params(model)[2]  # RNG counters advanced by the LSTM
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), rest, opt_state, loss

    step = jax.jit(step, donate_argnums=(0, 1, 2))
    copy = lambda tree: jax.tree.map(lambda x: x.copy(), tree)  # noqa: E731
    jax.block_until_ready(step(copy(params), copy(rest), tx.init(params), batches[0]))
    rest = copy(rest)
    iterator = loader()(batches)
    start = time.perf_counter()
    for batch in iterator:
        params, rest, opt_state, loss = step(params, rest, opt_state, batch)
    jax.block_until_ready(params)
    return len(batches) / (time.perf_counter() - start), params


def hand_written_features(
    model: nnx.Module, batches: list[Any], accumulation_steps: int, clip_by_global_norm: float, ema_decay: float
) -> tuple[float, Any]:
    """The hand-written loop with accumulation, clipping and an EMA of the parameters, written
    as a user would with optax alone; its steps per second and final parameters."""
    model.train()
    graphdef, params, rest = split_params(model)
    tx = optax.MultiSteps(optax.chain(optax.clip_by_global_norm(clip_by_global_norm), optax.adam(1e-3)), accumulation_steps)

    def step(params: Any, rest: Any, opt_state: Any, ema: Any, batch: Any) -> tuple[Any, Any, Any, Any, jax.Array]:
        model = nnx.merge(graphdef, params, rest)
        loss, grads = nnx.value_and_grad(lambda m: m(batch).loss)(model)
        rest = split_params(model)[2]
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        updated = opt_state.mini_step == 0
        ema = jax.tree.map(lambda e, p: jax.numpy.where(updated, ema_decay * e + (1 - ema_decay) * p, e), ema, params)
        return params, rest, opt_state, ema, loss

    step = jax.jit(step, donate_argnums=(0, 1, 2, 3))
    copy = lambda tree: jax.tree.map(lambda x: x.copy(), tree)  # noqa: E731
    jax.block_until_ready(step(copy(params), copy(rest), tx.init(params), copy(params), batches[0]))
    params, rest, opt_state, ema = copy(params), copy(rest), tx.init(params), copy(params)
    iterator = loader()(batches)
    start = time.perf_counter()
    for batch in iterator:
        params, rest, opt_state, ema, loss = step(params, rest, opt_state, ema, batch)
    jax.block_until_ready(params)
    return len(batches) / (time.perf_counter() - start), params


class _Terminal(io.TextIOBase):
    """A terminal that shows nothing: rich draws to it as to a real one."""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


class LoopTimer(FlaxTrainingCallback):
    """Times the trainer's step loop: from the start of training to the end of the last epoch,
    with the device finished (the same span as the hand-written loop's timing)."""

    keeps_states = False

    def on_training_start(self, trainer: FlaxTrainer, model: nnx.Module, state: Any) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, trainer: FlaxTrainer, model: nnx.Module, state: Any, epoch: int) -> None:
        jax.block_until_ready(state.params)
        self.seconds = time.perf_counter() - self.start


def with_trainer(trainer: FlaxTrainer, model: nnx.Module, batches: list[Any]) -> tuple[float, Any]:
    """Steps per second of `FlaxTrainer.train`'s step loop over one epoch, and its final parameters."""
    timer = next(callback for callback in trainer.callbacks if isinstance(callback, LoopTimer))
    state = trainer.train(model, batches)
    return len(batches) / timer.seconds, state.params


def make_equinox_model(config: dict[str, Any]) -> eqx.Module:
    with use_rngs(0):
        return from_config(
            BaseEquinoxModel, {"type": "text_classifier", "num_classes": NUM_CLASSES, **config}, path="model"
        )


def hand_written_equinox(model: eqx.Module, batches: list[Any], tx: optax.GradientTransformation, key: jax.Array) -> tuple[float, Any]:
    """Steps per second of the loop an Equinox user writes (`eqx.filter_jit`, a dropout key
    split per step, optax), and its final parameters."""

    @eqx.filter_jit(donate="all-except-first")
    def step(batch: Any, model: eqx.Module, opt_state: Any, key: jax.Array) -> tuple[eqx.Module, Any, jax.Array, jax.Array]:
        key, step_key = jax.random.split(key)
        loss, grads = eqx.filter_value_and_grad(lambda m: m(batch, key=step_key).loss)(model)
        updates, opt_state = tx.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), opt_state, key, loss

    copy = lambda tree: jax.tree.map(lambda x: x.copy() if eqx.is_array(x) else x, tree)  # noqa: E731
    init = lambda: tx.init(eqx.filter(model, eqx.is_inexact_array))  # noqa: E731
    jax.block_until_ready(step(batches[0], copy(model), init(), key.copy()))
    model, opt_state, key = copy(model), init(), key.copy()
    iterator = loader()(batches)
    start = time.perf_counter()
    for batch in iterator:
        model, opt_state, key, loss = step(batch, model, opt_state, key)
    jax.block_until_ready(model)
    return len(batches) / (time.perf_counter() - start), eqx.filter(model, eqx.is_inexact_array)


def _trainer(engine: Any, progress: bool = False) -> FlaxTrainer:
    return FlaxTrainer(
        train_dataloader=loader(),
        engine=engine,
        max_epochs=1,
        logging_strategy="epoch",
        logging_first_step=False,
        progress=progress,
        callbacks=[LoopTimer()],
    )


def run_case(name: str, steps: int, rounds: int) -> float:
    progress = name in PROGRESS_CASES
    base = FEATURE_CASES.get(name) or PROGRESS_CASES.get(name) or name
    case = EQUINOX_CASES[name] if name in EQUINOX_CASES else CASES[base]
    batches = make_batches(steps, case["batch_size"], case["length"])
    tx = optax.adam(1e-3)
    # The model, the trainer's engine and the baseline loop of each kind of case.
    baseline: Callable[[], tuple[float, Any]]
    engine: FlaxTrainingEngine
    model: Any
    if name in EQUINOX_CASES:
        equinox_model = model = make_equinox_model(case["model"])
        equinox_engine = EquinoxTrainingEngine(optimizer=tx)
        key = equinox_engine.create_state(None, _trainer(equinox_engine), equinox_model).key
        assert key is not None  # create_state always draws one (the loop splits it per step)
        engine = equinox_engine
        baseline = lambda: hand_written_equinox(equinox_model, batches, tx, key)  # noqa: E731
    else:
        flax_model = model = make_model(case["model"])
        if name in FEATURE_CASES:
            engine = DefaultFlaxTrainingEngine(optimizer=tx, **FEATURES)
            baseline = lambda: hand_written_features(flax_model, batches, **FEATURES)  # noqa: E731
        elif progress:
            engine = DefaultFlaxTrainingEngine(optimizer=tx)
            baseline_trainer = _trainer(DefaultFlaxTrainingEngine(optimizer=tx))
            baseline_trainer.train(flax_model, batches[:3])
            baseline = lambda: with_trainer(baseline_trainer, flax_model, batches)  # noqa: E731
        else:
            engine = DefaultFlaxTrainingEngine(optimizer=tx)
            baseline = lambda: hand_written(flax_model, batches, tx)  # noqa: E731
    trainer = _trainer(engine, progress=progress)
    # A terminal for the progress case (the bar draws on stderr); no effect on the others.
    with contextlib.redirect_stderr(_Terminal()) if progress else contextlib.nullcontext():
        trainer.train(model, batches[:3])  # compiles the step
    best_trainer = best_hand = 0.0
    for _ in range(rounds):
        hand_rate, hand_params = baseline()
        with contextlib.redirect_stderr(_Terminal()) if progress else contextlib.nullcontext():
            trainer_rate, trainer_params = with_trainer(trainer, model, batches)
        best_hand, best_trainer = max(best_hand, hand_rate), max(best_trainer, trainer_rate)
    # Same updates in the same order: the two loops must agree, or the comparison is void.
    difference = max(float(np.max(np.abs(a - b))) for a, b in zip(jax.tree.leaves(hand_params), jax.tree.leaves(trainer_params)))
    ratio = best_trainer / best_hand
    baseline_name = "progress off" if progress else "hand-written"
    print(
        f"{name}: {baseline_name} {best_hand:8.1f} steps/s | FlaxTrainer {best_trainer:8.1f} steps/s | "
        f"ratio {ratio:.3f} | max |param difference| {difference:.2e}",
        flush=True,
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="steps per timed loop")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; the best of each is kept")
    every_case = [*CASES, *FEATURE_CASES, *PROGRESS_CASES, *EQUINOX_CASES]
    parser.add_argument("--case", choices=sorted(every_case), action="append", help="run only these cases")
    args = parser.parse_args()
    for name in args.case or every_case:
        run_case(name, args.steps, args.rounds)


if __name__ == "__main__":
    main()
