"""Shipped models by name: the table agrees with the files, and a name is found,
verified and refused as the docs say."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dbn
from dbn.io import CheckpointError
from dbn.weights import WEIGHTS, weights_path

PRETRAINED = Path(__file__).resolve().parent.parent / "pretrained"
SMALLEST = min(WEIGHTS, key=lambda name: (PRETRAINED / f"{name}.safetensors").stat().st_size)


def test_the_table_is_the_shipped_files_and_their_checksums():
    listed = dict(
        reversed(line.split()) for line in (PRETRAINED / "SHA256SUMS").read_text().splitlines()
    )
    assert {entry.filename: entry.sha256 for entry in WEIGHTS.values()} == listed


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_every_name_loads_with_its_card(name):
    model = dbn.load(name)
    assert model.card is not None and model.card["made_by"]


def test_a_name_loads_from_another_directory(tmp_path):
    code = "import dbn; print(dbn.to_mlp('mnist-784-500-500-2000', num_classes=10)[-1])"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "Linear(in_features=2000, out_features=10, bias=True)"


def test_the_environment_variable_names_the_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("DBN_WEIGHTS", str(tmp_path))
    with pytest.raises(CheckpointError, match=rf"looked for {tmp_path}/{SMALLEST}\.safetensors"):
        dbn.load(SMALLEST)
    copy = tmp_path / f"{SMALLEST}.safetensors"
    shutil.copyfile(PRETRAINED / copy.name, copy)
    assert weights_path(SMALLEST) == copy
    assert dbn.load(SMALLEST).card == dbn.load(PRETRAINED / copy.name).card
    with copy.open("r+b") as file:  # one byte changed: not the shipped file
        file.seek(-1, 2)
        last = file.read(1)
        file.seek(-1, 2)
        file.write(bytes([last[0] ^ 1]))
    with pytest.raises(CheckpointError, match="is not the shipped .* its SHA-256 is"):
        dbn.load(SMALLEST)


def test_an_unknown_name_is_refused_listing_the_names():
    with pytest.raises(CheckpointError, match=r"no shipped model is named 'mnist-rbm-1000'.*"):
        dbn.load("mnist-rbm-1000")
