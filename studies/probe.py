"""Quality of a pretrained DBN: per-layer test reconstruction error and a linear probe.

    python -m studies.probe pretrained/mnist-784-500-500-2000.safetensors

The probe is scikit-learn's LogisticRegression trained on the top-layer features of
the training split and scored on the test split; the DBN itself is not changed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sklearn.linear_model import LogisticRegression

import dbn
from dbn.cli.args import ArgumentParser, run_cli
from dbn.datasets import DATASETS, load_dataset
from dbn.io import sha256_file
from dbn.training.monitors import layer_reconstruction_errors


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description="Evaluate a pretrained DBN checkpoint.")
    parser.add_argument("checkpoint", help="a pretrained DBN (pretrain.py's checkpoint)")
    parser.add_argument(
        "--dataset", default="mnist", choices=DATASETS, help="data to probe on (mnist)"
    )
    parser.add_argument(
        "--max-iter", type=int, default=300, help="iterations of the logistic regression (300)"
    )
    parser.add_argument("--data-dir", default=None, help="MNIST in torchvision's layout")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def main(args: argparse.Namespace) -> dict:
    model = dbn.load(args.checkpoint, expect=dbn.DBN)
    splits = load_dataset(args.dataset, data_dir=args.data_dir)
    report = {
        "checkpoint": args.checkpoint,
        "sha256": sha256_file(Path(args.checkpoint)),
    }
    errors = layer_reconstruction_errors(model.layers, splits["test"].x)
    for index, error in enumerate(errors):
        report[f"layer{index + 1}_test_recon_error"] = error
    train_features = model.transform(splits["train"].x).numpy()
    test_features = model.transform(splits["test"].x).numpy()
    started = time.perf_counter()
    probe = LogisticRegression(max_iter=args.max_iter).fit(train_features, splits["train"].y)
    report["probe_seconds"] = time.perf_counter() - started
    report["probe_test_error"] = 1 - probe.score(test_features, splits["test"].y.numpy())
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    run_cli(main, get_args_parser())
