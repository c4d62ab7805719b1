"""Benchmark: the overhead of data parallelism over devices and processes, same global batch.

    tools/bazel run //formed/training:multiprocess_bench
    tools/bazel run //formed/training:multiprocess_bench -- --epochs=5 --batch_size=64

Runs the same training (an LSTM text classifier, global batch `--batch_size`) as

* 1 process x 1 device,
* 1 process x 4 devices,
* 2 processes x 2 devices (`jax.distributed` on 127.0.0.1, collectives through gloo),

each in fresh processes (``XLA_FLAGS=--xla_force_host_platform_device_count`` must be set before
JAX starts), and prints for each the steps per second of `FlaxTrainer.train` (after a warm-up
epoch that compiles) and the fraction of a step spent outside the compiled computation:
``1 - compiled / step``, where ``compiled`` is the time per call of the compiled step alone,
called back to back on one placed batch. On a CPU machine the simulated devices share its
cores, so this measures overhead, not speed-up. When GPUs are present, also 1 GPU vs all GPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any


def _worker(args: argparse.Namespace) -> None:
    """One process of one configuration: trains, times, prints a JSON line (process 0)."""
    from formed.training._distributed import initialize_processes

    if args.num_processes > 1:
        initialize_processes(f"127.0.0.1:{args.port}", args.num_processes, args.process_id, initialization_timeout=120)

    import jax
    import numpy as np
    import optax

    from formed.core import AnalyzedTextBatch, IDSequenceBatch, from_config, use_rngs
    from formed.data import BasicBatchSampler, DataLoader
    from formed.modules import BaseFlaxModel
    from formed.training import DataParallelDistributor, DefaultFlaxTrainingEngine, FlaxTrainer
    from formed.training._trainer import _LossSum


    vocab, classes, length = 500, 4, args.length
    rng = np.random.default_rng(0)
    rows = [
        {"ids": rng.integers(1, vocab, size=(length,), dtype=np.int32), "label": int(rng.integers(0, classes))}
        for _ in range(args.batch_size * args.steps_per_epoch)
    ]

    def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
        ids = np.stack([item["ids"] for item in items])
        return {
            "text": AnalyzedTextBatch(surfaces=IDSequenceBatch(ids, np.ones(ids.shape, dtype=bool))),
            "label": np.asarray([item["label"] for item in items], dtype=np.int32),
        }

    with use_rngs(0):
        model = from_config(
            BaseFlaxModel,
            {
                "type": "text_classifier",
                "num_classes": classes,
                "embedder": {"type": "analyzed_text", "surface": {"type": "token", "vocab_size": vocab, "embedding_dim": 64}},
                "encoder": {"type": "lstm", "features": 64, "bidirectional": True},
                "vectorizer": {"type": "boe", "pooling": ["mean", "max"]},
                "dropout": 0.0,
            },
            path="model",
        )
    loader = DataLoader(BasicBatchSampler(batch_size=args.batch_size, drop_last=True), collator=collate, prefetch=2)
    trainer = FlaxTrainer(
        train_dataloader=loader,
        engine=DefaultFlaxTrainingEngine(optimizer=optax.adam(1e-3)),
        distributor=DataParallelDistributor(num_devices=args.num_devices),
        max_epochs=1,
        progress=False,
        logging_first_step=False,
    )
    state = trainer.train(model, rows)  # warm-up: compiles
    trainer.max_epochs = 1 + args.epochs
    start = time.perf_counter()
    state = trainer.train(model, rows, state=state)
    jax.block_until_ready(state)
    step_s = (time.perf_counter() - start) / (args.epochs * args.steps_per_epoch)

    distributor = trainer.distributor
    placed = distributor.mirror(state)  # the layout the trainer's step takes
    steps = trainer.compiled_steps(placed)
    batch = distributor.shard(next(iter(loader(rows))))
    leaves = steps.flatten(placed)
    total = _LossSum(distributor).total
    leaves, _, total = steps.train_step(batch, leaves, total, trainer)  # warm
    jax.block_until_ready(leaves)
    calls = args.epochs * args.steps_per_epoch
    start = time.perf_counter()
    for _ in range(calls):
        leaves, _, total = steps.train_step(batch, leaves, total, trainer)
    jax.block_until_ready(leaves)
    compiled_s = (time.perf_counter() - start) / calls
    if jax.process_index() == 0:
        print(json.dumps({"steps_per_sec": 1 / step_s, "compiled_ms": compiled_s * 1e3, "step_ms": step_s * 1e3}), flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(args: argparse.Namespace, processes: int, devices: int, platform: str) -> dict[str, float]:
    """Runs one configuration in fresh processes and returns process 0's figures."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # the workers import formed as this process does
    if platform == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    port = _free_port()
    common = [
        sys.executable, os.path.abspath(__file__), "--worker",
        f"--batch_size={args.batch_size}", f"--length={args.length}", f"--epochs={args.epochs}",
        f"--steps_per_epoch={args.steps_per_epoch}", f"--num_processes={processes}", f"--port={port}",
        f"--num_devices={devices * processes}",
    ]
    children = [
        subprocess.Popen([*common, f"--process_id={i}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(processes)
    ]
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=args.timeout)
        if child.returncode != 0:
            raise RuntimeError(f"a benchmark process failed ({child.returncode}):\n{err[-3000:]}")
        outputs.append(out)
    return json.loads([line for line in outputs[0].splitlines() if line.startswith("{")][-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch_size", type=int, default=32, help="global batch size")
    parser.add_argument("--length", type=int, default=32, help="tokens per text")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (after one warm-up epoch)")
    parser.add_argument("--steps_per_epoch", type=int, default=16)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per configuration")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--num_processes", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--process_id", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--num_devices", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    configurations = [("1 process x 1 device", 1, 1, "cpu"), ("1 process x 4 devices", 1, 4, "cpu"), ("2 processes x 2 devices", 2, 2, "cpu")]
    gpus = _gpu_count()
    if gpus:
        configurations += [("1 process x 1 GPU", 1, 1, "gpu"), (f"1 process x {gpus} GPUs", 1, gpus, "gpu")]
    print(f"global batch {args.batch_size}, length {args.length}, LSTM text classifier; {args.epochs * args.steps_per_epoch} timed steps")
    print(f"{'configuration':<26}{'steps/s':>10}{'step ms':>10}{'compiled ms':>13}{'outside':>9}")
    for name, processes, devices, platform in configurations:
        figures = _run(args, processes, devices, platform)
        outside = max(0.0, 1 - figures["compiled_ms"] / figures["step_ms"])
        print(
            f"{name:<26}{figures['steps_per_sec']:>10.1f}{figures['step_ms']:>10.2f}{figures['compiled_ms']:>13.2f}{outside:>9.0%}",
            flush=True,
        )


def _gpu_count() -> int:
    """GPUs visible to a fresh process (0 without any), without starting JAX in this one."""
    probe = "import jax; print(len([d for d in jax.devices() if d.platform == 'gpu']))"
    try:
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
        return int(result.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        return 0


if __name__ == "__main__":
    main()
