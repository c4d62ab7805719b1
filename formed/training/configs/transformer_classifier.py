"""Text classifier with a small Transformer encoder (sinusoidal positions, 2 layers, 4 heads)
on the built-in `spatial_relations` dataset; otherwise as `text_classifier.py`.

The Transformer learns this task in two phases: validation accuracy sits near 0.5 (it has found
the two colours but not yet which relation word goes with which) for several epochs, then jumps
above 0.95 around step 1300. Hence a lower peak learning rate, a longer schedule and an early
stopping patience long enough to cross that plateau (about 90 s on 2 CPU cores).

    tools/bazel run //formed/training:train -- \\
        --config=formed/training/configs/transformer_classifier.py --workdir=/tmp/formed/run2
"""

import ml_collections

from formed.training.configs import text_classifier


def get_config() -> ml_collections.ConfigDict:
    config = text_classifier.get_config()
    config.model = dict(
        type="text_classifier",
        num_classes="$data.label.num_labels",
        embedder=dict(
            type="analyzed_text", surface=dict(type="token", vocab_size="$data.text.vocab_size", embedding_dim=64)
        ),
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
    config.trainer.max_epochs = 20
    config.trainer.engine.optimizer.learning_rate.update(peak_value=1e-3, decay_steps=2500)
    for callback in config.trainer.callbacks:
        if callback["type"] == "early_stopping":
            callback["patience"] = 10
    return config
