"""Quality of a pretrained DBN: per-layer test reconstruction error and a linear probe.

    python scripts/probe.py pretrained/mnist-784-500-500-2000.pt

The probe is scikit-learn's LogisticRegression trained on the top-layer features of
the training split and scored on the test split; the DBN itself is not changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import torch
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dbn  # noqa: E402
from dbn.cli import run_cli  # noqa: E402
from dbn.data import load_dataset  # noqa: E402


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Evaluate a pretrained DBN checkpoint.")
    parser.add_argument("checkpoint")
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "digits"])
    parser.add_argument("--max-iter", type=int, default=300, help="logistic regression")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--debug", action="store_true")
    return parser


def main(args: argparse.Namespace) -> dict:
    model = dbn.load(args.checkpoint)
    if not isinstance(model, dbn.DBN):
        raise ValueError(f"{args.checkpoint!r} holds an RBM, not a DBN")
    splits = load_dataset(args.dataset, data_dir=args.data_dir)
    report = {
        "checkpoint": args.checkpoint,
        "sha256": hashlib.sha256(Path(args.checkpoint).read_bytes()).hexdigest(),
    }
    with torch.no_grad():
        x = splits["test"].x
        for index, rbm in enumerate(model.layers):
            error = (rbm.reconstruct(x) - x).pow(2).sum(1).mean().item()
            report[f"layer{index + 1}_test_recon_error"] = error
            x = rbm.hidden_probs(x)
        train_features = model.transform(splits["train"].x).numpy()
        test_features = x.numpy()
    started = time.perf_counter()
    probe = LogisticRegression(max_iter=args.max_iter).fit(train_features, splits["train"].y)
    report["probe_seconds"] = time.perf_counter() - started
    report["probe_test_error"] = 1 - probe.score(test_features, splits["test"].y.numpy())
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    run_cli(main, get_args_parser())
