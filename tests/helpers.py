"""Shared fixtures-as-functions for the tests."""

import importlib.util
import sys
from pathlib import Path

import torch

from dbn.datasets._loading import load_digits


def binary_digits(seed: int = 0):
    """scikit-learn digits thresholded at 0.5: (train, valid, test) float32 tensors of 0/1."""
    splits = load_digits(seed=seed)
    return tuple((splits[name].x > 0.5).float() for name in ("train", "valid", "test"))


def random_rbm(n_visible, n_hidden, visible="bernoulli", seed=0, scale=1.0, dtype=torch.float64):
    """An RBM with sizeable random weights and biases, so that tests are not trivial."""
    from dbn import RBM

    generator = torch.Generator().manual_seed(seed)
    rbm = RBM(n_visible, n_hidden, visible=visible).to(dtype)
    with torch.no_grad():
        for parameter in rbm.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    return rbm


def without_timings(history):
    """A training history's rows without their wall time (``seconds``): what two runs
    of the same seed must agree on."""
    return [{key: value for key, value in row.items() if key != "seconds"} for row in history]


def load_script(name):
    """Import ``scripts/<name>.py`` (or ``examples/<name>.py`` for a ``*_example`` name)."""
    root = Path(__file__).resolve().parent.parent
    if name.endswith("_example"):
        path = root / "examples" / f"{name.removesuffix('_example')}.py"
    else:
        path = root / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def wait_for_checkpoints(process, count):
    """Block until the script has announced ``count`` written checkpoints (or has ended)."""
    announced = 0
    while announced < count and (line := process.stdout.readline()):
        announced += "checkpoint written" in line.decode()
