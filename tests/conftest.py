import os

import pytest
import torch

import dbn.training.finetuning
from dbn.datasets._loading import DataUnavailableError, load_mnist


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


@pytest.fixture
def trainings(monkeypatch):
    """Each FinetuneTrainer made: (training examples, no validation?, stop_after)."""
    seen = []
    original = dbn.training.finetuning.FinetuneTrainer.fit

    def recording(self, data, valid=None, **kwargs):
        seen.append((len(data), valid is None, self.config.stop_after))
        return original(self, data, valid, **kwargs)

    monkeypatch.setattr(dbn.training.finetuning.FinetuneTrainer, "fit", recording)
    return seen
