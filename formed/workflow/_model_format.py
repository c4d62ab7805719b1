"""`ModelDirectoryFormat`: what the formats of trained models (`FlaxModelFormat`,
`EquinoxModelFormat`) share. A model is cached in the layout of an exported model
(`formed.training.export_model`): ``formed_model.json``, the config it was built from
(``config.json``, its ``model`` section) and its arrays by name (``params/``), so that
`formed.training.load_model` reads it without the workflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Mapping, TypeVar

from formed.core import remember_config
from formed.training import MODEL_FILE, read_model_files, write_model_files
from formed.workflow._format import Format

_M = TypeVar("_M")


class ModelDirectoryFormat(Format[_M]):
    """Writes and reads one kind of model (`model_format`, as ``formed_model.json`` names it)."""

    model_format: ClassVar[str]  # "flax_nnx", "equinox"
    described_as: ClassVar[str]  # "a Flax NNX", "an Equinox": how errors name the kind

    def write_model(self, model: Any, directory: Path, config: Mapping[str, Any] | None) -> None:
        """Writes `model` and the `config` it was built from (``None``: its structure is pickled)."""
        write_model_files(str(directory), model, None if config is None else {"model": config})

    def read(self, directory: Path) -> _M:
        """The model in `directory`, rebuilt from its config (remembered on it) when it has one.

        Raises:
            FileNotFoundError: if no model is saved there.
            ValueError: if the model saved there is of another kind.
        """
        if not (Path(directory) / MODEL_FILE).exists():
            raise FileNotFoundError(f"{Path(directory) / MODEL_FILE}: no model saved here by {type(self).__name__}")
        model, config, _, about = read_model_files(str(directory))
        if about.get("model_format") != self.model_format:
            raise ValueError(f"{directory}: holds a {about.get('model_format')!r} model, not {self.described_as} one")
        if config is not None:
            remember_config(model, config["model"])
        return model
