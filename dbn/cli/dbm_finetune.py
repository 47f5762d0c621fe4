"""Fine-tune the classifier of Salakhutdinov & Hinton (2009) from a trained DBM: the
image and the DBM's top-layer mean-field marginals in, hidden layers started at the
DBM's weights, a softmax on top; one run per seed.

    dbn-dbm-finetune runs/dbm/model.safetensors --out runs/dbm-finetune

The mean-field features are computed once from the DBM and held fixed, as in the paper;
only the MLP trains, by a fine-tuning recipe (``hinton2006`` by default: conjugate
gradient as for the DBN rows), chosen by validation error and tested once; with
``--use-valid``, as the paper did, on all 60,000 training images for ``--epochs`` (the
count a validation run chose), the last epoch's weights tested once. Writes, per
seed, ``seed<N>-state.pt`` after every epoch (``--resume`` continues it),
``seed<N>.safetensors`` (``dbn.load`` returns the classifier: images to logits) and a
row in ``results.jsonl``; ``summary.json`` holds the mean and std of the test error.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

import dbn
from dbn.cli.args import (
    ArgumentParser,
    add_matmul_argument,
    given_options,
    positive_int,
    run_cli,
    seed_value,
)
from dbn.cli.runs import RunDirectory
from dbn.datasets import load_dataset
from dbn.io import sha256_file
from dbn.models import DBM, DBMClassifier
from dbn.recipes import FINETUNE_RECIPES, split_finetune_recipe
from dbn.training import FinetuneConfig, evaluate, finetune
from dbn.utils import check_positive, new_generator

SCRIPT = "dbm_finetune"
RESULTS = "results.jsonl"
DATASET_OF_PIXELS = {784: "mnist", 64: "digits"}


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="a DBM (dbn-dbm's model.safetensors)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument(
        "--recipe",
        default="hinton2006",
        choices=sorted(FINETUNE_RECIPES),
        help="fine-tuning recipe (hinton2006)",
    )
    parser.add_argument("--epochs", type=int, help="fine-tuning epochs (default: the recipe's)")
    parser.add_argument(
        "--seeds", type=seed_value, nargs="+", default=[0, 1, 2], help="one run per seed (0 1 2)"
    )
    parser.add_argument(
        "--mean-field-steps",
        type=positive_int,
        default=10,
        help="mean-field updates of the classifier's q(h | x) (10; Salakhutdinov's code 50)",
    )
    parser.add_argument(
        "--output-std",
        type=float,
        help="draw the output layer's initial weights and biases from N(0, std^2), as "
        "backprop.m does with 0.1 (default: weights N(0, 0.01^2), biases zero)",
    )
    parser.add_argument(
        "--use-valid",
        action="store_true",
        help="train on the training and validation images for --epochs, no selection",
    )
    add_matmul_argument(parser, "the fine-tuning")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--data-dir", default=None, help="MNIST in torchvision's layout")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def main(args: argparse.Namespace) -> dict:
    dbm = dbn.load(args.model, expect=DBM)
    if dbm.sizes[0] not in DATASET_OF_PIXELS:
        raise ValueError(
            f"{str(args.model)!r} models {dbm.sizes[0]} pixels: neither MNIST nor digits"
        )
    _, values = split_finetune_recipe(args.recipe)
    config = FinetuneConfig(**{**values, **given_options(args, ("epochs", "matmul"))})
    output = {}
    if args.output_std is not None:
        std = check_positive("output_std", args.output_std)
        output = {"output_std": std, "output_bias_std": std}
    run = RunDirectory(args.out, command=args)
    if args.resume:
        run.saved_config(SCRIPT)  # the same options and model, or refused before any write
    model_sha256 = sha256_file(args.model)
    data = load_dataset(DATASET_OF_PIXELS[dbm.sizes[0]], data_dir=args.data_dir)
    features = DBMClassifier.from_dbm(dbm, mean_field_steps=args.mean_field_steps)
    split = {name: (features.features(part.x), part.y) for name, part in data.items()}
    if args.use_valid:  # the paper's protocol: every labelled image trains, none selects
        split["train"] = tuple(
            torch.cat(parts) for parts in zip(split["train"], split["valid"], strict=True)
        )
        split["valid"] = None
    done = run.read_metrics(RESULTS) if args.resume else []
    for seed in args.seeds:
        run.state_file(f"seed{seed}-state.pt")  # a checkpoint's place holds none or a file
    run.claim(SCRIPT, args.resume)  # the first write to the run directory
    run.write_config(
        SCRIPT,
        {
            "model": str(args.model),
            "model_sha256": model_sha256,
            "recipe": args.recipe,
            "finetune": config.to_dict(),
            "seeds": args.seeds,
            "use_valid": args.use_valid,
            "mean_field_steps": args.mean_field_steps,
            "output_std": args.output_std,
        },
    )
    rows = [row for row in done if row.get("seed") in args.seeds]
    for seed in args.seeds:
        if any(row["seed"] == seed for row in rows):
            continue
        classifier = DBMClassifier.from_dbm(
            dbm, mean_field_steps=args.mean_field_steps, generator=new_generator(seed), **output
        )
        outcome = finetune(
            classifier.mlp,
            split["train"],
            split["valid"],
            config,
            generator=new_generator(seed),
            progress=not args.no_progress,
            name=f"seed {seed}",
            checkpoint_path=run / f"seed{seed}-state.pt",
            resume=True,
            validation_fraction=0.0,
        )
        _, test_error = evaluate(classifier.mlp, *split["test"])
        row = {
            "seed": seed,
            "test_error": test_error,
            # None where nothing was selected (--use-valid: the last epoch is kept)
            "best_epoch": None if args.use_valid else outcome.best_epoch,
            "valid_error": None if args.use_valid else outcome.best_valid_error,
            "seconds": outcome.seconds,
        }
        classifier.save(run / f"seed{seed}.safetensors", result=row, dbm_sha256=model_sha256)
        run.log_metrics(row, RESULTS)
        rows.append(row)
        print(f"seed {seed}: test error {100 * test_error:.2f} %")
    errors = [row["test_error"] for row in rows]
    summary = {
        "test_error_mean": statistics.mean(errors),
        "test_error_std": statistics.stdev(errors) if len(errors) > 1 else 0.0,
        "seeds": [row["seed"] for row in rows],
        "torch": torch.__version__,
    }
    run.write_json("summary.json", summary)
    run.close()
    return summary


if __name__ == "__main__":
    run_cli(main, get_args_parser())
