"""The text classifier end to end, as a cached workflow: load the data, fit the data module,
train, evaluate on the test split, predict on a file (``sentences.jsonl`` beside this file: texts
without labels) and export the model.

    tools/bazel run //formed/workflow:run -- \\
        --config=formed/workflow/configs/text_classifier.py --cache_dir=/tmp/formed/cache

The same model and recipe as the `train` binary's `formed/training/configs/text_classifier.py`
(word embeddings, a bidirectional LSTM, mean+max pooling), on the built-in `spatial_relations`
data. Each step is cached under the fingerprint of its config and of what it uses: a rerun runs
nothing; ``--config.steps.train.trainer.engine.optimizer.learning_rate.peak_value=1e-3`` reruns
training and what follows it, not the data steps. Sizes the data decides (vocabulary size, number of
classes) are references to parts of the fitted data module.
"""

import os

import ml_collections

from formed.training.configs import text_classifier as train_recipe
from formed.workflow import ref

SENTENCES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sentences.jsonl")


def get_config() -> ml_collections.ConfigDict:
    # One loader recipe per use; the fitted data module is the collator (it batches records).
    def loader(batch_size: int, shuffle: bool = False) -> dict:
        sampler = dict(type="basic", batch_size=batch_size, shuffle=shuffle, drop_last=shuffle, seed=0)
        return dict(sampler=sampler, collator=ref("datamodule"))

    # The train binary's recipe gives the data, the data module and the optimizer.
    recipe = train_recipe.get_config()
    config = ml_collections.ConfigDict()
    config.steps = dict(
        dataset=dict(type="data::load_dataset", dataset=recipe.dataset.to_dict()),
        datamodule=dict(type="data::fit_datamodule", datamodule=recipe.datamodule.to_dict(), dataset=ref("dataset", "train")),
        train=dict(
            type="flax::train",
            model=dict(
                type="text_classifier",
                num_classes=ref("datamodule", "fields.label.num_labels"),
                embedder=dict(
                    type="analyzed_text",
                    surface=dict(type="token", vocab_size=ref("datamodule", "fields.text.vocab_size"), embedding_dim=64),
                ),
                encoder=dict(type="lstm", features=64, bidirectional=True),
                vectorizer=dict(type="boe", pooling=["mean", "max"]),
                dropout=0.1,
            ),
            trainer=dict(
                train_dataloader=loader(32, shuffle=True),
                val_dataloader=loader(100),
                engine=recipe.trainer.engine.to_dict(),
                max_epochs=8,
                eval_strategy="epoch",
                logging_strategy="step",
                logging_interval=25,
                callbacks=[
                    dict(type="evaluation", evaluator=dict(type="accuracy")),
                    dict(type="checkpoint", keep_last=1, metric="+accuracy"),
                    dict(type="early_stopping", patience=3, metric="+accuracy"),
                ],
            ),
            train_dataset=ref("dataset", "train"),
            val_dataset=ref("dataset", "validation"),
            random_seed=0,
        ),
        test_metrics=dict(
            type="flax::evaluate",
            model=ref("train"),
            evaluator=dict(type="multi", evaluators=[dict(type="accuracy"), dict(type="fbeta", average="macro")]),
            dataset=ref("dataset", "test"),
            dataloader=loader(100),
        ),
        # One JSON line per input line: {"label": ..., "probabilities": {...}}.
        predictions=dict(type="flax::predict", model=ref("train"), datamodule=ref("datamodule"), input=SENTENCES),
        # A model directory that formed.training.load_model reads without the workflow.
        export=dict(type="flax::export", model=ref("train"), datamodule=ref("datamodule"), metrics=dict(test=ref("test_metrics"))),
    )
    return config
