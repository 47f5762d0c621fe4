"""The shipped checkpoint: safe to load, the file the README describes, usable from anywhere."""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import safetensors
import safetensors.torch
import torch

import dbn
from dbn.monitor import layer_reconstruction_errors

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


def test_the_readme_python_example_runs(mnist, tmp_path):
    readme = (ROOT / "README.md").read_text()
    example = re.search(r"## Python API.*?```python\n(.*?)```", readme, re.S).group(1)
    result = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test log-likelihood" in result.stdout and (tmp_path / "my-dbn.pt").is_file()


def test_shipped_reconstruction_errors_are_the_readme_ones(mnist):
    readme = (ROOT / "pretrained" / "README.md").read_text()
    documented = [
        float(value)
        for value in re.findall(r"layer \d reconstruction error [^|]*\| ([0-9.]+) \|", readme)
    ]
    measured = layer_reconstruction_errors(dbn.load(CHECKPOINT).layers, mnist["test"].x)
    assert len(documented) == 3
    assert [round(error, 2) for error in measured] == documented
