"""The library's defaults on a user's own data: what a first hour gets without tuning.

    python -m studies.first_hour --out results/first-hour/seeds0-2

scikit-learn's 8x8 digits as a NumPy array (pixels / 16, float64, as a user has them),
split 70/30 stratified by class for each seed; every contender trained with the
library's defaults and nothing else:

- ``dbn``: ``DBN([64, 100, 50]).pretrain(X)``, ``dbn.to_mlp``, ``dbn.finetune(model,
  (X, y))`` (which holds out 10 % of the training data to keep the best epoch);
- ``he-relu`` and ``xavier-sigmoid``: the same 64-100-50-10 net built by
  ``dbn.models.build_mlp`` with that initialisation, then the same ``dbn.finetune``;
- ``DBNClassifier()``: the scikit-learn estimator with its defaults.

Writes ``results.csv`` into a run directory of :class:`dbn.cli.RunDirectory`'s contract
(``config.json`` first, a lock, ``--resume`` compared with the recorded command): one
row per contender and seed (test error), as it goes; ``--resume`` skips the seeds done.

``--select`` is how ``DBNClassifier``'s defaults were chosen, without the test images:
for each split seed (give seeds other than the reported ones), every candidate in
``CANDIDATES`` is scored by 3-fold stratified cross-validation on the split's training
part alone; one row per candidate, seed and fold (validation error) in
``selection.csv``, resumable.

    python -m studies.first_hour --select --seeds 100 101 102 \
        --out results/first-hour/selection
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, train_test_split

import dbn
from dbn.cli import ArgumentParser, RunDirectory, run_cli
from dbn.cli.args import seed_value
from dbn.models import build_mlp
from dbn.sklearn import DBNClassifier

SCRIPT = "first_hour"
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
TEST_FIELDS = ["contender", "seed", "test_error"]


def select(x, y, seeds: list[int], run: RunDirectory) -> None:
    """Cross-validate every candidate on the training part of each split into the run's
    ``selection.csv``; rows already in it are kept and skipped."""
    rows = run.read_csv("selection.csv")
    done = {(row["candidate"], row["seed"], row["fold"]) for row in rows}
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
                rows.append(dict(zip(SELECTION_FIELDS, (name, seed, fold, error), strict=True)))
                run.write_csv("selection.csv", rows, SELECTION_FIELDS)
                print(
                    f"seed {seed} fold {fold} {name:16s} valid error {100 * error:.2f} %",
                    flush=True,
                )


def score_on_test(x, y, seeds: list[int], run: RunDirectory) -> None:
    """Every contender's test error for each split seed into the run's ``results.csv``;
    the seeds already in it are kept and skipped."""
    rows = run.read_csv("results.csv")
    done = {row["seed"] for row in rows}
    for seed in seeds:
        if seed in done:
            continue
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=0.3, stratify=y, random_state=seed
        )
        for name, predict in contenders(x_train, y_train, seed).items():
            with torch.no_grad():
                predicted = np.asarray(predict(x_test))
            if predicted.ndim == 2:
                predicted = predicted.argmax(1)
            error = float(np.mean(predicted != y_test))
            rows.append(dict(zip(TEST_FIELDS, (name, seed, error), strict=True)))
            print(f"seed {seed} {name:16s} test error {100 * error:.2f} %", flush=True)
        run.write_csv("results.csv", rows, TEST_FIELDS)  # a seed's rows together


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds", type=seed_value, nargs="+", default=[0, 1, 2], help="one split per seed (0 1 2)"
    )
    parser.add_argument("--out", default="runs/first-hour", help="run directory (runs/first-hour)")
    parser.add_argument(
        "--select",
        action="store_true",
        help="cross-validate CANDIDATES on the training parts instead (no test images)",
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def main(args: argparse.Namespace) -> None:
    run = RunDirectory(args.out, command=args)
    run.claim(SCRIPT, args.resume)  # the first write to the run directory
    if run.saved_config(SCRIPT) is None:
        candidates = CANDIDATES if args.select else {}
        run.write_config(SCRIPT, {"sizes": SIZES, "folds": FOLDS, "candidates": candidates})
    x, y = load_digits(return_X_y=True)
    x = x / 16.0  # float64, as a user's NumPy data would be
    (select if args.select else score_on_test)(x, y, args.seeds, run)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
