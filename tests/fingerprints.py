"""Fingerprints of the models a run directory holds: what shows that a command still
reproduces a run made by an earlier version of the code.

    python tests/fingerprints.py OUT.json NAME=RUN_DIR/MODEL ...

writes, for each model file, every tensor's SHA-256 and float64 sum, with the machine
that made them (a matrix product's rounding follows the CPU, torch and thread count).
``tests/data/stream-torch.json`` came from the quick runs of commit 32a5623, before the
sampling stream became a choice (its ``commands`` entry lists them).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file


def model_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a saved model (``.safetensors`` or a ``.pt`` checkpoint), by a
    dotted path through its nested containers."""
    path = Path(path)
    tree = load_file(path) if path.suffix == ".safetensors" else torch.load(path, weights_only=True)
    found: dict[str, torch.Tensor] = {}

    def walk(prefix: str, node) -> None:
        if isinstance(node, torch.Tensor):
            found[prefix] = node
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif isinstance(node, list | tuple):
            for index, value in enumerate(node):
                walk(f"{prefix}.{index}", value)

    walk("", tree)
    return found


def fingerprint(path: str | Path) -> dict[str, dict]:
    """Each tensor's SHA-256 (of its bytes) and float64 sum."""
    return {
        name: {
            "sha256": hashlib.sha256(tensor.contiguous().view(torch.uint8).numpy()).hexdigest(),
            "sum": tensor.double().sum().item(),
        }
        for name, tensor in sorted(model_tensors(path).items())
    }


def this_machine() -> dict:
    """The CPU, torch and thread count that a fingerprint's exact bytes depend on."""
    from dbn.cli.device import cpu_model

    return {"cpu": cpu_model(), "torch": torch.__version__, "threads": torch.get_num_threads()}


if __name__ == "__main__":
    out, *models = sys.argv[1:]
    runs = {name: fingerprint(path) for name, path in (entry.split("=", 1) for entry in models)}
    Path(out).write_text(json.dumps({"machine": this_machine(), "runs": runs}, indent=1) + "\n")
