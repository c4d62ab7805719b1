"""The text classifier workflow swept over three peak learning rates (2 epochs each), with a table
to compare.

    tools/bazel run //formed/workflow:run -- \\
        --config=formed/workflow/configs/learning_rate_sweep.py --cache_dir=/tmp/formed/cache

The data steps run once (and are shared with `text_classifier.py` through the cache); training
and the test evaluation run once per rate, as ``train[peak_value=0.0001]`` and so on; the last
step, ``sweep_table``, tabulates their test metrics. Each training writes its TensorBoard curves
and hyperparameters under ``<cache_dir>/tensorboard``. A rate's training that also appears in
another workflow with the same config is read from the cache.
"""

import ml_collections

from formed.workflow.configs import text_classifier


def get_config() -> ml_collections.ConfigDict:
    config = text_classifier.get_config()
    # Compare the rates; predicting and exporting are for the chosen one (text_classifier.py).
    del config.steps["predictions"], config.steps["export"]
    config.steps.train.trainer.max_epochs = 2
    config.sweep = dict(key="train.trainer.engine.optimizer.learning_rate.peak_value", values=[1e-4, 1e-3, 1e-2])
    return config
