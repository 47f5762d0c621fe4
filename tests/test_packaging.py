"""The distribution: a wheel named dbn-torch that works outside the repository."""

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

from dbn.cli.commands import PROGRAMS, command_name

ROOT = Path(__file__).resolve().parents[1]

USE = textwrap.dedent(
    """
    import importlib.metadata as metadata
    import sys

    import torch

    import dbn

    assert dbn.__file__.startswith(sys.prefix), dbn.__file__  # the wheel, not the clone
    assert metadata.version("dbn-torch") == dbn.__version__
    assert any(r.startswith("torch") for r in metadata.requires("dbn-torch"))
    stack = dbn.DBN([6, 4, 3], generator=torch.Generator().manual_seed(0))
    model = dbn.to_mlp(stack, num_classes=2)
    assert model(torch.rand(5, 6)).shape == (5, 2)
    # a shipped model by name, from the clone's pretrained/ named by $DBN_WEIGHTS
    rbm = dbn.load("mnist-rbm-500-cd1to25")
    assert rbm.weight.shape == (500, 784) and rbm.card
    print("ok")
    """
)


# slow: a fresh venv and a wheel build (about a minute idle)
@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_works_outside_the_repository(tmp_path):
    # Build from a copy holding only what the clone ships, so no build files land here.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "dbn", source / "dbn", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(wheels), str(source)],
        check=True,
    )
    (wheel,) = wheels.glob("*.whl")
    assert wheel.name.startswith("dbn_torch-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dbn/py.typed" in names and "dbn/__init__.py" in names
    assert not any(name.startswith(("tests/", "scripts/")) for name in names)

    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=True)
    python = fresh / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel], check=True
    )
    # The dependencies (torch, ...) come from this test's environment, which a path
    # entry makes visible without its .pth files: the editable install of the clone
    # stays out, and `import dbn` can only find the wheel.
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    environment = dict(os.environ, DBN_WEIGHTS=str(ROOT / "pretrained"))
    outcome = subprocess.run(
        [python, "-c", USE], cwd=tmp_path, env=environment, capture_output=True, text=True
    )
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.stdout.strip() == "ok"

    # every program is a console command of the installed wheel, run from outside the clone
    for program in PROGRAMS:
        command = fresh / "bin" / command_name(program)
        shown = subprocess.run([command, "--help"], cwd=tmp_path, capture_output=True, text=True)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.startswith(f"usage: {command_name(program)} ")
    refused = subprocess.run(
        [fresh / "bin" / "dbn-evaluate", str(tmp_path / "missing.pt")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert refused.stderr.startswith("dbn-evaluate: error: ")
