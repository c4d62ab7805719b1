"""A config that names the user's own model and callback (registered in `my_project.py`)."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.dataset = dict(type="spatial_relations", seed=0, train_size=256, validation_size=64, test_size=64)
    config.datamodule = dict(fields=dict(text=dict(type="text", lowercase=True, max_length=16), label=dict(type="label")))
    config.model = dict(
        type="my_project::bag_of_words", vocab_size="$data.text.vocab_size", num_classes="$data.label.num_labels"
    )
    config.trainer = dict(
        train_dataloader=dict(sampler=dict(type="basic", batch_size=32, shuffle=True, drop_last=True, seed=0)),
        val_dataloader=dict(sampler=dict(type="basic", batch_size=100)),
        engine=dict(optimizer=dict(type="adam", learning_rate=0.05)),
        max_epochs=2,
        progress=False,
        callbacks=[
            dict(type="evaluation", evaluator=dict(type="accuracy")),
            dict(type="checkpoint", keep_last=1, metric="+accuracy"),
            dict(type="my_project::epoch_log"),
        ],
    )
    return config
