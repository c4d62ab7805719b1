import errno
import json
import os
import shutil

import jax
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

from formed.data import BasicBatchSampler, DataLoader
from formed.training.testing import TinyClassifier, collate, list_loader, make_records, params_of
from formed.training._callbacks import FlaxTrainingCallback
from formed.training.checkpoints import (
    CheckpointCallback,
    CheckpointError,
    CheckpointDirectory,
    arrays_to_state,
    state_to_arrays,
)
from formed.training._engine import DefaultFlaxTrainingEngine
from formed.training._exceptions import NonFiniteLossError
from formed.training._state import TrainState
from formed.training._trainer import FlaxTrainer


def _state(seed=0):
    return TrainState.from_model(TinyClassifier(seed=seed), optax.adam(1e-3))


def test_arrays_round_trip_including_prng_keys():
    state = _state()
    restored = arrays_to_state(state_to_arrays(state), _state(seed=1))
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(restored)):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            np.testing.assert_array_equal(jax.random.key_data(a), jax.random.key_data(b))
        else:
            np.testing.assert_array_equal(a, b)


def test_a_checkpoint_of_another_model_is_refused():
    other = TrainState.from_model(TinyClassifier(hidden=8), optax.adam(1e-3))
    with pytest.raises(ValueError, match="shape"):
        arrays_to_state(state_to_arrays(_state()), other)


def test_save_restore_and_prune_keep_last_and_best(tmp_path):
    directory = CheckpointDirectory(str(tmp_path / "checkpoints"))
    state = _state()
    for step in (1, 2, 3, 4):
        directory.save(state.replace(step=state.step + step), step, {"accuracy": step / 10}, best=step == 2)
        directory.prune(keep_last=2)
    assert directory.steps() == [2, 3, 4]
    index = json.loads((tmp_path / "checkpoints" / "index.json").read_text())
    assert index["best"] == 2 and [entry["step"] for entry in index["checkpoints"]] == [2, 3, 4]
    assert int(directory.restore(_state()).step) == 4
    assert int(directory.restore(_state(), step=2).step) == 2
    # Nothing temporary is left behind.
    assert not [name for name in os.listdir(tmp_path / "checkpoints") if "tmp" in name]


class Crash(FlaxTrainingCallback):
    def __init__(self, at_step):
        self.at_step = at_step

    def on_batch_end(self, trainer, model, state, epoch, output):
        if trainer.global_step == self.at_step:
            raise RuntimeError("simulated crash")


def _trainer(directory, *extra):
    return FlaxTrainer(
        train_dataloader=DataLoader(BasicBatchSampler(batch_size=16, shuffle=True, seed=1), collator=collate),
        engine=DefaultFlaxTrainingEngine(optimizer=optax.adam(1e-2)),
        callbacks=[CheckpointCallback(directory=directory, interval=3, keep_last=2), *extra],
        max_epochs=3,
        progress=False,
    )


def test_a_crashed_run_resumes_to_the_same_parameters(tmp_path):
    records = make_records(80)  # 5 steps per epoch, 15 in all
    uninterrupted = _trainer(str(tmp_path / "a")).train(TinyClassifier(), records)

    with pytest.raises(RuntimeError, match="simulated crash"):
        _trainer(str(tmp_path / "b"), Crash(at_step=8)).train(TinyClassifier(), records)
    directory = CheckpointDirectory(str(tmp_path / "b"))
    assert directory.latest_step() == 6  # saved every 3 steps and at the end of epoch 1 (step 5)
    trainer = _trainer(str(tmp_path / "b"))
    model = TinyClassifier()
    state = directory.restore(trainer.engine.create_state(None, trainer, model))
    resumed = trainer.train(model, records, state=state)

    assert int(resumed.step) == int(uninterrupted.step) == 15
    for a, b in zip(params_of(uninterrupted), params_of(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_best_checkpoint_by_metric(tmp_path):
    records = make_records(32)
    callback = CheckpointCallback(directory=str(tmp_path), keep_last=1, metric="-loss")
    trainer = FlaxTrainer(
        train_dataloader=list_loader(16), val_dataloader=list_loader(32),
        engine=DefaultFlaxTrainingEngine(optimizer=optax.adam(1e-2)),
        callbacks=[callback], max_epochs=3, progress=False,
    )
    trainer.train(TinyClassifier(), records, records)
    index = CheckpointDirectory(str(tmp_path)).read_index()
    assert index["best"] in CheckpointDirectory(str(tmp_path)).steps()
    assert CheckpointDirectory(str(tmp_path)).latest_step() == 6


class ScriptedScore:
    """An evaluator whose score depends only on the step it is evaluated at."""

    def __init__(self, trainer_ref, scores):
        self.trainer_ref = trainer_ref
        self.scores = scores

    def reset(self):
        pass

    def update(self, inputs, output):
        pass

    def compute(self):
        return {"score": self.scores[self.trainer_ref[0].global_step]}


def _early_stopping_run(directory, records, *extra, checkpoint_metric=None):
    from formed.training._callbacks import EarlyStoppingCallback, EvaluationCallback

    trainer_ref: list[FlaxTrainer] = []
    early_stopping = EarlyStoppingCallback(patience=5, metric="+score")
    trainer = FlaxTrainer(
        train_dataloader=DataLoader(BasicBatchSampler(batch_size=16, shuffle=True, seed=1), collator=collate),
        val_dataloader=list_loader(32),
        engine=DefaultFlaxTrainingEngine(optimizer=optax.adam(1e-2)),
        callbacks=[
            EvaluationCallback(ScriptedScore(trainer_ref, {5: 0.5, 10: 0.9, 15: 0.7, 20: 0.6})),
            CheckpointCallback(directory=directory, interval=3, keep_last=2, metric=checkpoint_metric),
            early_stopping,
            *extra,
        ],
        max_epochs=4,
        progress=False,
    )
    trainer_ref.append(trainer)
    return trainer


def test_a_resumed_run_restores_the_best_state_seen_before_the_crash(tmp_path):
    records = make_records(80)  # 5 steps per epoch; evaluations at steps 5, 10, 15, 20
    trainer = _early_stopping_run(str(tmp_path / "a"), records)
    uninterrupted = trainer.train(TinyClassifier(), records, records)
    assert int(uninterrupted.step) == 10  # the best evaluation's state is the result

    with pytest.raises(RuntimeError, match="simulated crash"):
        _early_stopping_run(str(tmp_path / "b"), records, Crash(at_step=13)).train(TinyClassifier(), records, records)
    directory = CheckpointDirectory(str(tmp_path / "b"))
    assert directory.latest_step() == 12
    trainer = _early_stopping_run(str(tmp_path / "b"), records)
    model = TinyClassifier()
    state, callback_states = directory.restore_with_callbacks(trainer.engine.create_state(None, trainer, model))
    saved = callback_states["2:EarlyStoppingCallback"]
    assert saved["best_step"] == 10 and saved["evaluations_without_improvement"] == 0
    trainer.callbacks[2].load_state_dict(saved)
    resumed = trainer.train(model, records, records, state=state)

    assert int(resumed.step) == 10
    for a, b in zip(params_of(uninterrupted), params_of(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_a_step_is_saved_after_every_callback_has_seen_it(tmp_path):
    records = make_records(80)
    trainer = _early_stopping_run(str(tmp_path), records)
    trainer.train(TinyClassifier(), records, records)
    index = CheckpointDirectory(str(tmp_path)).read_index()
    by_step = {entry["step"]: entry for entry in index["checkpoints"]}
    # Saved at the end of epoch 4 (step 20), after early stopping counted evaluation 20.
    assert by_step[20]["callbacks"]["2:EarlyStoppingCallback"]["evaluations_without_improvement"] == 2


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so no handler in the trainer catches it (the
    trainer's only `finally` closes the progress bar and the loader; it writes nothing)."""


def _resume(directory, records, checkpoint_metric):
    """What the `train` binary does on a rerun: restore the latest step and the callback states."""
    trainer = _early_stopping_run(directory, records, checkpoint_metric=checkpoint_metric)
    model = TinyClassifier()
    state = CheckpointDirectory(directory).resume(trainer, trainer.engine.create_state(None, trainer, model))
    return trainer.train(model, records, records, state=state)


def test_a_kill_after_any_write_of_the_best_step_resumes_to_the_same_directory(tmp_path, monkeypatch):
    """The best step's save is several writes (orbax's step directory, the index, the pruning);
    a kill after any one of them, then a rerun, ends with the same kept steps, the same best step
    and the same final parameters as a run never killed."""
    from formed.training import checkpoints as checkpoints_module

    records = make_records(80)  # 5 steps per epoch; evaluations at 5, 10 (the best), 15, 20
    metric = "+score"
    uninterrupted = _early_stopping_run(str(tmp_path / "a"), records, checkpoint_metric=metric).train(
        TinyClassifier(), records, records
    )
    expected = CheckpointDirectory(str(tmp_path / "a"))
    assert expected.read_index()["best"] == 10 and expected.steps() == [10, 18, 20]

    writes_of_step_10 = []
    trainer_ref: list[FlaxTrainer] = []

    def killing(write, kill_after):
        def wrapped(*args, **kwargs):
            result = write(*args, **kwargs)
            if trainer_ref and trainer_ref[0].global_step == 10:
                writes_of_step_10.append(write.__name__)
                if len(writes_of_step_10) == kill_after:
                    raise Killed(write.__name__)
            return result

        return wrapped

    kill_after = 1
    while True:
        directory = str(tmp_path / f"b{kill_after}")
        writes_of_step_10.clear()
        with monkeypatch.context() as patch:
            patch.setattr(checkpoints_module, "_write_json_atomically", killing(checkpoints_module._write_json_atomically, kill_after))
            patch.setattr(checkpoints_module.shutil, "rmtree", killing(checkpoints_module.shutil.rmtree, kill_after))
            patch.setattr(ocp.PyTreeCheckpointer, "save", killing(ocp.PyTreeCheckpointer.save, kill_after))
            trainer = _early_stopping_run(directory, records, checkpoint_metric=metric)
            trainer_ref[:] = [trainer]
            try:
                trainer.train(TinyClassifier(), records, records)
            except Killed:
                killed = True
            else:
                killed = False
        if not killed:
            break  # every write of step 10 has been a kill point
        resumed = _resume(directory, records, metric)
        actual = CheckpointDirectory(directory)
        after = writes_of_step_10[-1]
        assert actual.read_index()["best"] == 10, f"killed after {after}"
        assert actual.steps() == expected.steps(), f"killed after {after}"
        assert [e["step"] for e in actual.read_index()["checkpoints"]] == [10, 18, 20], f"killed after {after}"
        assert int(resumed.step) == int(uninterrupted.step) == 10
        for a, b in zip(params_of(uninterrupted), params_of(resumed)):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=f"killed after {after}")
        assert not [name for name in os.listdir(directory) if "tmp" in name], f"killed after {after}"
        kill_after += 1
    # The orbax save, the index write, the index write of pruning, two deleted steps (5 and 6).
    assert kill_after - 1 == 5, writes_of_step_10


def _saved_directory(tmp_path, steps=(1, 2, 3)):
    directory = CheckpointDirectory(str(tmp_path / "checkpoints"))
    state = _state()
    for step in steps:
        directory.save(state.replace(step=state.step + step), step, {"accuracy": step / 10}, best=step == 1)
    return directory


def _largest_file(path):
    files = [os.path.join(root, name) for root, _, names in os.walk(path) for name in names]
    return max(files, key=os.path.getsize)


def test_damaged_checkpoints_fall_back_to_the_newest_intact_one(tmp_path, caplog):
    directory = _saved_directory(tmp_path)
    assert set(directory.read_index()["checkpoints"][0]["files"])  # checksums recorded at save
    # Bit rot in step 3 (64 flipped bytes), a truncated file in step 2.
    with open(_largest_file(directory.path(3)), "r+b") as file:
        data = bytearray(file.read())
        for i in range(64):
            data[i] ^= 0xFF
        file.seek(0)
        file.write(data)
    with open(_largest_file(directory.path(2)), "r+b") as file:
        file.truncate(10)
    with caplog.at_level("WARNING"):
        state = directory.restore(_state())
    assert int(state.step) == 1
    warnings = "\n".join(record.getMessage() for record in caplog.records)
    assert "step_00000003 (step 3) is damaged" in warnings and "step_00000002 (step 2) is damaged" in warnings
    assert "newest intact checkpoint, step 1" in warnings
    # The damaged steps are forgotten, so that training writes them again.
    assert directory.recorded_steps() == [1] and directory.steps() == [1]


def test_no_intact_checkpoint_stops_naming_the_directory_to_remove(tmp_path):
    directory = _saved_directory(tmp_path, steps=(1,))
    os.remove(_largest_file(directory.path(1)))
    with pytest.raises(CheckpointError, match=r"no intact checkpoint in .*step_00000001 \(step 1\) is damaged: 1 file\(s\) missing.*Remove .*checkpoints to train from scratch"):
        directory.restore(_state())


def test_altered_arrays_that_are_not_finite_are_detected(tmp_path):
    directory = _saved_directory(tmp_path, steps=(1,))
    entry = directory.read_index()
    entry["checkpoints"][0].pop("files")  # as if written before checksums: the finite check remains
    (tmp_path / "checkpoints" / "index.json").write_text(json.dumps(entry))
    tree = ocp.PyTreeCheckpointer().restore(directory.path(1))
    first_float = next(k for k, v in tree["state"].items() if np.issubdtype(np.asarray(v).dtype, np.floating))
    tree["state"][first_float] = np.full_like(np.asarray(tree["state"][first_float]), np.nan)
    shutil.rmtree(directory.path(1))
    ocp.PyTreeCheckpointer().save(directory.path(1), tree)
    with pytest.raises(CheckpointError, match=r"array\(s\) hold NaN or inf, e.g. state/" + first_float):
        directory.restore(_state())


def test_a_missing_or_unreadable_index_is_an_error_saying_what_is_lost(tmp_path):
    directory = _saved_directory(tmp_path, steps=(1, 2))
    index_path = tmp_path / "checkpoints" / "index.json"
    text = index_path.read_text()
    index_path.write_text(text[: len(text) // 2])
    with pytest.raises(CheckpointError) as truncated:
        directory.latest_step()
    assert str(index_path) in str(truncated.value) and "is unreadable (line" in str(truncated.value)
    index_path.unlink()
    with pytest.raises(CheckpointError) as missing:
        directory.restore(_state())
    message = str(missing.value)
    assert f"{index_path} is missing" in message and "callbacks' states" in message and "best checkpoint" in message
    assert "step_00000001, step_00000002" in message and f"remove {tmp_path / 'checkpoints'}" in message
    with pytest.raises(CheckpointError):  # and a new save does not overwrite what is left
        directory.save(_state(), 3)
    # A fresh directory writes its (empty) index before the first step.
    fresh = CheckpointDirectory(str(tmp_path / "fresh"))
    assert fresh.read_index() == {"checkpoints": [], "best": None}


def test_a_state_that_is_not_finite_is_never_saved(tmp_path):
    directory = CheckpointDirectory(str(tmp_path / "checkpoints"))
    state = _state()
    state = state.replace(params=jax.tree.map(lambda x: x * np.nan, state.params))
    with pytest.raises(NonFiniteLossError, match="at step 4"):
        directory.save(state, 4)
    assert directory.steps() == []


def test_a_failed_write_is_one_line_naming_the_step_and_the_cause(tmp_path, monkeypatch):
    def disk_full(self, path, tree):
        raise ValueError("tensorstore failure") from OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ocp.PyTreeCheckpointer, "save", disk_full)
    directory = CheckpointDirectory(str(tmp_path / "checkpoints"))
    with pytest.raises(CheckpointError) as error:
        directory.save(_state(), 250)
    assert str(error.value) == f"cannot write checkpoint step_00000250 in {tmp_path / 'checkpoints'}: No space left on device"
