"""The ready Equinox recipe (`formed/training/configs/equinox_text_classifier.py`), shrunk as
`tiny_classifier.py` shrinks the Flax one: a few hundred records, 16 features, 2 epochs of 8
steps, and no encoder (the embeddings are pooled), so that an end-to-end test of the binaries
on an Equinox run costs little more than importing JAX and compiling.
"""

import ml_collections

from formed.training.configs import equinox_text_classifier

STEPS_PER_EPOCH = 8  # train_size / batch_size, drop_last


def get_config() -> ml_collections.ConfigDict:
    config = equinox_text_classifier.get_config()
    config.dataset.train_size = 32 * STEPS_PER_EPOCH
    config.dataset.validation_size = 64
    config.dataset.test_size = 64
    config.datamodule.fields.text.max_length = 16
    config.model.embedder.surface.embedding_dim = 16
    del config.model["encoder"]  # embeddings, pooling, head: compiles in a fraction of the LSTM's time
    config.trainer.max_epochs = 2
    config.trainer.logging_interval = 4
    config.trainer.engine.optimizer.learning_rate.update(peak_value=1e-2, warmup_steps=4, decay_steps=16)
    return config
