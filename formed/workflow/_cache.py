"""A directory of step results keyed by fingerprint, written atomically, shareable by workflows.

Layout of a cache directory::

    steps/<fingerprint>/artifact/        the result, as its format writes it
    steps/<fingerprint>/metadata.json    step type, name, workflow, format, config, time
    work/<fingerprint>/                  a running step's own files (a training step's checkpoints)
    locks/<fingerprint>.lock             held while a process runs that step
    tensorboard/<run>/<step>/            training curves (see `formed.workflow.Workflow`)

A result is written into a temporary sibling directory and renamed into place only when
complete, so a killed step never leaves an entry that reads as done; a step's work directory
survives a kill (so a rerun resumes from it) and is removed once the result is saved. Results
depend only on their fingerprint, so several workflows can share one cache directory: the lock
makes a second process that needs a step another one is running wait for it, then read its
result.

>>> import tempfile
>>> cache = StepCache(tempfile.mkdtemp())
>>> from formed.workflow._format import JsonFormat
>>> path = cache.save("ab" * 16, {"accuracy": 0.9}, JsonFormat(), "flax::evaluate", name="metrics")
>>> cache.load("ab" * 16)
{'accuracy': 0.9}
>>> [entry.name for entry in cache.entries()]
['metrics']
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

from formed.training import directory_written_atomically
from formed.workflow._format import Format

_METADATA = "metadata.json"
_STAGING_PREFIX = ".tmp-"


@dataclasses.dataclass(frozen=True)
class CacheEntry:
    """One cached result (or, with ``complete=False``, the leftovers of a step that did not
    finish: its work directory or a killed write)."""

    fingerprint: str
    path: Path
    step: str
    name: str
    workflow: str
    created: float | None
    size: int
    complete: bool = True


def directory_size(path: Path) -> int:
    """Bytes of the files under `path`."""
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


class StepCache:
    """Stores and loads step results under `root` (see the module docstring for the layout)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def results_dir(self) -> Path:
        return self.root / "steps"

    def path_for(self, fingerprint: str) -> Path:
        """Where the result of `fingerprint` lives (once it is complete)."""
        return self.results_dir / fingerprint

    def work_dir(self, fingerprint: str) -> Path:
        """The running step's own directory (not created here)."""
        return self.root / "work" / fingerprint

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
            raise KeyError(f"no cached result {fingerprint} in {self.results_dir}")
        format_name = self.metadata(fingerprint)["format"]
        format_instance = Format.by_name(format_name)()
        return format_instance.read(self.path_for(fingerprint) / "artifact")

    def save(
        self,
        fingerprint: str,
        artifact: Any,
        format: Format[Any],
        step_name: str,
        *,
        name: str = "",
        workflow: str = "",
        config: Any = None,
    ) -> Path:
        """Writes `artifact` atomically; an existing entry for `fingerprint` is replaced.

        Args:
            fingerprint: the key.
            artifact: the step's result.
            format: how to write it.
            step_name: the registered step type.
            name / workflow / config: the step's name in its workflow, the workflow's name and the
                step's config, recorded for `entries` (what ``cache list`` shows).
        """
        target = self.path_for(fingerprint)
        with directory_written_atomically(str(target)) as staging:  # staged as .tmp-<fingerprint>.*
            (Path(staging) / "artifact").mkdir()
            format.write(artifact, Path(staging) / "artifact")
            metadata = {
                "fingerprint": fingerprint,
                "step": step_name,
                "name": name,
                "workflow": workflow,
                "format": format.identifier,
                "created": time.time(),
                "config": config,
            }
            with open(Path(staging) / _METADATA, "w", encoding="utf-8") as file:
                json.dump(metadata, file, indent=2, sort_keys=True, default=repr)
        return target

    @contextlib.contextmanager
    def lock(self, fingerprint: str) -> Iterator[None]:
        """Holds an exclusive lock on `fingerprint` (waiting while another process holds it). The
        operating system releases it when the process dies, so a killed run never blocks a rerun."""
        directory = self.root / "locks"
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / f"{fingerprint}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def entries(self) -> list[CacheEntry]:
        """Every cached result, then the leftovers of steps that did not finish, oldest first."""
        complete: list[CacheEntry] = []
        if self.results_dir.is_dir():
            for path in self.results_dir.iterdir():
                if path.name.startswith(_STAGING_PREFIX) or not (path / _METADATA).is_file():
                    continue
                metadata = self.metadata(path.name)
                complete.append(
                    CacheEntry(
                        fingerprint=path.name,
                        path=path,
                        step=metadata.get("step", ""),
                        name=metadata.get("name", ""),
                        workflow=metadata.get("workflow", ""),
                        created=metadata.get("created"),
                        size=directory_size(path),
                    )
                )
        complete.sort(key=lambda entry: (entry.created or 0.0, entry.fingerprint))
        return complete + self.unfinished()

    def unfinished(self) -> list[CacheEntry]:
        """Work directories of steps that did not finish (a rerun resumes from them) and what
        killed writes left behind."""
        found: list[CacheEntry] = []
        work = self.root / "work"
        if work.is_dir():
            for path in sorted(work.iterdir()):
                found.append(CacheEntry(path.name, path, "", "(unfinished work)", "", None, directory_size(path), False))
        if self.results_dir.is_dir():
            for path in sorted(self.results_dir.iterdir()):
                if path.name.startswith(_STAGING_PREFIX):
                    fingerprint = path.name[len(_STAGING_PREFIX) :].split(".", 1)[0]
                    found.append(CacheEntry(fingerprint, path, "", "(interrupted write)", "", None, directory_size(path), False))
        return found

    def remove(self, fingerprint: str) -> list[Path]:
        """Removes the result of `fingerprint` and any unfinished work for it; returns what went.

        The result is first renamed away, so a kill midway never leaves a partial entry."""
        removed = []
        for entry in self.entries():
            if entry.fingerprint == fingerprint:
                self._discard(entry.path)
                removed.append(entry.path)
        return removed

    def _discard(self, path: Path) -> None:
        trash = path.with_name(f"{_STAGING_PREFIX}removed-{path.name}.{os.getpid()}")
        os.replace(path, trash)
        shutil.rmtree(trash, ignore_errors=True)
