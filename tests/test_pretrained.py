"""The shipped checkpoint: safe to load, the file the README describes, usable from anywhere."""

import hashlib
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import torch
from helpers import load_script

import dbn
from dbn import ais
from dbn.io import safe_load
from dbn.training.monitors import layer_reconstruction_errors

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT = ROOT / "pretrained" / "mnist-784-500-500-2000.safetensors"


def test_checkpoint_is_plain_safetensors_and_matches_the_readme_sha256():
    # any safetensors reader sees the tensors and the JSON config; nothing is code
    tensors = safetensors.torch.load_file(CHECKPOINT)
    assert tensors["layers.0.weight"].shape == (500, 784)
    with safetensors.safe_open(CHECKPOINT, "pt") as handle:
        config = json.loads(handle.metadata()["dbn"])
    assert config["kind"] == "dbn" and config["config"]["sizes"] == [784, 500, 500, 2000]
    readme = (ROOT / "pretrained" / "README.md").read_text()
    documented = re.search(r"^- sha256: `([0-9a-f]{64})`", readme, re.M).group(1)
    assert hashlib.sha256(CHECKPOINT.read_bytes()).hexdigest() == documented


def test_to_mlp_from_another_directory(tmp_path):
    code = (
        "import sys, torch, dbn\n"
        f"model = dbn.to_mlp({str(CHECKPOINT)!r})\n"
        "print(model(torch.rand(3, 784)).shape)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "torch.Size([3, 10])"


def test_shipped_weights_reproduce_the_dbn_features():
    model = dbn.load(CHECKPOINT)
    mlp = dbn.to_mlp(CHECKPOINT, num_classes=None)
    x = torch.rand(5, 784)
    torch.testing.assert_close(mlp(x), model.transform(x), rtol=0, atol=0)


def test_shipped_reconstruction_errors_are_the_readme_ones(mnist):
    readme = (ROOT / "pretrained" / "README.md").read_text()
    documented = [
        float(value)
        for value in re.findall(r"layer \d reconstruction error [^|]*\| ([0-9.]+) \|", readme)
    ]
    measured = layer_reconstruction_errors(dbn.load(CHECKPOINT).layers, mnist["test"].x)
    assert len(documented) == 3
    assert [round(error, 2) for error in measured] == documented


RBMS = sorted((ROOT / "pretrained").glob("mnist-rbm-*.safetensors"))


def documented(name: str) -> str:
    """The section of pretrained/README.md about the file ``name``."""
    readme = (ROOT / "pretrained" / "README.md").read_text()
    return readme.split(f"## `{name}`")[1].split("\n## ")[0]


@pytest.mark.parametrize("path", RBMS, ids=lambda path: path.name)
def test_shipped_rbm_is_the_file_and_the_likelihood_its_readme_gives(path, mnist):
    section = documented(path.name)
    sha256 = re.search(r"^- sha256: `([0-9a-f]{64})`", section, re.M).group(1)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    rbm = dbn.load(path)
    assert isinstance(rbm, dbn.RBM) and rbm.config() == {
        "n_visible": 784,
        "n_hidden": 500,
        "visible": "bernoulli",
    }
    log_z = float(re.search(r"^- AIS log Z: `([0-9.]+)`", section, re.M).group(1))
    test_nats = float(
        re.search(r"^- test log-likelihood .*: `(-[0-9.]+)` nats", section, re.M).group(1)
    )
    # the test images binarised as loglik.py does; given log Z the rest is exact
    loglik = load_script("loglik")
    test = loglik.binarize(mnist["test"].x, "stochastic", seed=loglik.BINARIZE_SEEDS["test"])
    # (both figures are rounded to 0.01 in the README)
    assert abs(ais.log_likelihood(rbm, test, log_z=log_z) - test_nats) <= 0.01
    # an independent, cheaper AIS lands near the documented log Z (below it on average)
    train = loglik.binarize(mnist["train"].x, "stochastic", seed=loglik.BINARIZE_SEEDS["train"])
    quick = ais.log_partition(
        rbm, train, n_betas=1000, n_runs=100, generator=torch.Generator().manual_seed(7)
    )
    assert log_z - 2 < quick.log_z < log_z + 0.5


CLASSIFIERS = sorted((ROOT / "pretrained").glob("*-classifier.safetensors"))


@pytest.mark.parametrize("path", CLASSIFIERS, ids=lambda path: path.name)
def test_shipped_classifier_is_its_readme_file_and_has_its_test_error(path, mnist):
    section = documented(path.name)
    sha256 = re.search(r"^- sha256: `([0-9a-f]{64})`", section, re.M).group(1)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    documented_error = re.search(r"^- test error: `([0-9.]+) %`", section, re.M).group(1)
    evaluate = load_script("evaluate")
    report = evaluate.main(evaluate.get_args_parser().parse_args([str(path)]))
    assert f"{100 * report['test_error']:.2f}" == documented_error
    model = dbn.load(path)
    assert not model.training and model(torch.rand(3, 784)).shape == (3, 10)


def test_every_shipped_file_has_a_readme_section_and_an_rbm_ships():
    readme = (ROOT / "pretrained" / "README.md").read_text()
    shipped = sorted(path.name for path in (ROOT / "pretrained").glob("*.safetensors"))
    assert [name for name in shipped if f"## `{name}`" not in readme] == []
    assert RBMS and CLASSIFIERS


SHIPPED = sorted((ROOT / "pretrained").glob("*.safetensors"))


def test_every_shipped_file_matches_its_recorded_sha256():
    sums = dict(
        reversed(line.split("  "))
        for line in (ROOT / "pretrained" / "SHA256SUMS").read_text().splitlines()
    )
    assert sorted(sums) == [path.name for path in SHIPPED]
    for path in SHIPPED:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sums[path.name], path.name


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_every_shipped_file_carries_its_card(path):
    card = safe_load(path)["extra"]["card"]
    assert card["made_by"] and card["data"] and card["figures_from"]
    assert card["figures"] and all(math.isfinite(value) for value in card["figures"].values())
    assert dbn.load(path).card == card  # on the object a user gets, too


@pytest.mark.parametrize("path", [p for p in SHIPPED if "classifier" in p.name], ids=str)
def test_a_shipped_classifier_has_the_test_error_its_card_says(path, mnist):
    card = safe_load(path)["extra"]["card"]
    test = mnist["test"]
    assert dbn.evaluate(dbn.load(path), test.x, test.y)[1] == card["figures"]["test_error"]
