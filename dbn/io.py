"""Atomic checkpoint writes and safe loads.

A checkpoint holds tensors and JSON-able values only. It is written to a temporary
file in the target directory, flushed to disk with ``fsync`` and renamed over the
target, so a crash or ``SIGKILL`` at any moment leaves either the old file or the
new one, never a half-written one. It is read with ``torch.load(weights_only=True)``,
which refuses pickled code.

Every checkpoint carries a SHA-256 of its content (each tensor's dtype, shape and
bytes, and every other value), which loading verifies: a flipped byte inside a tensor
is refused, not loaded. Loading also refuses NaN or infinite values.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

__all__ = [
    "CheckpointError",
    "FORMAT_VERSION",
    "atomic_save",
    "atomic_write",
    "content_sha256",
    "safe_load",
    "save_model",
    "sha256_file",
]

# The layout of the files dbn writes; dbn.load reads this version and older ones.
FORMAT_VERSION = 1

INTEGRITY_KEY = "content_sha256"
SAFETENSORS_SUFFIX = ".safetensors"
# What atomic_save writes: safetensors, or torch's zip format for training checkpoints.
SUFFIXES = (SAFETENSORS_SUFFIX, ".pt", ".pth")
# The safetensors metadata entry that holds everything but the tensors, as JSON.
METADATA_KEY = "dbn"
# dbn's own files nest their values a few levels deep (a training state's optimiser
# state is the deepest, about six); anything far deeper is crafted, and walking it
# recursively (the checksum, the finite-value check) would exhaust the stack.
MAX_NESTING = 32


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, unsafe or of the wrong kind.

    Examples
    --------
    >>> import os, tempfile
    >>> from dbn.io import CheckpointError, safe_load
    >>> path = os.path.join(tempfile.mkdtemp(), "broken.pt")
    >>> _ = open(path, "wb").write(b"not a checkpoint")
    >>> try:
    ...     safe_load(path)
    ... except CheckpointError:
    ...     print("refused")
    refused
    """


def _digest(value: Any, digest: hashlib._Hash, where: str) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{where}:tensor:{tensor.dtype}:{tuple(tensor.shape)}:".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        digest.update(f"{where}:dict:{len(value)}:".encode())
        for key in sorted(value, key=repr):
            _digest(value[key], digest, f"{where}/{key!r}")
    elif isinstance(value, (list, tuple)):
        digest.update(f"{where}:{type(value).__name__}:{len(value)}:".encode())
        for index, item in enumerate(value):
            _digest(item, digest, f"{where}/{index}")
    else:
        digest.update(f"{where}:{json.dumps(value, default=repr)}:".encode())


def content_sha256(obj: Any) -> str:
    """SHA-256 of a checkpoint's content: tensors by dtype, shape and bytes, other values
    by their JSON text, dictionaries in sorted key order (so it does not depend on how
    ``torch.save`` lays the file out).

    Examples
    --------
    >>> import torch
    >>> from dbn.io import content_sha256
    >>> content_sha256({"x": torch.zeros(2)}) == content_sha256({"x": torch.zeros(2)})
    True
    >>> content_sha256({"x": torch.zeros(2)}) == content_sha256({"x": torch.ones(2)})
    False
    """
    digest = hashlib.sha256()
    _digest(obj, digest, "")
    return digest.hexdigest()


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _sweep_stale_temp_files(path: Path) -> None:
    """Remove temp files of ``path`` left by writers that no longer run (killed mid-write).

    A temp file's name carries its writer's process id; a live writer's is kept.
    """
    for stale in path.parent.glob(f"{_temp_prefix(path)}*.tmp{path.suffix}"):
        pid = stale.name[len(_temp_prefix(path)) :].split(".", 1)[0]
        if pid.isdigit() and _process_alive(int(pid)):
            continue
        stale.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _for_safetensors(obj: dict, path: Path) -> dict:
    """``obj`` as it will read back from a ``.safetensors`` file: its flat ``"state"`` of
    tensors, and every other entry through JSON (so the checksum is of what loads)."""
    state = obj.get("state")
    rest = {key: value for key, value in obj.items() if key != "state"}
    try:
        if not isinstance(state, dict) or not all(
            isinstance(value, torch.Tensor) for value in state.values()
        ):
            raise TypeError("the tensors must sit in a flat dict under 'state'")
        rest = json.loads(json.dumps(rest))
    except TypeError:
        raise ValueError(
            f"{str(path)!r}: safetensors holds weights and a JSON config only; save "
            f"training checkpoints (optimiser and RNG state) with the .pt suffix"
        ) from None
    return {**rest, "state": state}


def _safetensors_bytes(obj: dict) -> bytes:
    tensors = {key: value.detach().cpu().contiguous() for key, value in obj["state"].items()}
    rest = {key: value for key, value in obj.items() if key != "state"}
    return safetensors.torch.save(tensors, metadata={METADATA_KEY: json.dumps(rest)})


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """Save ``obj`` so that ``path`` is replaced atomically: with ``torch.save``, or as
    safetensors (tensors, and the rest as JSON metadata) when ``path`` ends in
    ``.safetensors``.

    Parameters
    ----------
    obj : dict
        Tensors, numbers, strings, lists and dicts of those; a ``"content_sha256"`` entry with
        its :func:`content_sha256` is added. For ``.safetensors`` every tensor must sit in
        the flat dict ``obj["state"]``.
    path : path
        Destination; its directory is created if needed.

    Returns
    -------
    Path
        The destination path.

    Raises
    ------
    OSError
        If the file cannot be written (a full disk, say); the message names the path,
        the previous file is untouched and no temporary file is left.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from dbn.io import atomic_save, safe_load
    >>> target = os.path.join(tempfile.mkdtemp(), "state.pt")
    >>> path = atomic_save({"step": 3, "weight": torch.ones(2)}, target)
    >>> safe_load(path)["step"]
    3
    """
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ValueError(
            f"{str(path)!r}: choose the format by the suffix: {SAFETENSORS_SUFFIX} for "
            f"weights (pickle-free), .pt for a training checkpoint; got {path.suffix!r}"
        )
    safetensors_file = path.suffix == SAFETENSORS_SUFFIX
    if safetensors_file:
        obj = _for_safetensors(obj, path)
    obj = {
        **obj,
        INTEGRITY_KEY: content_sha256({k: v for k, v in obj.items() if k != INTEGRITY_KEY}),
    }
    payload = _safetensors_bytes(obj) if safetensors_file else None

    def write(temp: Path) -> None:
        if payload is None:
            torch.save(obj, temp)
        else:
            temp.write_bytes(payload)

    return atomic_write(path, write)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Replace ``path`` atomically by what ``write`` writes to a temporary path beside it.

    The temporary file ends in ``path``'s suffix (so that writers which choose the format by
    the name, such as matplotlib's ``savefig``, choose the same), is flushed to disk and
    renamed over ``path``. A crash or kill at any moment leaves the old file or the new
    one; the rename replaces a symbolic link at ``path`` rather than writing through it.

    Parameters
    ----------
    path : path
        Destination; its directory is created if needed.
    write : callable
        Called with the temporary path; writes the whole file there.

    Returns
    -------
    Path
        The destination path.

    Raises
    ------
    OSError
        If the file cannot be written (a full disk, say); the message names the path,
        the previous file is untouched and no temporary file is left.

    Examples
    --------
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> from dbn.io import atomic_write
    >>> target = Path(tempfile.mkdtemp()) / "rows.csv"
    >>> _ = atomic_write(target, lambda temp: temp.write_text("seed,error\\n0,0.1\\n"))
    >>> target.read_text().splitlines()
    ['seed,error', '0,0.1']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f"{_temp_prefix(path)}{os.getpid()}."
    handle, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=prefix, suffix=f".tmp{path.suffix}"
    )
    os.close(handle)
    temp = Path(temp_name)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp's 0600 would hide shared files
        write(temp)
        with open(temp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temp, path)
    except BaseException as error:
        # Leave the previous file untouched and no stray temporary file behind.
        temp.unlink(missing_ok=True)
        if isinstance(error, (OSError, RuntimeError)) and not isinstance(error, CheckpointError):
            reason = os.strerror(error.errno) if getattr(error, "errno", None) else str(error)
            raise OSError(
                getattr(error, "errno", None) or errno.EIO, f"cannot write {str(path)!r}: {reason}"
            ) from None
        raise
    _sweep_stale_temp_files(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)
    return path


def save_model(kind: str, model: torch.nn.Module, path: str | os.PathLike, **extra: Any) -> Path:
    """Write a model file that :func:`dbn.load` reads: its ``kind``, its constructor
    arguments (``model.config()``), its tensors and any JSON-able ``extra``.

    Parameters
    ----------
    kind : {"dbn", "rbm"}
    model : nn.Module with a ``config()`` method
    path : path
        ``.safetensors`` for a file without pickle, else ``torch.save``'s format.

    Returns
    -------
    Path

    Examples
    --------
    >>> import os, tempfile, dbn
    >>> from dbn.io import save_model
    >>> path = save_model("rbm", dbn.RBM(8, 4), os.path.join(tempfile.mkdtemp(), "rbm.safetensors"))
    >>> dbn.load(path).n_hidden
    4
    """
    return atomic_save(
        {
            "kind": kind,
            "format_version": FORMAT_VERSION,
            "config": model.config(),
            "state": {key: value.detach().cpu() for key, value in model.state_dict().items()},
            "extra": extra,
        },
        path,
    )


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

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from dbn.io import CheckpointError, atomic_save, safe_load
    >>> target = os.path.join(tempfile.mkdtemp(), "a.pt")
    >>> path = atomic_save({"kind": "demo", "x": torch.zeros(3)}, target)
    >>> safe_load(path, kind="demo")["x"].shape
    torch.Size([3])
    >>> try:
    ...     safe_load(path, kind="dbn")
    ... except CheckpointError:
    ...     print("refused: another kind of file")
    refused: another kind of file
    """
    path = Path(path)
    _check_regular_file(path)
    if path.suffix == SAFETENSORS_SUFFIX:
        blob = _load_safetensors(path)
    else:
        blob = _load_torch(path)
    _check_nesting(blob, path)
    _verify_integrity(blob, path)
    if kind is not None and blob.get("kind") != kind:
        raise CheckpointError(
            f"{str(path)!r} is not a {kind} checkpoint (its kind is {blob.get('kind')!r})"
        )
    _check_finite(blob, path)
    return blob


def _load_safetensors(path: Path) -> dict:
    """A ``.safetensors`` file as the dict :func:`atomic_save` was given (no pickle at all)."""
    try:
        with safetensors.safe_open(path, framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}
        blob = json.loads(metadata[METADATA_KEY])
    except RecursionError:
        raise CheckpointError(
            f"{str(path)!r} is not a dbn checkpoint: its metadata nests deeper than any "
            f"dbn file does"
        ) from None
    except (KeyError, ValueError, OSError, safetensors.SafetensorError) as error:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is truncated or corrupt, or not a dbn safetensors file "
            f"({type(error).__name__}: {error})"
        ) from None
    if not isinstance(blob, dict):
        raise CheckpointError(f"{str(path)!r} is not a dbn checkpoint (bad metadata)")
    return {**blob, "state": state}


def _load_torch(path: Path) -> dict:
    """A ``torch.save`` archive read with ``weights_only=True``."""
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
    return blob


def _check_regular_file(path: Path) -> None:
    """A clear error for everything that is not a readable regular file."""
    if path.is_symlink() and not path.exists():
        raise CheckpointError(
            f"checkpoint {str(path)!r} is a symbolic link to nothing (broken or looping)"
        )
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {str(path)!r} is a directory, not a file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} is not a regular file")
    if not os.access(path, os.R_OK):
        raise CheckpointError(f"checkpoint {str(path)!r} is not readable")


def _check_nesting(blob: dict, path: Path) -> None:
    """Refuse values nested deeper than ``MAX_NESTING``, walking without recursion."""
    pending: list[tuple[Any, int]] = [(blob, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_NESTING:
            raise CheckpointError(
                f"{str(path)!r} is not a dbn checkpoint: its values nest more than "
                f"{MAX_NESTING} levels deep"
            )
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, (list, tuple)):
            pending.extend((item, depth + 1) for item in value)


def _verify_integrity(blob: dict, path: Path) -> None:
    stored = blob.pop(INTEGRITY_KEY, None)
    if stored is None:
        raise CheckpointError(
            f"{str(path)!r} carries no content checksum, which every dbn file has: it was "
            f"not written by dbn or was edited since"
        )
    if stored != content_sha256(blob):
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt: its content does not match the SHA-256 "
            f"stored in it"
        )


def _check_finite(value: Any, path: Path, where: str = "") -> None:
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise CheckpointError(
                f"checkpoint {str(path)!r} holds NaN or infinite values (in {where.lstrip('/')})"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, path, f"{where}/{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_finite(item, path, f"{where}/{index}")


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits (read in 1 MiB blocks).

    Examples
    --------
    >>> import os, tempfile
    >>> from dbn.io import sha256_file
    >>> path = os.path.join(tempfile.mkdtemp(), "empty")
    >>> _ = open(path, "wb").close()
    >>> sha256_file(path)[:16]
    'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
