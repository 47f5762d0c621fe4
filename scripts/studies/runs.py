"""A run directory: one folder per script run holding its config, metrics and outputs."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

from dbn._utils.config import JSONConfig
from dbn.io import sha256_file
from dbn.models import load
from dbn.tensorboard import TensorBoard, require_tensorboard
from studies.cli import check_resume_options

Config = TypeVar("Config", bound=JSONConfig)

__all__ = ["GREEDY_NAME", "RunDirectory", "start_entries"]

# Where a run that pretrains greedily keeps its greedy model (a resumed run starts from it).
GREEDY_NAME = "greedy.safetensors"


def start_entries(path: str | None, expect: type, sizes: list[int]) -> dict:
    """A run config's ``start_from`` and ``start_sha256`` for ``--start-from PATH``: the
    file checked to hold ``expect`` with ``sizes``; nothing without a path."""
    if not path:
        return {}
    model = load(path, expect=expect)
    if model.sizes != list(sizes):
        raise ValueError(f"{path!r} has sizes {model.sizes}, the recipe {list(sizes)}")
    return {"start_from": path, "start_sha256": sha256_file(path)}


class RunDirectory:
    """The folder of one run: its ``config.json``, ``metrics.jsonl`` and outputs.

    Constructing one touches nothing; :meth:`claim` then creates the folder, takes an
    exclusive lock on it for the life of the process (``fcntl.flock`` on the folder
    itself, which no file operation inside it can remove, released by the operating
    system however the process ends) and checks that a new
    run does not land on another run's files and that a resumed one continues a run
    of the same script. Scripts claim only after every option and the data are
    validated, so a rejected command changes nothing on disk.

    Parameters
    ----------
    path : path
    enabled : bool
        False on the ranks other than 0 of a distributed run: then nothing is created,
        locked or written, and the path is only read from (to resume).
    tensorboard : bool
        Also write TensorBoard event files (:attr:`board`, opened by :meth:`claim`;
        every :meth:`log_epoch` row goes there too). Checked here, before anything is
        written, that the optional package is installed.
    """

    def __init__(
        self, path: str | os.PathLike, enabled: bool = True, tensorboard: bool = False
    ) -> None:
        if not str(path).strip():  # Path("") is the working directory: never meant
            raise ValueError("--out must name a directory, got an empty path")
        self.path = Path(path)
        self.enabled = enabled
        self.tensorboard = tensorboard
        if tensorboard:
            require_tensorboard()
        self.board: TensorBoard | None = None
        self._lock = None

    def saved_config(self, script: str) -> dict | None:
        """The ``config.json`` of a run of ``script`` in this folder, or None if there is
        no run; a run of another script is an error."""
        target = self.path / "config.json"
        if not target.is_file():
            return None
        try:
            saved = json.loads(target.read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read {str(target)!r}: {error}") from None
        if not isinstance(saved, dict) or saved.get("script") != script:
            found = saved.get("script") if isinstance(saved, dict) else None
            raise ValueError(
                f"{str(self.path)!r} holds a run of {found or 'another program'}, not of "
                f"{script}; choose another --out"
            )
        return saved

    def resumed_config(
        self,
        script: str,
        config_class: type[Config],
        typed: dict,
        records: tuple[str, ...] = ("script",),
    ) -> Config | None:
        """The saved run's config for ``--resume``, or None if there is no run yet.

        Every script resumes through here: options the user typed (``typed``, by name)
        must equal the saved run's, a nested config's options included, and the config
        is rebuilt from ``config.json``, whose entries must be exactly the config's
        fields (nested ones included) and the script's ``records`` (entries it writes
        that are not options): a missing or unknown entry means an edited file, refused.
        """
        saved = self.saved_config(script)
        if saved is None:
            return None
        options = {key: value for key, value in saved.items() if key not in records}
        try:
            config = config_class.from_dict(options, strict=True, complete=True)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{str(self.path / 'config.json')!r} cannot be resumed: {error}"
            ) from None
        resolved = dict(saved)
        for value in saved.values():  # a nested config's options are the run's options too
            if isinstance(value, dict):
                resolved = {**value, **resolved}
        check_resume_options(resolved, typed, str(self.path))
        return config

    def claim(self, script: str, resume: bool) -> None:
        """Create, lock and check the folder before the first write.

        Parameters
        ----------
        script : str
            The script's name, recorded in ``config.json`` as ``"script"``.
        resume : bool
            Continue the run in the folder; otherwise the folder must hold no run.

        Raises
        ------
        ValueError
            The folder cannot be created or written, another process holds it, or it
            holds a run that this command would overwrite.
        """
        if not self.enabled:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(
                f"cannot create output directory {str(self.path)!r}: {error.strerror}"
            ) from None
        if not os.access(self.path, os.W_OK):
            raise ValueError(f"output directory {str(self.path)!r} is not writable")
        # The lock is on the directory, not on a file in it: deleting or replacing a lock
        # file would let a second process in beside the first.
        lock = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)  # open for the process's life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            raise ValueError(
                f"{str(self.path)!r} is in use by another process; wait for it to finish "
                f"or choose another --out"
            ) from None
        # released with this object, as an open file would be (in-process callers rely
        # on that), else when the process ends
        self._lock = weakref.finalize(self, os.close, lock)
        if not resume and (self.path / "config.json").exists():
            raise ValueError(
                f"{str(self.path)!r} already holds a run; continue it with --resume, or "
                f"choose another --out"
            )
        if resume:
            self.saved_config(script)
        if self.tensorboard:
            self.board = TensorBoard(self.path)

    def greedy_model(self, config, expect: type, pretrain: Callable[[], torch.nn.Module]):
        """The run's greedy model: read back from the run, else the ``--start-from``
        model (checked unchanged since the run started), else ``pretrain()``'s; saved
        into the run the first time."""
        path = self.path / GREEDY_NAME
        if path.is_file():
            return load(path, expect=expect)
        if config.start_from is not None:
            if sha256_file(config.start_from) != config.start_sha256:
                raise ValueError(f"{config.start_from!r} changed since the run started")
            model = load(config.start_from, expect=expect)
        else:
            model = pretrain()
        model.save(path)
        return model

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

    def log_epoch(self, row: dict, announce: str | None = None) -> None:
        """Append an epoch's metrics and, when ``announce`` is given, print it on stdout.

        Scripts call this after the epoch's checkpoint is written and announce it
        when no progress bar runs, so a reader of their output (a log, a test) may act
        on a checkpoint as soon as it exists.
        """
        self.log_metrics(row)
        if self.board is not None:
            self.board.epoch(row, f"layer{row['layer']}/" if "layer" in row else "")
        if announce is not None and self.enabled:
            print(announce, flush=True)

    def close(self) -> None:
        """Flush and close the TensorBoard files, if any."""
        if self.board is not None:
            self.board.close()

    def restart_logs(self, logs: dict[str, list[dict]], resumed: bool) -> None:
        """Start each named JSON-lines log afresh from the rows a checkpoint saved.

        Epochs run after the last checkpoint are redone on ``--resume``, so their rows
        are rewritten from the checkpoint instead of appearing twice.

        Parameters
        ----------
        logs : dict
            Log file name -> the rows to write (an empty list for a new run).
        resumed : bool
            Whether the run continues from a checkpoint; it then says so on stderr.
        """
        for name, rows in logs.items():
            self.remove(name)
            for row in rows:
                self.log_metrics(row, name)
        if resumed and self.enabled:
            print(f"resuming {self.path} from its checkpoint", file=sys.stderr)

    def remove(self, name: str) -> None:
        """Delete a file of the run, if present."""
        if self.enabled:
            (self.path / name).unlink(missing_ok=True)

    def read_metrics(self, name: str = "metrics.jsonl") -> list[dict]:
        target = self.path / name
        if not target.is_file():
            return []
        return [json.loads(line) for line in target.read_text().splitlines() if line.strip()]
