"""How the loss's precision decides whether late conjugate-gradient steps make progress.

Loads a fine-tuning run's ``train-state.pt`` (``python
docs/fidelity/cg/line_search_precision.py runs/fidelity/hinton2006-cg-s0/train-state.pt``)
and runs one ``ConjugateGradient`` step (3 line searches) on each of 4 random batches of
1,000 training images, with bfloat16 or float32 logits and a float32 or float64 loss.
Prints the evaluations used and each batch's float64 summed loss before and after.
"""

import copy
import functools
import sys
import time

import torch
import torch.nn.functional as F

from dbn.datasets import load_mnist
from dbn.io import safe_load
from dbn.models.mlp import build_mlp
from dbn.optim.conjugate_gradient import ConjugateGradient


def one_setting(trained, x, y, batches, bfloat16_logits: bool, float64_loss: bool) -> str:
    """One ConjugateGradient step on each batch from the same weights; a summary line."""
    model = copy.deepcopy(trained)
    optimizer = ConjugateGradient(model.parameters(), lr=1.0, line_searches=3)
    evaluations, started, losses = 0, time.perf_counter(), []

    def closure(index):
        nonlocal evaluations
        evaluations += 1
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16_logits):
            logits = model(x[index])
        logits = logits.double() if float64_loss else logits.float()
        loss = F.cross_entropy(logits, y[index], reduction="sum")
        loss.backward()
        return loss

    def float64_summed_loss(index) -> float:
        with torch.no_grad():
            return F.cross_entropy(model(x[index]).double(), y[index], reduction="sum").item()

    for index in batches:
        before = float64_summed_loss(index)
        optimizer.step(functools.partial(closure, index))
        losses.append(f"{before:.2e} -> {float64_summed_loss(index):.2e}")
    return (
        f"logits {'bfloat16' if bfloat16_logits else 'float32'}, loss "
        f"{'float64' if float64_loss else 'float32'}: {evaluations} evaluations for "
        f"4 batches in {time.perf_counter() - started:.1f} s; {', '.join(losses)}"
    )


def main(state_path: str) -> None:
    trained = build_mlp([784, 500, 500, 2000], 10, init="xavier_uniform")
    trained.load_state_dict(safe_load(state_path)["trainer"]["model"])
    mnist = load_mnist("hinton")
    x = torch.cat([mnist["train"].x, mnist["valid"].x])
    y = torch.cat([mnist["train"].y, mnist["valid"].y])
    generator = torch.Generator().manual_seed(5)
    batches = [torch.randperm(len(x), generator=generator)[:1000] for _ in range(4)]
    for bfloat16_logits in (True, False):
        for float64_loss in (False, True):
            print(one_setting(trained, x, y, batches, bfloat16_logits, float64_loss))


if __name__ == "__main__":
    main(sys.argv[1])
