import os

import pytest

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
