"""A directory of step results keyed by fingerprint, written atomically.

Each result lives in ``<root>/<fingerprint>/`` with the artifact (as its format writes it) and a
``metadata.json``. A result is written into a temporary sibling directory and renamed into place
only when complete, so a crash never leaves a half-written entry that a later run would trust.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from formed.workflow.format import Format

_METADATA = "metadata.json"


class StepCache:
    """Stores and loads step results under `root`."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_for(self, fingerprint: str) -> Path:
        return self.root / fingerprint

    def has(self, fingerprint: str) -> bool:
        return (self.path_for(fingerprint) / _METADATA).is_file()

    def metadata(self, fingerprint: str) -> dict[str, Any]:
        with open(self.path_for(fingerprint) / _METADATA, encoding="utf-8") as file:
            return json.load(file)

    def load(self, fingerprint: str) -> Any:
        """Reads a cached result with the format that wrote it.

        Raises:
            KeyError: if nothing is cached under `fingerprint`.
        """
        if not self.has(fingerprint):
            raise KeyError(f"no cached result {fingerprint} in {self.root}")
        format_name = self.metadata(fingerprint)["format"]
        format_instance = Format.by_name(format_name)()
        return format_instance.read(self.path_for(fingerprint) / "artifact")

    def save(self, fingerprint: str, artifact: Any, format: Format[Any], step_name: str) -> Path:
        """Writes `artifact` atomically; an existing entry for `fingerprint` is replaced."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{fingerprint}.", dir=self.root))
        try:
            (staging / "artifact").mkdir()
            format.write(artifact, staging / "artifact")
            metadata = {"step": step_name, "format": format.identifier, "created": time.time()}
            with open(staging / _METADATA, "w", encoding="utf-8") as file:
                json.dump(metadata, file, indent=2)
            target = self.path_for(fingerprint)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
            return target
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
