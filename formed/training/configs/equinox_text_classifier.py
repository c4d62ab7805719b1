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
    config.trainer.engine.type = "equinox"
    config.model = dict(
        type="text_classifier",
        num_classes="$data.label.num_labels",
        embedder=dict(
            type="analyzed_text", surface=dict(type="token", vocab_size="$data.text.vocab_size", embedding_dim=64)
        ),
        encoder=dict(type="lstm", features=64, bidirectional=True),
        vectorizer=dict(type="boe", pooling=["mean", "max"]),
        dropout=0.1,
    )
    return config
