"""What a DBM has learnt, in nats: AIS log Z with its ±3σ interval, the variational
lower bound on the test and training images' log-probability, and samples.

    dbn-dbm-report runs/dbm/model.safetensors --out results/dbm/<name>
    dbn-dbm-report runs/dbm/dbm-state.pt --out ...   # mid-run

The images are stochastically binarised once with the seeds of ``dbn-loglik``
(the RBM rows' data), whatever the DBM was trained on. Writes ``report.json`` and
``samples.png`` (pixel probabilities of the persistent chains for a training
checkpoint, else of 100 fresh chains after 1,000 sweeps). A DBM with label units also
gets its own test error, ``argmax q(y | v)`` under mean field on the greyscale images.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import dbn
from dbn.cli.args import ArgumentParser, run_cli
from dbn.cli.loglik import BINARIZE_SEEDS, binarize
from dbn.cli.runs import RunDirectory
from dbn.io import sha256_file
from dbn.models import DBM
from dbn.training import DBMTrainer
from dbn.utils import new_generator
from dbn.visual import save_image_grid

SCRIPT = "dbm_report"


def read_model(path: Path) -> tuple[DBM, list[torch.Tensor] | None, dict]:
    """The DBM in ``path`` (a saved model, or the one in a ``dbn-dbm`` training
    checkpoint, with its persistent chains and epoch)."""
    model = dbn.load(path, expect=DBM)  # a training checkpoint holds its model too
    if path.suffix == ".pt":
        state = DBMTrainer.read_checkpoint(path)
        return model, state["chains"], {"source": str(path), "joint_epochs": state["epoch"]}
    return model, None, {"source": str(path), "sha256": sha256_file(path)}


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="model.safetensors or dbm-state.pt")
    parser.add_argument("--out", required=True, help="folder for the report")
    parser.add_argument("--betas", type=int, default=20000, help="AIS temperatures (20000)")
    parser.add_argument("--runs", type=int, default=100, help="AIS runs (100)")
    parser.add_argument(
        "--mean-field-steps", type=int, default=50, help="updates of the bound's q (50)"
    )
    parser.add_argument("--seed", type=int, default=0, help="AIS and the samples' seed (0)")
    parser.add_argument("--data-dir", default=None, help="MNIST in torchvision's layout")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def main(args: argparse.Namespace) -> dict:
    run = RunDirectory(args.out, command=args)
    model, chains, report = read_model(args.model)
    if model.sizes[0] != 784:
        raise ValueError(f"{str(args.model)!r} models {model.sizes[0]} pixels, not MNIST's 784")
    mnist = dbn.load_mnist("hinton", data_dir=args.data_dir)
    train = binarize(mnist["train"].x, "stochastic", BINARIZE_SEEDS["train"])
    test = binarize(mnist["test"].x, "stochastic", BINARIZE_SEEDS["test"])
    started = time.perf_counter()
    ais = dbn.ais.log_partition(
        model, train, n_betas=args.betas, n_runs=args.runs, generator=new_generator(args.seed)
    )
    bounds = {
        name: dbn.ais.variational_bound(model, images, ais.log_z, args.mean_field_steps)
        for name, images in (("test", test), ("train", train))
    }
    report.update(
        log_z=ais.log_z,
        log_z_low=ais.log_z_low,
        log_z_high=ais.log_z_high,
        test_bound=bounds["test"].mean().item(),
        train_bound=bounds["train"].mean().item(),
        test_bound_standard_error=(bounds["test"].std() / len(test) ** 0.5).item(),
        ais_betas=args.betas,
        ais_runs=args.runs,
        mean_field_steps=args.mean_field_steps,
        binarized="stochastic, seeds of dbn-loglik",
        seconds=time.perf_counter() - started,
        torch=torch.__version__,
    )
    if model.n_labels:  # the model classifying by itself: argmax q(y | v), real-valued v
        predicted = model.predict_proba(mnist["test"].x).argmax(dim=1)
        report["test_label_error"] = (predicted != mnist["test"].y).double().mean().item()
    with torch.no_grad():
        if chains is not None:
            pixels = model.visible_probs(chains[1])[:100]
        else:
            pixels = model.generate(100, gibbs_steps=1000, generator=new_generator(args.seed))
    run.claim(SCRIPT, resume=False)  # the first write: every input read and checked
    run.write_config(SCRIPT, {})
    save_image_grid(pixels, run / "samples.png", n_columns=10)
    run.write_json("report.json", report)
    print(json.dumps(report, indent=2, sort_keys=True))
    return report


if __name__ == "__main__":
    run_cli(main, get_args_parser())
