"""The `export` binary: a run's model as a self-contained model directory.

    tools/bazel run //formed/training:export -- --run=/tmp/runs/a --output=/tmp/models/a [--checkpoint=best]

The directory holds the resolved config, the data module, the parameters only (named, by orbax),
the run's metrics and a model card; `formed.training.load_model` reads it without the run (see
`formed.training._model_directory` for the layout).
"""

from __future__ import annotations

from absl import flags

from formed.training import cli
from formed.training._model_directory import export_model

_MODEL = cli.ModelFlags("A run's work directory (or an exported model, to copy).")
_OUTPUT = flags.DEFINE_string("output", None, "The model directory to write.", required=True)


def main(argv: list[str]) -> None:
    del argv
    predictor = _MODEL.load()
    path = export_model(predictor, _OUTPUT.value)
    print(f"exported {predictor.info.get('source')} (step {predictor.info.get('step')}) to {path}", flush=True)


if __name__ == "__main__":
    cli.main(main)
