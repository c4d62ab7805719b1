"""Text classifier with a small Transformer encoder (sinusoidal positions, 2 layers, 4 heads)
on the built-in `spatial_relations` dataset; otherwise as `text_classifier.py`.

    tools/bazel run //formed/training:train -- \\
        --config=formed/training/configs/transformer_classifier.py --workdir=/tmp/formed/run2
"""

import ml_collections

from formed.training.configs import text_classifier


def get_config() -> ml_collections.ConfigDict:
    config = text_classifier.get_config()
    config.model = dict(
        type="text_classifier",
        embedder=dict(type="analyzed_text", surface=dict(type="token", embedding_dim=64)),
        encoder=dict(
            type="transformer",
            features=64,
            num_heads=4,
            num_layers=2,
            dropout=0.1,
            position_encoder=dict(type="sinusoidal", max_length=64),
        ),
        vectorizer=dict(type="boe", pooling=["mean", "max"]),
        dropout=0.1,
    )
    return config
