"""``DBNClassifier()`` beside ``MLPClassifier()`` on small tabular data, defaults only.

    python -m studies.sklearn_table --out results/sklearn

Three scikit-learn datasets as a user has them (digits, breast cancer, and
``make_classification(1500, 40, n_informative=10, n_classes=3, random_state=0)``), each
scored by 3-fold stratified cross-validation (shuffled, ``random_state=0``). The
contenders, called as a user calls them: ``DBNClassifier(random_state=0)`` (it scales
its inputs itself) and ``make_pipeline(StandardScaler(), MLPClassifier(random_state=0))``
(scikit-learn's advice for its MLP). Each fold's fit-and-predict time is measured
(``time.perf_counter``), the contenders interleaved fold by fold. A run directory of
:class:`dbn.cli.RunDirectory`'s contract: ``config.json``, ``machine.json`` and
``results.csv`` (one row per dataset, contender and fold), written as it goes;
``--resume`` skips the rows written, and ``studies/results.py`` renders the table.

``--select`` is how ``DBNClassifier``'s defaults were chosen, away from the table's
folds: each candidate in ``CANDIDATES`` (and the MLP, for reference) is scored on
other folds (``random_state=1``) and another ``make_classification`` draw
(``random_state=1``), into ``selection.csv``.

    python -m studies.sklearn_table --select --out results/sklearn/selection
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dbn.cli import ArgumentParser, RunDirectory, run_cli
from dbn.cli.device import machine
from dbn.sklearn import DBNClassifier
from dbn.training import budget_epochs

SCRIPT = "sklearn_table"

FIELDS = ("dataset", "contender", "fold", "accuracy", "seconds")
# Each data set drawn with a seed (the table's 0, the selection's 1; only the synthetic
# one depends on it)
DATASETS = {
    "digits": lambda seed: load_digits(return_X_y=True),
    "breast_cancer": lambda seed: load_breast_cancer(return_X_y=True),
    "make_classification": lambda seed: make_classification(
        1500, 40, n_informative=10, n_classes=3, random_state=seed
    ),
}
MLP = "StandardScaler + MLPClassifier()"
# Each contender built for a fold of n training rows
CONTENDERS = {
    "DBNClassifier()": lambda n: DBNClassifier(random_state=0),
    MLP: lambda n: make_pipeline(StandardScaler(), MLPClassifier(random_state=0)),
}


def _budgeted(sizes: tuple[int, ...], pretrain: tuple[int, int], finetune: tuple[int, int]):
    """A DBNClassifier whose epochs give a fold of n rows the (updates, epochs) budgets."""
    return lambda n: DBNClassifier(
        sizes,
        pretrain_epochs=budget_epochs(n, 100, pretrain),
        epochs=budget_epochs(n, 100, finetune),
        random_state=0,
    )


# The candidates for DBNClassifier's defaults (visible units "auto" in each): the former
# defaults, then widths and update budgets around the size MLPClassifier uses.
CANDIDATES = {
    "(500,) 5000/3000 updates (former)": _budgeted((500,), (5000, 10), (3000, 30)),
    "(500,) 600/1200": _budgeted((500,), (600, 10), (1200, 30)),
    "(100,) 5000/3000": _budgeted((100,), (5000, 10), (3000, 30)),
    "(100,) 600/1200": _budgeted((100,), (600, 10), (1200, 30)),
    "(100,) 300/600": _budgeted((100,), (300, 10), (600, 30)),
    MLP: CONTENDERS[MLP],
}


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/sklearn", help="directory (runs/sklearn)")
    parser.add_argument(
        "--select",
        action="store_true",
        help="score CANDIDATES on the selection's folds into selection.csv instead",
    )
    parser.add_argument("--resume", action="store_true", help="skip the rows already written")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def main(args: argparse.Namespace) -> list[dict]:
    run = RunDirectory(args.out, command=args)
    run.claim(SCRIPT, args.resume)  # the first write to the run directory
    seed, contenders = (1, CANDIDATES) if args.select else (0, CONTENDERS)
    results = "selection.csv" if args.select else "results.csv"
    if run.saved_config(SCRIPT) is None:
        record = {"datasets": list(DATASETS), "contenders": list(contenders), "seed": seed}
        run.write_config(SCRIPT, record)
    rows = run.read_csv(results)
    done = {(row["dataset"], row["contender"], row["fold"]) for row in rows}
    run.write_json("machine.json", machine(torch.device("cpu")))
    for dataset, load in DATASETS.items():
        x, y = load(seed)
        folds = StratifiedKFold(3, shuffle=True, random_state=seed).split(x, y)
        for fold, (train, test) in enumerate(folds):
            for contender, build in contenders.items():
                if (dataset, contender, fold) in done:
                    continue
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)  # MLP's 200 epochs
                    model = build(len(train)).fit(x[train], y[train])
                    accuracy = float(np.mean(model.predict(x[test]) == y[test]))
                seconds = time.perf_counter() - started
                row = dict(zip(FIELDS, (dataset, contender, fold, accuracy, seconds), strict=True))
                rows.append(row)
                print(f"{dataset:20s} {contender:34s} fold {fold}: {accuracy:.4f}, {seconds:.1f} s")
                run.write_csv(results, rows, FIELDS)
    return rows


if __name__ == "__main__":
    run_cli(main, get_args_parser())
