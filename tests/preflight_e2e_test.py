"""End to end (issue 12, item 7): the whole run is validated before the first step, and nothing is
written to the work directory until it has passed: every split against the fitted fields, the
metric names that callbacks watch against what the evaluation reports, value ranges, a learning
rate given as a string, an unknown top-level key."""

from __future__ import annotations

import os

import pytest

import train_binary


def _config_file(tmp_path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(
        "import importlib.util, os\n"
        f"spec = importlib.util.spec_from_file_location('base', {train_binary.JSONL_CONFIG!r})\n"
        "base = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(base)\n"
        "\n"
        "def get_config():\n"
        "    config = base.get_config()\n"
        + "".join(f"    {line}\n" for line in body.splitlines())
        + "    return config\n"
    )
    return str(path)


@pytest.fixture
def files(tmp_path):
    test_records = train_binary.make_records(64, seed=3)
    test_records[40]["label"] = "purple"  # line 41, unseen in training
    return (
        train_binary.write_records(str(tmp_path / "train.jsonl"), train_binary.make_records(256, seed=1)),
        train_binary.write_records(str(tmp_path / "dev.jsonl"), train_binary.make_records(64, seed=2)),
        train_binary.write_records(str(tmp_path / "test.jsonl"), test_records),
    )


def test_mistakes_are_caught_before_the_first_step_and_named_where_they_are(tmp_path, files) -> None:
    train, dev, test = files
    workdir = tmp_path / "run"
    workdir.mkdir()  # an existing, empty work directory stays empty

    # An unseen label in the test file: found before training, not after it.
    result = train_binary.run_train(*train_binary.jsonl_flags(str(workdir), train, dev, test), check=False)
    assert result.returncode == 1
    assert train_binary.last_line(result.stderr).startswith(
        f"error: {test}:41:"
    ) and "field 'label': has label 'purple' in column 'label', which the training data does not have" in result.stderr
    assert "epoch 1" not in result.stderr and os.listdir(workdir) == []

    # A watched metric that the evaluation does not report.
    config = _config_file(tmp_path, "misspelt_metric.py", "config.trainer.callbacks[3]['metric'] = '+acuracy'")
    test_records = train_binary.make_records(64, seed=3)
    train_binary.write_records(test, test_records)
    flags = train_binary.jsonl_flags(str(workdir), train, dev, test)
    flags[0] = f"--config={config}"
    result = train_binary.run_train(*flags, check=False)
    assert result.returncode == 1
    assert train_binary.last_line(result.stderr) == (
        f"error: {config}: trainer.callbacks[3].metric: 'acuracy' is not reported; did you mean 'accuracy'? "
        "The evaluation reports: accuracy, loss, macro_f1."
    ), result.stderr
    assert os.listdir(workdir) == []


@pytest.mark.parametrize(
    "body, message",
    [
        ("config.seeed = 1", "seeed: unknown top-level key 'seeed'; did you mean 'seed'?"),
        ("config.trainer.engine.optimizer = dict(type='adamw', learning_rate='1e-3')",
         "trainer.engine.optimizer.learning_rate: expected a number (e.g. 1e-3) or a schedule (a dict with a 'type'), got '1e-3' (a str)"),
        ("config.model.dropout = 1.5", "model.dropout: must be in [0, 1) (a probability of dropping), got 1.5"),
        ("config.trainer.train_dataloader.sampler.batch_size = 0", "trainer.train_dataloader.sampler.batch_size: must be at least 1, got 0"),
        ("config.trainer.logging_interval = 0", "trainer.logging_interval: must be at least 1, got 0"),
    ],
)
def test_config_values_are_checked_in_process(tmp_path, files, body, message) -> None:
    # The same checks as the binary's, run in this process (one JAX import for all cases).
    import ml_collections  # noqa: F401

    from formed.core import ConfigurationError
    from formed.training import run

    config_path = _config_file(tmp_path, "config.py", body)
    namespace: dict = {"__file__": config_path}
    with open(config_path, encoding="utf-8") as file:
        exec(compile(file.read(), config_path, "exec"), namespace)
    config = namespace["get_config"]()
    config.dataset.update(train=files[0], validation=files[1], test=files[1])
    workdir = tmp_path / "run"
    with pytest.raises(ConfigurationError) as error:
        run(config, str(workdir), config_path=config_path)
    assert str(error.value).startswith(f"{config_path}: {message}"), str(error.value)
    assert not workdir.exists()
