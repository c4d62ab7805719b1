"""The tiny classifier (`tiny_classifier.py`) on JSONL files given on the command line:

    --config.dataset.train=train.jsonl --config.dataset.validation=dev.jsonl --config.dataset.test=test.jsonl

Records are ``{"text": ..., "label": ...}``; `train_binary.write_records` writes such files.
"""

import importlib.util
import os

import ml_collections

_spec = importlib.util.spec_from_file_location("tiny_classifier", os.path.join(os.path.dirname(__file__), "tiny_classifier.py"))
tiny_classifier = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_classifier)


def get_config() -> ml_collections.ConfigDict:
    config = tiny_classifier.get_config()
    config.dataset = dict(type="jsonl", train="", validation="", test="", skip_malformed=False)
    return config
