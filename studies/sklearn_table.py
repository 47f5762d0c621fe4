"""``DBNClassifier()`` beside ``MLPClassifier()`` on small tabular data, defaults only.

    python -m studies.sklearn_table --out results/sklearn

Three scikit-learn datasets as a user has them (digits, breast cancer, and
``make_classification(1500, 40, n_informative=10, n_classes=3, random_state=0)``), each
scored by 3-fold stratified cross-validation (shuffled, ``random_state=0``). The
contenders, called as a user calls them: ``DBNClassifier(random_state=0)`` (it scales
its inputs itself) and ``make_pipeline(StandardScaler(), MLPClassifier(random_state=0))``
(scikit-learn's advice for its MLP). Each fold's fit-and-predict time is measured
(``time.perf_counter``), the contenders interleaved fold by fold. Writes
``results.csv`` (one row per dataset, contender and fold) as it goes; ``--resume``
skips the rows written, and ``studies/results.py`` renders the table.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dbn.cli.args import ArgumentParser, run_cli
from dbn.cli.device import machine
from dbn.io import atomic_write
from dbn.sklearn import DBNClassifier

FIELDS = ("dataset", "contender", "fold", "accuracy", "seconds")
DATASETS = {
    "digits": lambda: load_digits(return_X_y=True),
    "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
    "make_classification": lambda: make_classification(
        1500, 40, n_informative=10, n_classes=3, random_state=0
    ),
}
CONTENDERS = {
    "DBNClassifier()": lambda: DBNClassifier(random_state=0),
    "StandardScaler + MLPClassifier()": lambda: make_pipeline(
        StandardScaler(), MLPClassifier(random_state=0)
    ),
}


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/sklearn", help="directory (runs/sklearn)")
    parser.add_argument("--resume", action="store_true", help="skip the rows already written")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def main(args: argparse.Namespace) -> list[dict]:
    out = Path(args.out)
    results = out / "results.csv"
    rows = read_rows(results) if args.resume else []
    if results.exists() and not args.resume:
        raise ValueError(f"{str(results)!r} exists: --resume continues it, or choose --out")
    done = {(row["dataset"], row["contender"], int(row["fold"])) for row in rows}
    out.mkdir(parents=True, exist_ok=True)
    description = json.dumps(machine(torch.device("cpu")), indent=2) + "\n"
    atomic_write(out / "machine.json", lambda temp: temp.write_text(description))
    for dataset, load in DATASETS.items():
        x, y = load()
        folds = StratifiedKFold(3, shuffle=True, random_state=0).split(x, y)
        for fold, (train, test) in enumerate(folds):
            for contender, build in CONTENDERS.items():
                if (dataset, contender, fold) in done:
                    continue
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)  # MLP's 200 epochs
                    model = build().fit(x[train], y[train])
                    accuracy = float(np.mean(model.predict(x[test]) == y[test]))
                seconds = time.perf_counter() - started
                row = dict(zip(FIELDS, (dataset, contender, fold, accuracy, seconds), strict=True))
                rows.append(row)
                print(f"{dataset:20s} {contender:34s} fold {fold}: {accuracy:.4f}, {seconds:.1f} s")
                atomic_write(results, lambda temp: _write(temp, rows))
    return rows


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, FIELDS)
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
