import os

import pytest
import torch

from dbn.data import DataUnavailableError, load_mnist


@pytest.fixture(scope="session")
def mnist():
    """MNIST in Hinton's split; skipped offline, except in CI where it must load."""
    try:
        return load_mnist("hinton")
    except DataUnavailableError:
        if os.environ.get("CI"):
            raise
        pytest.skip("MNIST unavailable on this machine")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` are skipped, with the reason, on a machine without CUDA."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (run `make test-gpu` on one)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
