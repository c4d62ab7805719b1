import glob
import os

import optax
import pytest

from formed.training._callbacks import FlaxTrainingCallback
from formed.training._engine import DefaultFlaxTrainingEngine
from formed.training._profiling import ProfileCallback
from formed.training.testing import TensorBoardServer, TinyClassifier, list_loader, make_records
from formed.training._trainer import FlaxTrainer


class TracingSteps(FlaxTrainingCallback):
    """Which steps ran while the profiler callback was tracing."""

    def __init__(self):
        self.steps = []

    def on_batch_end(self, trainer, model, state, epoch, output):
        # Runs before the profiler's own hook, which stops the trace after step `stop`.
        profiler = next(c for c in trainer.callbacks if isinstance(c, ProfileCallback))
        if profiler.tracing:
            self.steps.append(trainer.global_step)


def test_profile_steps_write_a_trace_where_tensorboard_looks(tmp_path):
    tracing = TracingSteps()
    trainer = FlaxTrainer(
        train_dataloader=list_loader(8), engine=DefaultFlaxTrainingEngine(optimizer=optax.sgd(0.1)),
        max_epochs=1, progress=False, profile_steps=[3, 5], callbacks=[tracing],
    )
    profiler = trainer.callbacks[-1]
    assert isinstance(profiler, ProfileCallback) and (profiler.start, profiler.stop) == (3, 5)
    profiler.set_workdir(str(tmp_path))
    trainer.train(TinyClassifier(), make_records(64))
    assert tracing.steps == [3, 4, 5]  # traced from before step 3 to after step 5
    assert not profiler.tracing
    # TensorBoard's profile plugin lists each directory of <logdir>/plugins/profile holding an
    # *.xplane.pb as a run (the plugin itself is the tensorboard-plugin-profile package).
    runs = os.listdir(tmp_path / "plugins" / "profile")
    assert len(runs) == 1 and profiler.trace_directory == str(tmp_path / "plugins" / "profile" / runs[0])
    traces = glob.glob(os.path.join(profiler.trace_directory, "*.xplane.pb"))
    assert traces and os.path.getsize(traces[0]) > 0


@pytest.mark.parametrize("steps", [(0, 3), (5, 2), (1,), "1,2", (1.5, 2)])
def test_bad_profile_steps_name_the_key(steps):
    with pytest.raises(ValueError, match="profile_steps"):
        FlaxTrainer(train_dataloader=list_loader(8), profile_steps=steps)


def test_no_profile_steps_adds_nothing():
    trainer = FlaxTrainer(train_dataloader=list_loader(8))
    assert not any(isinstance(c, ProfileCallback) for c in trainer.callbacks)


def test_tensorboard_profile_plugin_lists_the_traced_run(tmp_path):
    trainer = FlaxTrainer(
        train_dataloader=list_loader(8), engine=DefaultFlaxTrainingEngine(optimizer=optax.sgd(0.1)),
        max_epochs=1, progress=False, profile_steps=[2, 3],
    )
    profiler = trainer.callbacks[-1]
    assert isinstance(profiler, ProfileCallback)
    profiler.set_workdir(str(tmp_path))
    trainer.train(TinyClassifier(), make_records(32))
    assert profiler.trace_directory is not None
    run_name = os.path.basename(profiler.trace_directory)
    server = TensorBoardServer(str(tmp_path), str(tmp_path / "tensorboard.log"))
    try:
        plugins = server.get_json("/data/plugins_listing")
        assert plugins["profile"]["enabled"], plugins["profile"]  # tensorboard-plugin-profile is installed
        runs = server.poll_json("/data/plugin/profile/runs", lambda runs: bool(runs), "the profile plugin to list a run")
        assert runs == [run_name]
    finally:
        server.close()
