"""Write each shipped model's card into its own safetensors metadata, and its checksum.

    python -m studies.model_cards            # rewrite the cards and pretrained/SHA256SUMS

A card says what made the file (the command or recipe), the data it saw, and its
measured figures: the classifiers' MNIST test error and the DBN's test reconstruction
errors are measured here, on the file's own weights; an RBM's log-likelihood is read
from its committed ``scripts/loglik.py`` result under ``results/loglik/``, since AIS
takes minutes. The tensors are not touched; only the metadata (key ``dbn``, entry
``extra.card``) and thus the file's bytes change. ``studies/results.py`` renders the
shipped-models table from these cards, and ``tests/test_pretrained.py`` checks every
file against ``pretrained/SHA256SUMS`` and re-measures the classifiers.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

import torch

import dbn
from dbn.cli.args import ArgumentParser, run_cli
from dbn.io import safe_load, sha256_file
from dbn.models import save_classifier
from dbn.training.monitors import layer_reconstruction_errors

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "pretrained"
SUMS = PRETRAINED / "SHA256SUMS"
MNIST_TEST = "the 10,000 MNIST test images"
MACHINE = "the project's 2-core AMD EPYC VM, CPU only, one thread, beside other work"

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
    "mnist-dbn-updown.safetensors": dict(
        made_by="python scripts/updown.py --out runs/updown-mnist-all60k --no-progress "
        "--start-from runs/updown-mnist-lr0001/model.safetensors --use-valid --epochs 59 "
        "--lr 0.001 --cd-steps 10 (the paper's last 59 epochs on all 60,000 images), after "
        "python scripts/updown.py --out runs/updown-mnist-lr0001 --no-progress "
        "--eval-every 5 --start-from runs/updown-mnist/greedy.safetensors --lr 0.001 "
        "(300 epochs, resumed with --resume), greedy model from python scripts/updown.py "
        "--out runs/updown-mnist --no-progress --eval-every 5",
        data="the 50,000 MNIST training images of Hinton's split with their labels for "
        "greedy pretraining and 300 up-down epochs, then all 60,000 for 59",
        machine="the project's 2-core VMs, CPU only, one thread, beside other work (the "
        "earlier stages as recorded then, AMD EPYC; the last 59 epochs an Intel Xeon)",
        report="results/updown/all60k/report.json",
    ),
    "mnist-dbm-784-500-1000.safetensors": dict(
        made_by="python scripts/dbm.py --out runs/dbm-mnist-e300 --start-from "
        "runs/dbm-mnist/greedy.safetensors --no-progress (the recipe's 300 joint epochs; "
        "interrupted after epoch 92 and continued with --resume); greedy model from python "
        "scripts/dbm.py --out runs/dbm-mnist --pretrain-epochs 50 50 --epochs 200 (stopped "
        "after its greedy stage)",
        data="the 50,000 MNIST training images of Hinton's split, without labels",
        machine="the project's 2-core Intel Xeon VM, CPU only, beside other work (joint "
        "training on one thread to epoch 92, then two)",
        report="results/dbm/joint300/report-100000-betas.json",
    ),
    "mnist-dbm-784-500-1000-classifier.safetensors": dict(
        made_by="python scripts/dbm_finetune.py runs/dbm-mnist-e300/model.safetensors "
        "--out runs/dbm-e300-finetune60k --epochs 13 --use-valid --no-progress (seed 0 of "
        "0 1 2; the epochs chosen on the 50,000/10,000 split by --out "
        "runs/dbm-e300-finetune40 --epochs 40 --seeds 0)",
        data="all 60,000 labelled MNIST training images (the paper's protocol)",
        machine="the project's 2-core Intel Xeon VM, CPU only, one thread, beside other work",
    ),
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
    if "report" in wanted:  # a generative model: its scored run's figures
        report = json.loads((ROOT / wanted["report"]).read_text())
        if isinstance(model, dbn.models.GenerativeDBN):
            figures = {
                "test_error": model.error_rate(test.x, test.y),
                "samples_recognised": report["samples_recognised"],
            }
        else:
            names = ("log_z", "log_z_low", "log_z_high", "test_bound", "train_bound")
            figures = {name: report[name] for name in names}
        card = {key: value for key, value in wanted.items() if key != "report"}
        card.update(_training_seconds(extra))
        return dict(card, figures=figures, figures_from=f"{wanted['report']}; {MNIST_TEST}")
    if isinstance(model, dbn.DBN):
        errors = layer_reconstruction_errors(model.layers, test.x)
        figures = {f"layer{i + 1}_test_reconstruction_error": e for i, e in enumerate(errors)}
    else:
        figures = {"test_error": dbn.evaluate(model, test.x, test.y)[1]}
    card = dict(wanted, **_training_seconds(extra))
    return dict(card, figures=figures, figures_from=f"measured on {MNIST_TEST}")


def _training_seconds(extra: dict) -> dict:
    """The training time a script recorded in the file, if it did."""
    result = extra.get("result") or {}
    seconds = result.get("seconds_this_process", result.get("seconds"))
    return {} if seconds is None else {"training_seconds": seconds}


def rewrite(path: Path, blob: dict, model: torch.nn.Module, card: dict) -> None:
    """Save ``path`` (read as ``blob`` and ``model``) again with ``card`` in its metadata;
    the tensors are unchanged."""
    extra = {**_extra(blob), "card": card}
    if blob["kind"] == "classifier":  # a plain nn.Sequential has no save of its own
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
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="the shipped files whose cards to write (all)"
    )
    parser.add_argument("--data-dir", default=None, help="MNIST in torchvision's layout")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def main(args: argparse.Namespace) -> None:
    mnist = dbn.load_mnist("hinton", data_dir=args.data_dir)
    unknown = sorted(set(args.names) - set(CARDS))
    if unknown:
        raise ValueError(f"no card is defined for {unknown}; the shipped files: {list(CARDS)}")
    paths = [PRETRAINED / name for name in (args.names or CARDS)]
    files = {path: (safe_load(path), dbn.load(path)) for path in paths}
    cards = {path: card_of(path, *files[path], mnist) for path in paths}  # before writing
    for path, card in cards.items():
        rewrite(path, *files[path], card)
        print(f"wrote the card of {path.relative_to(ROOT)}")
    shipped = sorted(PRETRAINED.glob("*.safetensors"))
    SUMS.write_text("".join(f"{sha256_file(path)}  {path.name}\n" for path in shipped))
    print(f"wrote {SUMS.relative_to(ROOT)}")


if __name__ == "__main__":
    run_cli(main, get_args_parser())
