"""The shipped `text_classifier` workflow, shrunk for end-to-end tests of the `run` binary.

Same steps (predicting on the shipped ``sentences.jsonl``), dataset family, optimizer schedule and callbacks as
`formed/workflow/configs/text_classifier.py`; only sizes change: JSONL files of a few hundred
records (``--config=tiny_workflow.py:<directory>`` reads ``train.jsonl``, ``validation.jsonl`` and
``test.jsonl`` there), texts cut to 8 tokens (one batch shape, one compilation), a bag of
embeddings without the LSTM, 2 epochs of 8 steps, a checkpoint every 4 steps so that a run can be
interrupted between checkpoints.
"""

import ml_collections

from formed.workflow.configs import text_classifier

STEPS_PER_EPOCH = 8
BATCH_SIZE = 16
CHECKPOINT_INTERVAL = 4


def get_config(data_dir: str | None = None) -> ml_collections.ConfigDict:
    config = text_classifier.get_config()
    steps = config.steps
    if data_dir:
        steps.dataset.dataset = dict(
            type="jsonl",
            train=f"{data_dir}/train.jsonl",
            validation=f"{data_dir}/validation.jsonl",
            test=f"{data_dir}/test.jsonl",
        )
    else:
        steps.dataset.dataset.update(train_size=BATCH_SIZE * STEPS_PER_EPOCH, validation_size=32, test_size=32)
    steps.datamodule.datamodule.fields.text.max_length = 8
    steps.train.model.embedder.surface.embedding_dim = 16
    del steps.train.model["encoder"]
    steps.train.trainer.train_dataloader.sampler.batch_size = BATCH_SIZE
    steps.train.trainer.max_epochs = 2
    steps.train.trainer.logging_interval = 4
    steps.train.trainer.engine.optimizer.learning_rate.update(peak_value=1e-2, warmup_steps=4, decay_steps=16)
    for callback in steps.train.trainer.callbacks:
        if callback["type"] == "checkpoint":
            callback["interval"] = CHECKPOINT_INTERVAL
    return config
