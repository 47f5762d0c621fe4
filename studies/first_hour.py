"""The library's defaults on a user's own data: what a first hour gets without tuning.

    python -m studies.first_hour --out results/first-hour/results.csv

scikit-learn's 8x8 digits as a NumPy array (pixels / 16, float64, as a user has them),
split 70/30 stratified by class for each seed; every contender trained with the
library's defaults and nothing else:

- ``dbn``: ``DBN([64, 100, 50]).pretrain(X)``, ``dbn.to_mlp``, ``dbn.finetune(model,
  (X, y))`` (which holds out 10 % of the training data to keep the best epoch);
- ``he-relu`` and ``xavier-sigmoid``: the same 64-100-50-10 net built by
  ``dbn.models.build_mlp`` with that initialisation, then the same ``dbn.finetune``;
- ``DBNClassifier()``: the scikit-learn estimator with its defaults.

Writes one row per contender and seed (test error), as it goes.

``--select`` is how ``DBNClassifier``'s defaults were chosen, without the test images:
for each split seed (give seeds other than the reported ones), every candidate in
``CANDIDATES`` is scored by 3-fold stratified cross-validation on the split's training
part alone; one row per candidate, seed and fold (validation error), resumable.

    python -m studies.first_hour --select --seeds 100 101 102 \
        --out results/first-hour/selection.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, train_test_split

import dbn
from dbn.cli.args import ArgumentParser, run_cli, seed_value
from dbn.io import atomic_write
from dbn.models import build_mlp
from dbn.sklearn import DBNClassifier

SIZES = [64, 100, 50]
FOLDS = 3

# DBNClassifier options cross-validated by --select; "defaults" is the estimator as it
# stands. Learning rates because the exported net is sigmoid (slow under lr 0.1 from
# small pretrained weights), the rest because they set how much each update learns.
CANDIDATES: dict[str, dict] = {
    "defaults": {},
    "lr0.3": {"learning_rate": 0.3},
    "lr0.5": {"learning_rate": 0.5},
    "lr1.0": {"learning_rate": 1.0},
    "adam": {"optimizer": "adam", "learning_rate": 0.001},
    "pretrain-lr0.05": {"pretrain_lr": 0.05},
    "batch50": {"batch_size": 50},
    "sizes500": {"hidden_layer_sizes": (500,)},
    "sizes512-256": {"hidden_layer_sizes": (512, 256)},
    "pcd": {"pretrain_method": "pcd"},
    # added after the first seed's folds put the wider layers ahead
    "sizes500-500": {"hidden_layer_sizes": (500, 500)},
    "sizes1000": {"hidden_layer_sizes": (1000,)},
    "sizes500-lr1.0": {"hidden_layer_sizes": (500,), "learning_rate": 1.0},
    # then, around the leader: all training images (the last epoch kept), other rates
    "sizes500-no-holdout": {"hidden_layer_sizes": (500,), "validation_fraction": 0.0},
    "sizes500-lr0.3": {"hidden_layer_sizes": (500,), "learning_rate": 0.3},
}


def contenders(x_train, y_train, seed: int) -> dict:
    """Each contender's fitted predictor: a function from images to labels."""
    torch.manual_seed(seed)
    stack = dbn.DBN(SIZES)
    stack.pretrain(x_train, progress=False)
    networks = {
        "dbn": dbn.to_mlp(stack, num_classes=10),
        "he-relu": build_mlp(SIZES, 10, "relu", init="he_normal"),
        "xavier-sigmoid": build_mlp(SIZES, 10, "sigmoid", init="xavier_uniform"),
    }
    fitted = {}
    for name, model in networks.items():
        dbn.finetune(model, (x_train, y_train), progress=False)
        fitted[name] = lambda x, model=model: model(torch.as_tensor(x, dtype=torch.float32))
    classifier = DBNClassifier(random_state=seed).fit(x_train, y_train)
    fitted["DBNClassifier"] = classifier.predict
    return fitted


SELECTION_FIELDS = ["candidate", "seed", "fold", "valid_error"]


def write_rows(out: Path, fields: list[str], rows: list[list]) -> None:
    """The whole CSV, written atomically: a kill or a full disk leaves the last file."""

    def write(temp: Path) -> None:
        with temp.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(fields)
            writer.writerows(rows)

    atomic_write(out, write)


def read_rows(out: Path, fields: list[str]) -> list[list]:
    """The rows of a CSV that :func:`write_rows` wrote; a cut or edited one is refused."""
    if not out.exists():
        return []
    with out.open(newline="") as handle:
        table = list(csv.reader(handle))
    if not table or table[0] != fields or any(len(row) != len(fields) for row in table[1:]):
        raise ValueError(f"{str(out)!r} is not a results file of this program (cut or edited)")
    return table[1:]


def select(x, y, seeds: list[int], out: Path) -> None:
    """Cross-validate every candidate on the training part of each split; rows already
    in ``out`` are kept and skipped."""
    rows = read_rows(out, SELECTION_FIELDS)
    done = {(name, int(seed), int(fold)) for name, seed, fold, _ in rows}
    for seed in seeds:
        x_train, _, y_train, _ = train_test_split(
            x, y, test_size=0.3, stratify=y, random_state=seed
        )
        folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
        for fold, (fit, held) in enumerate(folds.split(x_train, y_train)):
            for name, options in CANDIDATES.items():
                if (name, seed, fold) in done:
                    continue
                classifier = DBNClassifier(random_state=seed, **options)
                classifier.fit(x_train[fit], y_train[fit])
                error = float(np.mean(classifier.predict(x_train[held]) != y_train[held]))
                rows.append([name, seed, fold, error])
                write_rows(out, SELECTION_FIELDS, rows)
                print(
                    f"seed {seed} fold {fold} {name:16s} valid error {100 * error:.2f} %",
                    flush=True,
                )


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds", type=seed_value, nargs="+", default=[0, 1, 2], help="one split per seed (0 1 2)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/first-hour/results.csv"),
        help="the results file, written as it goes (runs/first-hour/results.csv)",
    )
    parser.add_argument(
        "--select",
        action="store_true",
        help="cross-validate CANDIDATES on the training parts instead (no test images)",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def main(args: argparse.Namespace) -> None:
    x, y = load_digits(return_X_y=True)
    x = x / 16.0  # float64, as a user's NumPy data would be
    if args.select:
        select(x, y, args.seeds, args.out)
        return
    rows: list[list] = []
    for seed in args.seeds:
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=0.3, stratify=y, random_state=seed
        )
        for name, predict in contenders(x_train, y_train, seed).items():
            with torch.no_grad():
                predicted = np.asarray(predict(x_test))
            if predicted.ndim == 2:
                predicted = predicted.argmax(1)
            error = float(np.mean(predicted != y_test))
            rows.append([name, seed, error])
            write_rows(args.out, ["contender", "seed", "test_error"], rows)
            print(f"seed {seed} {name:16s} test error {100 * error:.2f} %", flush=True)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
