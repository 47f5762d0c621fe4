"""Shared fixtures-as-functions for the tests."""

import functools
import gc
import hashlib
import importlib.util
import re
import sys
from pathlib import Path

import pytest
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
    """A program (``dbn.cli.<name>``), a study (``studies.<name>``) or, for a
    ``*_example`` name, ``examples/<name>.py``."""
    from dbn.cli.commands import PROGRAMS

    if name in PROGRAMS:
        return importlib.import_module(f"dbn.cli.{name}")
    if not name.endswith("_example"):
        return importlib.import_module(f"studies.{name}")
    examples = Path(__file__).resolve().parent.parent / "examples"
    path = examples / f"{name.removesuffix('_example')}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def wait_for_checkpoints(process, count):
    """Block until the script has announced ``count`` written checkpoints (or has ended)."""
    announced = 0
    while announced < count and (line := process.stdout.readline()):
        announced += "checkpoint written" in line.decode()


@functools.cache
def script(name):
    """A program, study or example by name, imported once per test session."""
    return load_script(name)


def run_script(name, argv, monkeypatch, capsys):
    """Run a script's ``main`` as its command line does; its exit status and stderr."""
    from dbn.cli.args import run_cli

    module = script(name)
    monkeypatch.setattr(sys, "argv", [f"{name}.py", *argv])
    with pytest.raises(SystemExit) as exit_info:
        run_cli(module.main, module.get_args_parser())
    gc.collect()  # release a run directory's lock held by a frame of the failed call
    return exit_info.value.code, capsys.readouterr().err


def snapshot(root: Path) -> dict:
    """Every file under ``root`` by its SHA-256 (and every link by its target)."""
    return {
        str(path.relative_to(root)): (
            f"-> {path.readlink()}"
            if path.is_symlink()
            else hashlib.sha256(path.read_bytes()).hexdigest()
        )
        for path in sorted(root.rglob("*"))
        if path.is_file() or path.is_symlink()
    }


def assert_refused(name, argv, message, roots, monkeypatch, capsys):
    """The command exits 2 with one line naming the problem, no traceback, and every
    file under ``roots`` is as it was."""
    before = [snapshot(root) for root in roots]
    status, err = run_script(name, argv, monkeypatch, capsys)
    lines = err.strip().splitlines()
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"{name}.py: error: "), err
    assert "Traceback" not in err
    assert re.search(message, lines[0]), lines[0]
    assert [snapshot(root) for root in roots] == before


def demo_argv() -> list[str]:
    """The options that ``make demo`` passes to ``python -m studies.compare``."""
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    command = re.search(r"^demo:.*\n\t(.+)$", makefile, re.MULTILINE).group(1)
    return command.split("-m studies.compare", 1)[1].split()
