"""The text classifier of `text_classifier.py` as an Equinox model: the same dataset, model
keys (word embeddings, bidirectional LSTM, mean+max pooling, dropout, linear head), optimizer
and callbacks; only the engine changes, and with it the registry the model is built from
(`formed.equinox.BaseEquinoxModel`).

    tools/bazel run //formed/training:train -- \\
        --config=formed/training/configs/equinox_text_classifier.py --workdir=/tmp/runs/eqx
"""

import ml_collections

from formed.training.configs import text_classifier


def get_config() -> ml_collections.ConfigDict:
    config = text_classifier.get_config()
    # "equinox": an eqx.Module model, dropout keys split from the config's seed each step,
    # evaluation under eqx.nn.inference_mode.
    # The model section is the Flax recipe's: the Equinox text classifier takes the same keys.
    config.trainer.engine.type = "equinox"
    return config
