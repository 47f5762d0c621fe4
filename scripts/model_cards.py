"""Write each shipped model's card into its own safetensors metadata, and its checksum.

    python scripts/model_cards.py            # rewrite the cards and pretrained/SHA256SUMS

A card says what made the file (the command or recipe), the data it saw, and its
measured figures: the classifiers' MNIST test error and the DBN's test reconstruction
errors are measured here, on the file's own weights; an RBM's log-likelihood is read
from its committed ``scripts/loglik.py`` result under ``results/loglik/``, since AIS
takes minutes. The tensors are not touched; only the metadata (key ``dbn``, entry
``extra.card``) and thus the file's bytes change. ``scripts/results.py`` renders the
shipped-models table from these cards, and ``tests/test_pretrained.py`` checks every
file against ``pretrained/SHA256SUMS`` and re-measures the classifiers.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

import torch
from studies.cli import ArgumentParser, run_cli

import dbn
from dbn.io import safe_load, sha256_file
from dbn.models import save_classifier
from dbn.training.monitors import layer_reconstruction_errors

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "pretrained"
SUMS = PRETRAINED / "SHA256SUMS"
MNIST_TEST = "the 10,000 MNIST test images"

# What made each file and what it saw: the commands as pretrained/README.md records them.
CARDS = {
    "mnist-784-500-500-2000.safetensors": dict(
        made_by="python scripts/pretrain.py --recipe hinton2006 --use-valid --weight-std 0.01 "
        "--init-visible-bias (CD-1, 50 epochs a layer; the recipe as it was before it took "
        "rbm.m's initial weights)",
        data="all 60,000 MNIST training images, without labels",
    ),
    "mnist-dbn-hinton2006-classifier.safetensors": dict(
        made_by="python scripts/finetune.py --init dbn --checkpoint "
        "pretrained/mnist-784-500-500-2000.safetensors --recipe hinton2006 --use-valid --seed 2",
        data="all 60,000 labelled MNIST training images",
    ),
    "mnist-dbn-dropout2014-classifier.safetensors": dict(
        made_by="python scripts/finetune.py --init dbn --checkpoint "
        "pretrained/mnist-784-500-500-2000.safetensors --recipe dropout2014 --use-valid "
        "--seed 1 (with the options its metadata's run entry records)",
        data="all 60,000 labelled MNIST training images",
    ),
    "mnist-rbm-500-pcd1-2000-lr001.safetensors": dict(loglik="pcdk1-2000epochs-lr001"),
    "mnist-rbm-500-pcd1-1000-lr001-60k.safetensors": dict(loglik="pcdk1-1000epochs-lr001-60k"),
    "mnist-rbm-500-cd1to25.safetensors": dict(loglik="cdk1kfinal25"),
}


def _extra(blob: dict) -> dict:
    """The file's ``extra`` entry as a dict (older files stored it as a Python literal)."""
    extra = blob.get("extra") or {}
    return ast.literal_eval(extra) if isinstance(extra, str) else dict(extra)


def card_of(path: Path, blob: dict, model: torch.nn.Module, mnist: dict) -> dict:
    """The card of ``path`` (read as ``blob`` and ``model``): its command, its data and
    its figures, measured or read."""
    extra, wanted = _extra(blob), CARDS[path.name]
    if "loglik" in wanted:
        result_path = ROOT / "results" / "loglik" / f"{wanted['loglik']}-result.json"
        result = json.loads(result_path.read_text())
        return dict(
            made_by=extra["trained_by"],
            data=extra["training_images"],
            figures={
                "test_log_likelihood_nats": result["test_log_likelihood"],
                "train_log_likelihood_nats": result["train_log_likelihood"],
                "log_z": result["log_z"],
            },
            figures_from=f"{result_path.relative_to(ROOT)} (AIS, {MNIST_TEST})",
        )
    test = mnist["test"]
    if isinstance(model, dbn.DBN):
        errors = layer_reconstruction_errors(model.layers, test.x)
        figures = {f"layer{i + 1}_test_reconstruction_error": e for i, e in enumerate(errors)}
    else:
        figures = {"test_error": dbn.evaluate(model, test.x, test.y)[1]}
    return dict(wanted, figures=figures, figures_from=f"measured on {MNIST_TEST}")


def rewrite(path: Path, blob: dict, model: torch.nn.Module, card: dict) -> None:
    """Save ``path`` (read as ``blob`` and ``model``) again with ``card`` in its metadata;
    the tensors are unchanged."""
    extra = {**_extra(blob), "card": card}
    if blob["kind"] == "classifier":
        save_classifier(model, path, **blob["config"], **extra)
    else:
        model.save(path, **extra)
    reloaded = dbn.load(path)
    for before, after in zip(
        model.state_dict().values(), reloaded.state_dict().values(), strict=True
    ):
        if not torch.equal(before, after):
            raise RuntimeError(f"{path} changed its tensors on rewrite")


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST in torchvision's layout")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def main(args: argparse.Namespace) -> None:
    mnist = dbn.load_mnist("hinton", data_dir=args.data_dir)
    paths = [PRETRAINED / name for name in CARDS]
    files = {path: (safe_load(path), dbn.load(path)) for path in paths}
    cards = {path: card_of(path, *files[path], mnist) for path in paths}  # before writing
    for path, card in cards.items():
        rewrite(path, *files[path], card)
        print(f"wrote the card of {path.relative_to(ROOT)}")
    SUMS.write_text("".join(f"{sha256_file(path)}  {path.name}\n" for path in paths))
    print(f"wrote {SUMS.relative_to(ROOT)}")


if __name__ == "__main__":
    run_cli(main, get_args_parser())
