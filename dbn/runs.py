"""A run directory: one folder per script run holding its config, metrics and outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["RunDirectory"]


class RunDirectory:
    """Writes ``config.json``, ``metrics.jsonl`` and other files of one run.

    Parameters
    ----------
    path : path
        Created if missing; must be writable.
    enabled : bool
        False on the ranks other than 0 of a distributed run: then nothing is created
        or written, and the path is only read from (to resume).
    """

    def __init__(self, path: str | os.PathLike, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled
        if not enabled:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(
                f"cannot create output directory {str(self.path)!r}: {error.strerror}"
            ) from None
        if not os.access(self.path, os.W_OK):
            raise ValueError(f"output directory {str(self.path)!r} is not writable")

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def write_json(self, name: str, value) -> Path:
        """Write ``value`` as indented JSON, atomically (temp file + rename)."""
        target = self.path / name
        if not self.enabled:
            return target
        temp = target.with_name(f".{target.name}.tmp")
        temp.write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(temp, target)
        return target

    def log_metrics(self, row: dict, name: str = "metrics.jsonl") -> None:
        """Append one JSON line of metrics."""
        if not self.enabled:
            return
        with open(self.path / name, "a") as handle:
            handle.write(json.dumps(row, default=float) + "\n")

    def remove(self, name: str) -> None:
        """Delete a file of the run, if present."""
        if self.enabled:
            (self.path / name).unlink(missing_ok=True)

    def read_metrics(self, name: str = "metrics.jsonl") -> list[dict]:
        target = self.path / name
        if not target.is_file():
            return []
        return [json.loads(line) for line in target.read_text().splitlines() if line.strip()]
