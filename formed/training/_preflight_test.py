import pytest

from formed.core import ConfigurationError
from formed.training._callbacks import EarlyStoppingCallback
from formed.training._preflight import check_config_values, check_metric_names
from formed.training._checkpoints import CheckpointCallback

KNOWN = ("seed", "dataset", "datamodule", "model", "trainer")


@pytest.mark.parametrize(
    "config, message",
    [
        ({"seeed": 1}, "seeed: unknown top-level key 'seeed'; did you mean 'seed'?"),
        ({"model": {"encoder": {"dropout": 1.0}}}, "model.encoder.dropout: must be in [0, 1)"),
        ({"model": {"attention_dropout": -0.1}}, "model.attention_dropout: must be in [0, 1)"),
        ({"trainer": {"engine": {"optimizer": {"learning_rate": "1e-3"}}}},
         "trainer.engine.optimizer.learning_rate: expected a number (e.g. 1e-3) or a schedule (a dict with a 'type'), got '1e-3' (a str)"),
        ({"trainer": {"engine": {"optimizer": {"learning_rate": -1e-3}}}}, "learning_rate: must be a positive number, got -0.001"),
        ({"trainer": {"engine": {"optimizer": {"learning_rate": {"type": "warmup_cosine_decay_schedule", "peak_value": 0}}}}},
         "learning_rate.peak_value: must be a positive number, got 0"),
        ({"trainer": {"train_dataloader": {"sampler": {"batch_size": 0}}}}, "trainer.train_dataloader.sampler.batch_size: must be at least 1, got 0"),
        ({"trainer": {"callbacks": [{"type": "x"}, {"type": "checkpoint", "interval": 0}]}}, "trainer.callbacks[1].interval: must be at least 1"),
        ({"trainer": {"eval_interval": 2.5}}, "trainer.eval_interval: expected a whole number of at least 1, got 2.5 (a float)"),
    ],
)
def test_values_that_cannot_be_meant_are_named_by_key(config, message):
    with pytest.raises(ConfigurationError) as error:
        check_config_values(config, KNOWN)
    assert message in str(error.value)


def test_sensible_values_pass():
    check_config_values(
        {"seed": 0, "model": {"dropout": 0.0}, "trainer": {"max_epochs": 3, "logging_interval": 1,
         "engine": {"optimizer": {"learning_rate": {"type": "warmup_cosine_decay_schedule", "init_value": 0.0, "peak_value": 1e-3}}},
         "callbacks": [{"type": "checkpoint", "interval": None}]}},
        KNOWN,
    )


def test_watched_metrics_must_be_reported():
    callbacks = [CheckpointCallback(metric="+accuracy"), EarlyStoppingCallback(metric="-val/loss")]
    check_metric_names(callbacks, ["loss", "accuracy", "macro_f1"])
    callbacks.append(EarlyStoppingCallback(metric="+acuracy"))
    with pytest.raises(ConfigurationError, match=r"trainer.callbacks\[2\].metric: 'acuracy' is not reported; did you mean 'accuracy'\?"):
        check_metric_names(callbacks, ["loss", "accuracy", "macro_f1"])
