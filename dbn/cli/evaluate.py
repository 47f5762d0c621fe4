"""The MNIST test error of a saved classifier, in seconds.

    dbn-evaluate pretrained/mnist-dbn-hinton2006-classifier.pt

Loads the file with ``dbn.load`` (its content checksum verified, no code in it run),
prints the file's sha256 and scores the 10,000 MNIST test images.
"""

from __future__ import annotations

import argparse
import json

from torch import nn

import dbn
from dbn.cli.args import ArgumentParser, run_cli
from dbn.datasets import DATASETS, load_dataset
from dbn.io import sha256_file
from dbn.models import DBM, DBMClassifier, GenerativeDBN
from dbn.training.finetuning import evaluate
from dbn.weights import resolve


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description="Test error of a saved classifier.")
    parser.add_argument(
        "classifier",
        help="a classifier written by dbn-finetune (model.pt) or "
        "dbn-dbm-finetune, or a shipped one by its file or its name (e.g. "
        "mnist-dbn-hinton2006-classifier; dbn.weights.WEIGHTS lists them)",
    )
    parser.add_argument(
        "--dataset", default="mnist", choices=DATASETS, help="the test split scored (default mnist)"
    )
    parser.add_argument("--data-dir", default=None, help="MNIST in torchvision's layout")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


# Models that classify, but not by a forward pass: where each one is scored instead.
SCORED_ELSEWHERE = {
    GenerativeDBN: "dbn-updown-report (it classifies by free energy)",
    DBM: "dbn-dbm-report (its own label error), or fine-tune its classifier with dbn-dbm-finetune",
}


def main(args: argparse.Namespace) -> dict:
    model = dbn.load(args.classifier)
    for kind, where in SCORED_ELSEWHERE.items():
        if isinstance(model, kind):
            raise ValueError(f"{args.classifier!r} holds a {kind.__name__}: score it with {where}")
    if not isinstance(model, (nn.Sequential, DBMClassifier)):
        raise ValueError(f"{args.classifier!r} holds a {type(model).__name__}, not a classifier")
    test = load_dataset(args.dataset, data_dir=args.data_dir)["test"]
    if isinstance(model, DBMClassifier):
        inputs = model.sizes[0]
    else:
        inputs = next(m for m in model if isinstance(m, nn.Linear)).in_features
    if test.x.shape[1] != inputs:
        raise ValueError(
            f"{args.classifier!r} takes {inputs} inputs, {args.dataset} has {test.x.shape[1]}"
        )
    loss, error = evaluate(model, test.x, test.y)
    report = {
        "classifier": args.classifier,
        "sha256": sha256_file(resolve(args.classifier)),
        "test_images": len(test.y),
        "test_error": error,
        "test_loss": loss,
    }
    print(json.dumps(report, indent=2))
    print(f"test error {100 * error:.2f}% on {len(test.y):,} {args.dataset} test images")
    return report


if __name__ == "__main__":
    run_cli(main, get_args_parser())
