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
from formed.training._checkpoints import (
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
    index = directory.read_index()  # from the steps' formed/metadata (the layout has no index file)
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
    """The best step's save is several writes (orbax's temporary step directory with its
    checksums, its commit by renaming, the deletion of the steps it replaces); a kill after any
    one of them, then a rerun, ends with the same kept steps, the same best step and the same
    final parameters as a run never killed. The writes run in orbax's background threads: the
    kill stops them there, and the step loop stops when it next waits for the save."""
    from formed.training import _checkpoints as checkpoints_module

    records = make_records(80)  # 5 steps per epoch; evaluations at 5, 10 (the best), 15, 20
    metric = "+score"
    uninterrupted = _early_stopping_run(str(tmp_path / "a"), records, checkpoint_metric=metric).train(
        TinyClassifier(), records, records
    )
    expected = CheckpointDirectory(str(tmp_path / "a"))
    assert expected.read_index()["best"] == 10 and expected.steps() == [10, 18, 20]

    from orbax.checkpoint._src.checkpointers import async_checkpointer
    from orbax.checkpoint._src.path import deleter

    writes_of_step_10 = []
    saving = [None]  # the step of the save in progress (its writes happen while training goes on)

    def recording(save):
        def wrapped(self, step, *args, **kwargs):
            saving[0] = step
            return save(self, step, *args, **kwargs)

        return wrapped

    def killing(write, kill_after):
        def wrapped(*args, **kwargs):
            result = write(*args, **kwargs)
            if saving[0] == 10:
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
            patch.setattr(ocp.CheckpointManager, "save", recording(ocp.CheckpointManager.save))
            patch.setattr(
                checkpoints_module.CheckpointDirectory,
                "_write_checksums",
                killing(checkpoints_module.CheckpointDirectory._write_checksums, kill_after),
            )
            patch.setattr(async_checkpointer, "_on_commit_callback", killing(async_checkpointer._on_commit_callback, kill_after))
            patch.setattr(deleter.StandardCheckpointDeleter, "delete", killing(deleter.StandardCheckpointDeleter.delete, kill_after))
            saving[0] = None
            trainer = _early_stopping_run(directory, records, checkpoint_metric=metric)
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
    # The step's files with their checksums, its commit, two deleted steps (5 and 6).
    assert kill_after - 1 == 4, writes_of_step_10


def _saved_directory(tmp_path, steps=(1, 2, 3)):
    directory = CheckpointDirectory(str(tmp_path / "checkpoints"))
    state = _state()
    for step in steps:
        directory.save(state.replace(step=state.step + step), step, {"accuracy": step / 10}, best=step == 1)
    directory.wait()  # saving is asynchronous: the files are read below
    return directory


def _largest_file(path):
    """The largest of orbax's files (not formed's checksums.json)."""
    files = [os.path.join(root, name) for root, _, names in os.walk(path) for name in names if name != "checksums.json"]
    return max(files, key=os.path.getsize)


def test_damaged_checkpoints_fall_back_to_the_newest_intact_one(tmp_path, caplog):
    directory = _saved_directory(tmp_path)
    assert json.loads(open(os.path.join(directory.path(1), "checksums.json")).read())  # checksums recorded at save
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
    from formed.training._checkpoints import file_checksums

    directory = _saved_directory(tmp_path, steps=(1,))
    params = os.path.join(directory.path(1), "params")
    tree = ocp.PyTreeCheckpointer().restore(params)  # readable with orbax alone, by the parameters' paths
    tree["hidden"]["kernel"] = np.full_like(np.asarray(tree["hidden"]["kernel"]), np.nan)
    shutil.rmtree(params)
    ocp.PyTreeCheckpointer().save(params, tree)
    # Checksums recomputed after the change, so that only the finite check remains.
    checksums = os.path.join(directory.path(1), "checksums.json")
    os.remove(checksums)
    recomputed = file_checksums(directory.path(1), exclude=["_CHECKPOINT_METADATA"])
    with open(checksums, "w") as file:
        json.dump(recomputed, file)
    with pytest.raises(CheckpointError, match=r"array\(s\) hold NaN or inf, e.g. params/hidden/kernel"):
        directory.restore(_state())


def test_a_missing_or_unreadable_checksum_file_makes_its_step_damaged(tmp_path, caplog):
    """The layout has no index to lose: each step carries its own checksums (written before orbax
    commits the step). A step whose checksum file is truncated or gone is not trusted."""
    directory = _saved_directory(tmp_path, steps=(1, 2, 3))
    checksums = os.path.join(directory.path(3), "checksums.json")
    text = open(checksums).read()
    with open(checksums, "w") as file:
        file.write(text[: len(text) // 2])
    os.remove(os.path.join(directory.path(2), "checksums.json"))
    with caplog.at_level("WARNING"):
        assert int(directory.restore(_state()).step) == 1
    warnings = "\n".join(record.getMessage() for record in caplog.records)
    assert f"step_00000003 (step 3) is damaged: {checksums} is unreadable" in warnings
    assert f"step_00000002 (step 2) is damaged: {directory.path(2)}/checksums.json is missing" in warnings
    assert directory.steps() == [1]
    # A fresh directory has no steps and no best.
    assert CheckpointDirectory(str(tmp_path / "fresh")).read_index() == {"checkpoints": [], "best": None}


def test_a_directory_of_the_previous_layout_is_refused_with_what_to_do(tmp_path):
    old = tmp_path / "checkpoints"
    (old / "step_00000004").mkdir(parents=True)
    (old / "index.json").write_text(json.dumps({"checkpoints": [{"step": 4, "metrics": {}}], "best": 4}))
    directory = CheckpointDirectory(str(old))
    for attempt in (directory.latest_step, lambda: directory.restore(_state()), lambda: directory.save(_state(), 5)):
        with pytest.raises(CheckpointError) as error:
            attempt()
        message = str(error.value)
        assert f"{old} holds checkpoints of an older formed version ({old / 'index.json'})" in message
        assert f"remove {old} to train from scratch" in message
    assert sorted(os.listdir(old)) == ["index.json", "step_00000004"]  # nothing deleted or written


def test_a_state_that_is_not_finite_is_never_saved(tmp_path):
    directory = CheckpointDirectory(str(tmp_path / "checkpoints"))
    state = _state()
    state = state.replace(params=jax.tree.map(lambda x: x * np.nan, state.params))
    with pytest.raises(NonFiniteLossError, match="at step 4"):
        directory.save(state, 4)
    assert directory.steps() == []


def test_a_failed_write_is_one_line_naming_the_step_and_the_cause(tmp_path, monkeypatch):
    def disk_full(self, step, *args, **kwargs):
        raise ValueError("tensorstore failure") from OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ocp.CheckpointManager, "save", disk_full)
    directory = CheckpointDirectory(str(tmp_path / "checkpoints"))
    with pytest.raises(CheckpointError) as error:
        directory.save(_state(), 250)
    assert str(error.value) == f"cannot write checkpoint step_00000250 in {tmp_path / 'checkpoints'}: No space left on device"


def test_a_failed_background_write_is_reported_when_waited_for(tmp_path, monkeypatch):
    """Saving is asynchronous: a write that fails in orbax's background thread is reported, one
    line naming the step and the cause, by the next save, `wait` or read; nothing half-written
    is left as a step."""

    def disk_full(self):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(CheckpointDirectory, "_write_checksums", disk_full)
    directory = CheckpointDirectory(str(tmp_path / "checkpoints"))
    directory.save(_state(), 250)
    with pytest.raises(CheckpointError) as error:
        directory.save(_state(), 260)
    assert str(error.value) == f"cannot write checkpoint step_00000250 in {tmp_path / 'checkpoints'}: No space left on device"
    assert directory.steps() == []


def test_each_item_is_named_and_readable_with_orbax_alone(tmp_path):
    """Parameters by their paths, optimizer state, RNG state, step, callback arrays, and the JSON
    formed needs: each an orbax item of the step directory."""
    directory = CheckpointDirectory(str(tmp_path / "checkpoints"))
    state = _state()
    best_state = jax.device_get(_state(seed=1))
    directory.save(state, 7, {"accuracy": 0.5}, {"1:EarlyStoppingCallback": {"best_state": best_state, "best_step": 5}}, best=True)
    directory.wait()
    path = directory.path(7)
    assert set(os.listdir(path)) == {
        "params", "opt_state", "model_state", "step", "callback_states", "formed", "checksums.json",
        "_CHECKPOINT_METADATA", "commit_success.txt",  # orbax's own
    }
    with ocp.PyTreeCheckpointer() as checkpointer:
        params = checkpointer.restore(os.path.join(path, "params"))
        opt_state = checkpointer.restore(os.path.join(path, "opt_state"))
        model_state = checkpointer.restore(os.path.join(path, "model_state"))
        callbacks = checkpointer.restore(os.path.join(path, "callback_states"))
    np.testing.assert_array_equal(params["hidden"]["kernel"], state.params["hidden"]["kernel"][...])
    assert set(opt_state["0"]) == {"count", "mu", "nu"}  # adam's, by the same paths as the parameters
    assert set(opt_state["0"]["mu"]["out"]) == {"kernel", "bias"}
    np.testing.assert_array_equal(
        model_state["0"]["dropout"]["rngs"]["key"], jax.random.key_data(state.additional_states[0]["dropout"]["rngs"]["key"][...])
    )
    saved_best = callbacks["1:EarlyStoppingCallback"]["best_state"]["params"]["out"]["bias"]
    np.testing.assert_array_equal(saved_best, best_state.params["out"]["bias"][...])
    metadata = json.loads(open(os.path.join(path, "formed", "metadata")).read())
    assert metadata["metrics"] == {"accuracy": 0.5} and metadata["best"] is True
    assert metadata["callbacks"]["1:EarlyStoppingCallback"]["best_step"] == 5
    # And formed restores all of it.
    restored, callback_states = directory.restore_with_callbacks(_state(seed=2))
    np.testing.assert_array_equal(restored.params["hidden"]["kernel"][...], state.params["hidden"]["kernel"][...])
    restored_best = callback_states["1:EarlyStoppingCallback"]["best_state"]
    np.testing.assert_array_equal(restored_best.params["out"]["bias"][...], best_state.params["out"]["bias"][...])


def test_saving_returns_before_the_files_are_written_and_wait_waits_for_them(tmp_path, monkeypatch):
    """Asynchronous saving: `save` returns while orbax writes in the background (held here until
    the test releases it); the step appears, whole, only after the write; `wait` waits for it."""
    import threading

    from formed.training import _checkpoints as checkpoints_module

    release, writing = threading.Event(), threading.Event()
    write_checksums = checkpoints_module.CheckpointDirectory._write_checksums

    def held(self):
        writing.set()
        assert release.wait(timeout=60)
        write_checksums(self)

    monkeypatch.setattr(checkpoints_module.CheckpointDirectory, "_write_checksums", held)
    directory = CheckpointDirectory(str(tmp_path / "checkpoints"), keep_last=2, metric="+accuracy")
    state = _state()
    directory.save(state, 1, {"accuracy": 0.9}, best=True)
    assert writing.wait(timeout=60)  # the files are being written in the background...
    assert directory.steps() == []  # ...under orbax's temporary name: no step yet
    assert [name for name in os.listdir(tmp_path / "checkpoints") if name.startswith("step_00000001.orbax-checkpoint-tmp")]
    release.set()
    directory.wait()
    assert directory.steps() == [1]
    # The latest 2 and the best by +accuracy are kept (orbax's LatestN and BestN together).
    for step, accuracy in ((2, 0.5), (3, None), (4, None)):
        directory.save(state, step, {"accuracy": accuracy} if accuracy else None, best=False)
    directory.wait()
    assert directory.steps() == [1, 3, 4] and directory.best_step() == 1


def test_a_ctrl_c_during_orbax_save_is_delivered_when_the_save_returns(tmp_path, monkeypatch):
    """A KeyboardInterrupt inside orbax's save would leave its background threads waiting for
    the rest of it (and the process hanging at exit): the interrupt comes right after instead,
    with the step written whole."""
    import signal

    save = ocp.CheckpointManager.save
    inside = []

    def interrupted_save(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while orbax saves
        inside.append("save went on")
        return save(self, *args, **kwargs)

    monkeypatch.setattr(ocp.CheckpointManager, "save", interrupted_save)
    directory = CheckpointDirectory(str(tmp_path / "checkpoints"))
    with pytest.raises(KeyboardInterrupt):
        directory.save(_state(), 3)
    assert inside == ["save went on"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    directory.wait()
    assert directory.steps() == [3] and directory.damage(3) is None
