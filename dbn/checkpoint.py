"""Atomic checkpoint writes and safe loads.

A checkpoint holds tensors and JSON-able values only. It is written to a temporary
file in the target directory, flushed to disk with ``fsync`` and renamed over the
target, so a crash or ``SIGKILL`` at any moment leaves either the old file or the
new one, never a half-written one. It is read with ``torch.load(weights_only=True)``,
which refuses pickled code.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointError", "atomic_save", "safe_load", "sha256_file"]


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, unsafe or of the wrong kind."""


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """Save ``obj`` with ``torch.save`` so that ``path`` is replaced atomically.

    Parameters
    ----------
    obj : object
        Tensors, numbers, strings, lists and dicts of those.
    path : path
        Destination; its directory is created if needed.

    Returns
    -------
    Path
        The destination path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp_name, 0o666 & ~umask)  # mkstemp's 0600 would hide shared checkpoints
        with os.fdopen(handle, "wb") as temp_file:
            torch.save(obj, temp_file)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        # Leave the previous checkpoint untouched and no stray temporary file behind.
        Path(temp_name).unlink(missing_ok=True)
        raise
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)  # left by an earlier writer that was killed mid-write
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)
    return path


def safe_load(path: str | os.PathLike, kind: str | None = None) -> dict:
    """Load a checkpoint written by :func:`atomic_save` without running any pickled code.

    Parameters
    ----------
    path : path
        The checkpoint file.
    kind : str, optional
        If given, the value the checkpoint's ``"kind"`` entry must have.

    Returns
    -------
    dict
        The saved dictionary, tensors on the CPU.

    Raises
    ------
    CheckpointError
        If the file is missing, truncated, not a checkpoint, carries executable
        pickle content, or is of another kind.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    if not zipfile.is_zipfile(path):
        # torch.save writes a zip archive; anything else is damaged, empty or a bare
        # pickle, which is never unpickled here.
        raise CheckpointError(
            f"checkpoint {str(path)!r} is truncated or corrupt (not a torch.save archive)"
        )
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        lines = [line for line in str(error).splitlines() if "GLOBAL" in line or "global" in line]
        if lines:
            raise CheckpointError(
                f"refusing to load {str(path)!r}: it holds objects other than tensors and "
                f"plain values, which could run code ({lines[0].strip()})"
            ) from None
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated or corrupt") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, KeyError) as error:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is truncated or corrupt ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(blob, dict):
        raise CheckpointError(
            f"{str(path)!r} is not a dbn checkpoint (got a {type(blob).__name__})"
        )
    if kind is not None and blob.get("kind") != kind:
        raise CheckpointError(
            f"{str(path)!r} is not a {kind} checkpoint (its kind is {blob.get('kind')!r})"
        )
    return blob


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
