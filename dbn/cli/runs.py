"""A run directory: one folder per script run holding its config, metrics and outputs.

The run contract every program goes through: parse, validate every option and input,
then :meth:`RunDirectory.claim` (lock; a new run needs an empty folder, a resumed one
its own run, the same options and unchanged inputs), and only then write, atomically,
by rename (never through a symbolic link), the config with its checksum first.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import hashlib
import json
import os
import sys
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

from dbn.cli.args import check_resume_options
from dbn.io import atomic_write, sha256_file
from dbn.models import load
from dbn.tensorboard import TensorBoard, require_tensorboard
from dbn.utils import JSONConfig

Config = TypeVar("Config", bound=JSONConfig)

__all__ = ["GREEDY_NAME", "RunDirectory", "start_entries"]

# Where a run that pretrains greedily keeps its greedy model (a resumed run starts from it).
GREEDY_NAME = "greedy.safetensors"
# Options that say where and how a run runs, not what it computes: a resumed run may
# give other values; every other option it types must equal the run's.
HOW_IT_RUNS = frozenset(
    {"out", "resume", "device", "data_dir", "no_progress", "debug", "tensorboard"}
)
# What config.json holds beside the config's own fields.
RECORDS = ("script", "command", "inputs", "config_sha256")


def _as_json(value: Any) -> Any:
    """``value`` as it reads back from JSON (paths as strings, tuples as lists)."""
    return json.loads(json.dumps(value, default=str))


def _number_or_text(value: str) -> int | float | str:
    """A CSV cell as the number it was written from, else the text."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _config_digest(record: dict) -> str:
    """The SHA-256 of a config record's content, its own checksum left out."""
    content = {key: value for key, value in record.items() if key != "config_sha256"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def recorded_command(args: argparse.Namespace) -> tuple[dict, dict]:
    """The options of a command line as a run records them, and the SHA-256 of each
    option that names an existing regular file (a model to start from, say)."""
    options = {
        name: _as_json(value)
        for name, value in sorted(vars(args).items())
        if name not in HOW_IT_RUNS and name != "typed"
    }
    inputs = {
        name: sha256_file(value)
        for name, value in options.items()
        if isinstance(value, str) and value and Path(value).is_file()
    }
    return options, inputs


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
    command : argparse.Namespace, optional
        The parsed command line (:class:`dbn.cli.args.ArgumentParser` notes which
        options were typed). A new run records its options and the SHA-256 of every
        input file among them in ``config.json``; a resumed run (``command.resume``)
        is refused if an option it types differs from the recorded one (but those in
        ``HOW_IT_RUNS``) or an input file changed.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from dbn.cli import RunDirectory
    >>> out = Path(tempfile.mkdtemp()) / "run"
    >>> run = RunDirectory(out)
    >>> run.claim("my-program", resume=False)  # creates and locks the folder
    >>> _ = run.write_config("my-program", {"epochs": 5})
    >>> run.log_metrics({"epoch": 1, "loss": 0.5})
    >>> sorted(path.name for path in out.iterdir())
    ['config.json', 'metrics.jsonl']
    >>> del run  # the lock goes with the object (or with the process)
    >>> try:
    ...     RunDirectory(out).claim("my-program", resume=False)
    ... except ValueError as error:
    ...     print(str(error).split("; ")[-1])
    continue it with --resume, or choose another --out
    >>> RunDirectory(out).saved_config("my-program")["epochs"]
    5
    """

    def __init__(
        self,
        path: str | os.PathLike,
        enabled: bool = True,
        tensorboard: bool = False,
        command: argparse.Namespace | None = None,
    ) -> None:
        if not str(path).strip():  # Path("") is the working directory: never meant
            raise ValueError("--out must name a directory, got an empty path")
        self.path = Path(path)
        self.enabled = enabled
        self.tensorboard = tensorboard
        if tensorboard:
            require_tensorboard()
        self.command = command
        self.board: TensorBoard | None = None
        self._lock = None

    @property
    def resuming(self) -> bool:
        return bool(self.command is not None and getattr(self.command, "resume", False))

    def saved_config(self, script: str) -> dict | None:
        """The ``config.json`` of a run of ``script`` in this folder, or None if there is
        no run; a run of another script, an edited file, or (resuming) a command that
        differs from the run's is an error."""
        target = self.path / "config.json"
        if not target.exists() and not target.is_symlink():
            return None
        if target.is_symlink() or not target.is_file():
            raise ValueError(f"{str(target)!r} is not a regular file")
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
        if saved.get("config_sha256") != _config_digest(saved):
            raise ValueError(
                f"{str(target)!r} was edited after the run wrote it (its checksum does not "
                f"match); restore it, or start a new run with another --out"
            )
        if self.resuming:
            self._check_command(saved)
        return saved

    def _check_command(self, saved: dict) -> None:
        """Refuse a resumed command whose typed options or input files differ from the
        run's."""
        assert self.command is not None
        recorded, digests = saved.get("command"), saved.get("inputs")
        if not isinstance(recorded, dict) or not isinstance(digests, dict):
            raise ValueError(f"{str(self.path)!r} records no command line to resume")
        options, _ = recorded_command(self.command)
        typed = {
            name: options[name]
            for name in getattr(self.command, "typed", ())
            if name in options and name != "resume"
        }
        # an option left at None took the config's value: compare with what the run used
        resolved = {key: value for key, value in saved.items() if key not in RECORDS}
        for value in list(resolved.values()):
            if isinstance(value, dict):  # a nested config's options are the run's too
                resolved = {**value, **resolved}
        effective = {
            name: resolved.get(name) if recorded.get(name) is None else recorded[name]
            for name in typed
        }
        check_resume_options(effective, typed, str(self.path))
        for name, digest in sorted(digests.items()):
            path = recorded.get(name)
            if not isinstance(path, str) or not Path(path).is_file():
                raise ValueError(f"the run's input {name} {path!r} is gone")
            if sha256_file(path) != digest:
                raise ValueError(
                    f"the run's input {name} {path!r} changed since the run started (its "
                    f"SHA-256 differs from the one recorded); restore it, or start a new run"
                )

    def resumed_config(
        self,
        script: str,
        config_class: type[Config],
        records: tuple[str, ...] = (),
    ) -> Config | None:
        """The saved run's config for ``--resume``, or None if there is no run yet.

        Every script resumes through here: the options the user typed must equal the
        run's (:meth:`saved_config`), and the config is rebuilt from ``config.json``,
        whose entries must be exactly the config's fields (nested ones included), what
        every run records (``RECORDS``) and the script's ``records`` (entries it writes
        that are not options): a missing or unknown entry means an edited file, refused.
        """
        saved = self.saved_config(script)
        if saved is None:
            return None
        options = {key: value for key, value in saved.items() if key not in (*RECORDS, *records)}
        try:
            config = config_class.from_dict(options, strict=True, complete=True)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{str(self.path / 'config.json')!r} cannot be resumed: {error}"
            ) from None
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
        if resume and self.saved_config(script) is not None:
            return self._open_board()
        if any(self.path.iterdir()):
            # a new run writes only files it creates: never over a user's own
            raise ValueError(
                f"{str(self.path)!r} is not empty and holds no run; choose an empty or new --out"
            )
        self._open_board()

    def _open_board(self) -> None:
        if self.tensorboard:
            self.board = TensorBoard(self.path)

    def write_config(self, script: str, config: dict) -> Path:
        """Write ``config.json``: ``config``, the script's name, the command's options
        and input checksums (a resumed run keeps the ones it started with) and the
        record's own checksum, which :meth:`saved_config` verifies."""
        record = {**config, "script": script}
        saved = self.saved_config(script) if self.resuming else None
        if saved is not None:
            record.update(command=saved["command"], inputs=saved["inputs"])
        elif self.command is not None:
            record["command"], record["inputs"] = recorded_command(self.command)
        record = _as_json(record)
        record["config_sha256"] = _config_digest(record)
        return self.write_json("config.json", record)

    def state_file(self, name: str) -> Path | None:
        """The run's file ``name`` if it exists, else None; refused if it exists but is
        not a regular file (a directory or a link where a checkpoint belongs)."""
        path = self.path / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise ValueError(f"{str(path)!r} is not a regular file")
        return path if path.exists() else None

    def greedy_model(self, config, expect: type, pretrain: Callable[[], torch.nn.Module]):
        """The run's greedy model: read back from the run, else the ``--start-from``
        model (checked unchanged since the run started), else ``pretrain()``'s; saved
        into the run the first time."""
        path = self.state_file(GREEDY_NAME)
        if path is not None:
            model = load(path, expect=expect)
            # the config's own shape entries (sizes; n_labels where the run sets it)
            wanted = {k: getattr(config, k) for k in ("sizes", "n_labels") if hasattr(config, k)}
            shape = {k: getattr(model, k) for k in wanted}
            if shape != wanted:
                raise ValueError(
                    f"{str(path)!r} holds a model of {shape}, the run's config {wanted}"
                )
            return model
        if config.start_from is not None:
            if sha256_file(config.start_from) != config.start_sha256:
                raise ValueError(f"{config.start_from!r} changed since the run started")
            model = load(config.start_from, expect=expect)
        else:
            model = pretrain()
        model.save(self.path / GREEDY_NAME)
        return model

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def write(self, name: str, write: Callable[[Path], object]) -> Path:
        """Write the run's file ``name`` atomically: ``write`` fills a temporary path
        with the same suffix, which then replaces ``name`` by rename
        (:func:`dbn.io.atomic_write`)."""
        target = self.path / name
        if self.enabled:
            atomic_write(target, write)
        return target

    def write_text(self, name: str, text: str) -> Path:
        """Write ``text`` into the run's file ``name``, atomically."""
        return self.write(name, lambda temp: temp.write_text(text))

    def write_json(self, name: str, value) -> Path:
        """Write ``value`` as indented JSON, atomically."""
        return self.write_text(
            name, json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"
        )

    def write_csv(self, name: str, rows: Sequence[dict], fields: Sequence[str]) -> Path:
        """Write ``rows`` (dicts keyed by ``fields``) as CSV with a header, atomically."""

        def write(temp: Path) -> None:
            with open(temp, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(fields))
                writer.writeheader()
                writer.writerows(rows)

        return self.write(name, write)

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
            if rows:
                self.write_text(
                    name, "".join(json.dumps(row, default=float) + "\n" for row in rows)
                )
            else:
                self.remove(name)
        if resumed and self.enabled:
            print(f"resuming {self.path} from its checkpoint", file=sys.stderr)

    def remove(self, name: str) -> None:
        """Delete a file of the run, if present."""
        if self.enabled:
            (self.path / name).unlink(missing_ok=True)

    def read_csv(self, name: str) -> list[dict]:
        """The rows of the run's CSV file ``name`` (none if it is absent), numbers
        parsed back; a row cut short or with extra cells is refused in one line."""
        target = self.state_file(name)
        if target is None:
            return []
        with open(target, newline="") as handle:
            rows = list(csv.DictReader(handle))
        for number, row in enumerate(rows, start=2):
            if None in row or None in row.values():
                raise ValueError(
                    f"{str(target)!r} line {number} has the wrong cells: cut or edited"
                )
        return [{key: _number_or_text(value) for key, value in row.items()} for row in rows]

    def read_metrics(self, name: str = "metrics.jsonl") -> list[dict]:
        """The rows of the run's JSON-lines file ``name`` (none if it is absent); a cut
        or edited line is refused in one line."""
        target = self.state_file(name)
        if target is None:
            return []
        rows = []
        for number, line in enumerate(target.read_text().splitlines(), start=1):
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            if not isinstance(row, dict):
                raise ValueError(
                    f"{str(target)!r} line {number} is not a JSON object: cut or edited"
                )
            rows.append(row)
        return rows
