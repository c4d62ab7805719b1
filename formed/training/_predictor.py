"""`Predictor`: a fitted data module and a trained model, predicting on plain records.

    predictor = load_model("/tmp/models/a")            # or a run directory
    predictor.predict([{"text": "the blue ball is east of the red box"}])
    # [{"label": "blue", "probabilities": {"blue": 0.98, "red": 0.01, ...}}]

Records are batched by the data module (records to predict on need no label), padded to a few
shapes (the text fields' length buckets, `formed.data.PaddedCollator`, and `batch_size` rows),
so the jitted forward pass compiles at most once per bucket whatever the mix of lengths
(`compilations` counts them). Batches are collated on a background thread while the device
runs the previous one; outputs come back in input order as the model's `readable_output`.
"""

from __future__ import annotations

import itertools
import queue
import threading
from typing import Any, Iterable, Iterator, Mapping, Sequence

import equinox as eqx
import jax
import numpy as np
from flax import nnx

from formed.core import readable_rows
from formed.data import DataModule, PaddedCollator
from formed.training._callbacks import evaluators_of

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _rows(output: Any, count: int, size: int) -> Any:
    """The first `count` rows of every array of `output` whose leading axis is the batch's."""
    return jax.tree.map(lambda x: x[:count] if np.ndim(x) >= 1 and np.shape(x)[0] == size else x, output)


class Predictor:
    """Predicts with `model` on records batched by `datamodule`.

    Args:
        model: a trained model (its parameters as they are now); put in evaluation mode.
        datamodule: the data module fitted with the model (vocabularies, label set); None for
            a model saved without one (a workflow's cached model): ``model`` is usable, and
            `predict` / `evaluate` raise ValueError asking for one.
        config: the run's resolved config; `evaluate` builds the run's evaluators from it.
        batch_size: records per forward pass.
        info: where the model came from (``{"source": ..., "step": ...}``), for reports.
    """

    def __init__(
        self,
        model: nnx.Module,
        datamodule: DataModule | None,
        config: Mapping[str, Any] | None = None,
        batch_size: int = 64,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model
        self.datamodule = datamodule
        self.config = dict(config or {})
        self.batch_size = batch_size
        self.info = dict(info or {})
        self.collator = None if datamodule is None else PaddedCollator(datamodule, lengths="buckets", batch_size=batch_size)
        self.compilations = 0
        if isinstance(model, nnx.Module):
            model.eval()
            graphdef, state = nnx.split(model)
            rebuild = lambda state: nnx.merge(graphdef, state)  # noqa: E731
        else:  # an Equinox model: dropout off through its `inference` flags
            self.model = model = eqx.nn.inference_mode(model)
            state, static = eqx.partition(model, eqx.is_array)
            rebuild = lambda state: eqx.combine(state, static)  # noqa: E731
        self._state = state

        def forward(state: Any, batch: Any) -> Any:
            self.compilations += 1  # runs only while tracing: once per new batch shape
            return rebuild(state)(batch)

        self._forward = jax.jit(forward)

    def __repr__(self) -> str:
        where = self.info.get("source", "memory")
        return f"Predictor({type(self.model).__name__} from {where}, step {self.info.get('step')})"

    def _require_datamodule(self) -> DataModule:
        if self.datamodule is None:
            where = self.info.get("source", "the model")
            raise ValueError(
                f"{where}: saved without a data module (data/), so it cannot batch records; "
                "give the one it was trained with: load_model(path, datamodule=...)"
            )
        return self.datamodule

    def _collated(self, records: Iterable[Mapping[str, Any]]) -> Iterator[Any]:
        """(chunk size, padded batch) pairs, collated on a background thread two batches ahead;
        an error (a malformed record, a missing column) arrives after the batches before it."""
        self._require_datamodule()
        collator = self.collator
        assert collator is not None  # made with the data module, which is there
        results: queue.Queue[Any] = queue.Queue(maxsize=2)
        stop = threading.Event()

        def produce() -> None:
            iterator = iter(records)
            start = 0
            pending_error: BaseException | None = None
            try:
                while not stop.is_set() and pending_error is None:
                    chunk = []
                    try:
                        for record in iterator:
                            chunk.append(record)
                            if len(chunk) == self.batch_size:
                                break
                    except Exception as error:  # a malformed line: the records before it still count
                        pending_error = error
                    if not chunk:
                        break
                    try:
                        batch = collator(chunk)
                    except ValueError as error:
                        raise ValueError(f"records {start + 1}-{start + len(chunk)}: {error}") from None
                    start += len(chunk)
                    results.put((len(chunk), batch))
                results.put(_DONE if pending_error is None else _Failure(pending_error))
            except BaseException as error:  # handed to the consumer, in order
                results.put(_Failure(error))

        thread = threading.Thread(target=produce, name="formed-predict-collate", daemon=True)
        thread.start()
        try:
            while True:
                item = results.get()
                if item is _DONE:
                    return
                if isinstance(item, _Failure):
                    raise item.error
                yield item
        finally:
            stop.set()
            while thread.is_alive():  # unblock a producer waiting on a full queue
                try:
                    results.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.01)

    def _run(self, batch: Any) -> Any:
        try:
            return self._forward(self._state, batch)
        except KeyError as error:
            name = error.args[0] if error.args else None
            fields = self._require_datamodule().fields
            if isinstance(name, str) and name in fields:
                column = fields[name].column or name
                raise ValueError(
                    f"the model needs field {name!r} (column {column!r}), which the input records lack"
                ) from None
            raise ValueError(f"the model could not read the batch (keys {sorted(batch)}): {error}") from None

    def outputs(self, records: Iterable[Mapping[str, Any]]) -> Iterator[Any]:
        """The model's raw output (host arrays) for each batch of `batch_size` records, in order."""
        pending: tuple[int, Any] | None = None
        batches = self._collated(records)
        while True:
            try:
                count, batch = next(batches)
            except StopIteration:
                break
            except BaseException:
                # A malformed record: the batch before it is finished and handed out first.
                if pending is not None:
                    yield _rows(jax.device_get(pending[1]), pending[0], self.batch_size)
                raise
            output = self._run(batch)  # dispatched: the device works while we finish the last batch
            if pending is not None:
                yield _rows(jax.device_get(pending[1]), pending[0], self.batch_size)
            pending = (count, output)
        if pending is not None:
            yield _rows(jax.device_get(pending[1]), pending[0], self.batch_size)

    def iter_predict(self, records: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        """One readable prediction per record, in input order, as they are computed (records
        may be a stream, e.g. lines of standard input)."""
        readable = getattr(self.model, "readable_output", None)
        for output in self.outputs(records):
            if callable(readable):
                yield from readable(output, self.datamodule)
            else:
                yield from _default_readable(output)

    def predict(self, records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One readable prediction per record (for the text classifier: ``label`` and
        ``probabilities``), in input order."""
        return list(self.iter_predict(records))

    def evaluate(self, records: Sequence[Mapping[str, Any]], source: str = "the records") -> dict[str, float]:
        """The metrics of the run's own evaluators (its config's callbacks) and the mean loss on
        labelled `records`, computed as the run computed its validation metrics.

        Raises:
            ValueError: naming the first record without the target column.
        """
        from formed.training._run import build_trainer  # the run's trainer knows its evaluators

        if not records:
            raise ValueError(f"{source}: no records to evaluate")
        datamodule = self._require_datamodule()
        datamodule.require_targets(records, source)
        if "trainer" not in self.config:
            raise ValueError("evaluate needs the run's config (its trainer section names the evaluators)")
        trainer = build_trainer(self.config, datamodule)
        trainer.progress = False
        dataloader = trainer.val_dataloader
        if dataloader is None:
            from formed.data import BasicBatchSampler, DataLoader

            dataloader = DataLoader(BasicBatchSampler(batch_size=self.batch_size), collator=PaddedCollator(datamodule))
        state = trainer.engine.create_state(None, trainer, self.model)
        evaluators = evaluators_of(trainer.callbacks, trainer, self.model, state)
        return trainer.evaluate(self.model, state, list(records), dataloader=dataloader, evaluators=evaluators)


def _default_readable(output: Any) -> list[dict[str, Any]]:
    return readable_rows(output)
