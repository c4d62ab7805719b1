"""The shipped `text_classifier` recipe, shrunk for end-to-end tests of the `train` binary.

Same dataset, model families, optimizer schedule and callbacks as
`formed/training/configs/text_classifier.py`; only sizes change (a few hundred records, 16
features, 3 epochs of 8 steps) so that a run costs little more than importing JAX and compiling,
and the checkpoint callback also saves every 2 steps so that a run can be interrupted between
checkpoints.
"""

import ml_collections

from formed.training.configs import text_classifier

STEPS_PER_EPOCH = 8  # train_size / batch_size, drop_last
CHECKPOINT_INTERVAL = 2


def get_config() -> ml_collections.ConfigDict:
    config = text_classifier.get_config()
    config.dataset.train_size = 32 * STEPS_PER_EPOCH
    config.dataset.validation_size = 64
    config.dataset.test_size = 64
    config.datamodule.fields.text.max_length = 16
    config.model.embedder.surface.embedding_dim = 16
    config.model.encoder.features = 16
    config.trainer.max_epochs = 3
    config.trainer.logging_interval = 4
    # The shipped warmup + cosine schedule, scaled to 24 steps.
    config.trainer.engine.optimizer.learning_rate.update(peak_value=1e-2, warmup_steps=4, decay_steps=24)
    for callback in config.trainer.callbacks:
        if callback["type"] == "checkpoint":
            callback["interval"] = CHECKPOINT_INTERVAL
    return config
