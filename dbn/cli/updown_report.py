"""What a generative DBN has learnt: its test error, class-conditional digits, and the
top-level chain settling into a digit ("what the associative memory has in mind").

    dbn-updown-report runs/updown/model.safetensors --out results/updown
    dbn-updown-report runs/updown/updown-state.pt --out ...   # mid-run

Writes ``report.json`` (test error by free energy, and the error on Hinton's 50,000
training and 10,000 validation images, which the paper's rule for how long to train on
all 60,000 compares; the share of generated digits that
the shipped backprop classifier recognises as their class, 10 per class), ``samples.png``
(a row per class) and ``minds-eye.png`` (a row per class: the chain after 1, 2, 5, 10,
20, 50, 100, 200, 500 and 1000 Gibbs steps, each seen through one down pass).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import dbn
from dbn.cli.args import ArgumentParser, run_cli
from dbn.cli.runs import RunDirectory
from dbn.io import sha256_file
from dbn.models import GenerativeDBN
from dbn.training import UpDownTrainer
from dbn.utils import new_generator
from dbn.visual import save_image_grid

SCRIPT = "updown_report"
# the shipped classifier that judges the samples, by its name (dbn.weights)
CLASSIFIER = "mnist-dbn-hinton2006-classifier"
CHAIN_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]


def read_model(path: Path) -> tuple[GenerativeDBN, dict]:
    """The model in ``path``: a saved GenerativeDBN, or the one inside an up-down
    training checkpoint of ``dbn-updown`` (with its epoch)."""
    model = dbn.load(path, expect=GenerativeDBN)  # a training checkpoint holds its model too
    if path.suffix == ".pt":
        state = UpDownTrainer.read_checkpoint(path)
        return model, {"source": str(path), "updown_epochs": state["epoch"]}
    return model, {"source": str(path), "sha256": sha256_file(path)}


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="model.safetensors or updown-state.pt")
    parser.add_argument("--out", required=True, help="folder for the report")
    parser.add_argument("--seed", type=int, default=0, help="the samples' generator seed (0)")
    parser.add_argument("--data-dir", default=None, help="MNIST in torchvision's layout")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def main(args: argparse.Namespace) -> dict:
    run = RunDirectory(args.out, command=args)
    model, report = read_model(args.model)
    mnist = dbn.load_mnist("hinton", data_dir=args.data_dir)
    for part in ("train", "valid", "test"):
        report[f"{part}_error"] = model.error_rate(mnist[part].x, mnist[part].y)
    labels = torch.arange(model.n_labels).repeat_interleave(10)
    samples = model.generate(labels, gibbs_steps=1000, generator=new_generator(args.seed))
    classifier = dbn.load(CLASSIFIER, expect=torch.nn.Sequential)
    with torch.no_grad():
        recognised = (classifier(samples).argmax(dim=1) == labels).double().mean().item()
    report["samples_recognised"] = recognised
    report["samples_recognised_by"] = f"{CLASSIFIER}.safetensors"
    frames = model.top_chain(
        torch.arange(model.n_labels), CHAIN_STEPS, generator=new_generator(args.seed + 1)
    )
    strip = torch.stack(frames, dim=1).reshape(-1, model.sizes[0])  # a row per class
    run.claim(SCRIPT, resume=False)  # the first write: every input read and checked
    run.write_config(SCRIPT, {})
    save_image_grid(samples, run / "samples.png", n_columns=10)
    save_image_grid(strip, run / "minds-eye.png", n_columns=len(CHAIN_STEPS))
    run.write_json("report.json", report)
    print(json.dumps(report, indent=2, sort_keys=True))
    return report


if __name__ == "__main__":
    run_cli(main, get_args_parser())
