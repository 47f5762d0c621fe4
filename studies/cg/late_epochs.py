"""What conjugate-gradient epochs at float64's loss floor still change.

Compares the weights of a fine-tuning run's ``train-state.pt`` at an earlier epoch with
a later ``model.pt`` of the same run (or of a run that repeats it exactly)::

    python docs/fidelity/cg/late_epochs.py runs/fidelity/hinton2006-cg64-s0/train-state.pt \\
        runs/fidelity/hinton2006-cg64-e40-s0/model.pt

Prints each tensor's relative change ||later - earlier|| / ||earlier||, both nets' MNIST
test error, and on how many test images their predictions differ.
"""

import copy
import sys

import torch

import dbn
from dbn.datasets import load_mnist
from dbn.io import safe_load
from dbn.training.finetuning import evaluate


def main(state_path: str, model_path: str) -> None:
    later = dbn.load(model_path)
    state = safe_load(state_path)["trainer"]
    earlier = copy.deepcopy(later)
    earlier.load_state_dict(state["model"])
    test = load_mnist("hinton")["test"]
    for (name, before), after in zip(
        earlier.state_dict().items(), later.state_dict().values(), strict=True
    ):
        change = ((after - before).norm() / before.norm()).item()
        print(f"{name}: relative change {change:.4f}")
    with torch.no_grad():
        disagree = (earlier(test.x).argmax(1) != later(test.x).argmax(1)).sum().item()
    for label, model in ((f"epoch {state['epoch']}", earlier), (model_path, later)):
        print(f"{label}: test error {100 * evaluate(model, test.x, test.y)[1]:.2f} %")
    print(f"predictions differ on {disagree} of {len(test.y):,} test images")


if __name__ == "__main__":
    main(*sys.argv[1:])
