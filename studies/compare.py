"""The initialisation study: one architecture, one optimiser and budget, many initialisations.

    python -m studies.compare --preset quick                 # what `make demo` runs
    python -m studies.compare --preset hinton2006            # from the shipped checkpoint
    python -m studies.compare --preset digits --out runs/cmp # seconds; used by the tests

Writes results.csv (one row per run), table.md and table.csv (mean ± std over seeds),
curves.png (training loss and validation error of every initialisation) and
init_stats.png (per-layer activations and gradients at the start of training).
"""

from __future__ import annotations

import argparse
import math
import statistics
from dataclasses import asdict, dataclass, field, replace

import torch

from dbn import DBN, load
from dbn import init as initializers
from dbn.cli.args import (
    ArgumentParser,
    add_common_arguments,
    add_tensorboard_argument,
    given_options,
    run_cli,
)
from dbn.cli.device import machine, resolve_device
from dbn.cli.experiment import Classifier, Refit, run_experiment
from dbn.cli.runs import RunDirectory
from dbn.datasets import DataSplit, load_dataset
from dbn.models import ACTIVATIONS
from dbn.models.export import make_classifier
from dbn.optim import OPTIMIZERS
from dbn.recipes import PRETRAIN_RECIPES, recipe_train_config, split_finetune_recipe
from dbn.tensorboard import TensorBoard
from dbn.training import PRETRAIN_BUDGET, TrainingDivergedError
from dbn.training import budget_epochs as epochs_for_updates
from dbn.training.finetuning import FinetuneConfig
from dbn.utils import SUBSET_SEED_STRIDE, check_fraction, check_int, check_positive, new_generator
from studies.init_stats import initial_statistics
from studies.labels import (
    LOGREG_FEATURES,
    balanced_subset,
    budget_epochs,
    fit_logistic_regression,
    validation_interval,
)
from studies.notes import NOTES_PRINTED, depth_statistics, synthetic_study
from studies.plots import (
    plot_comparison,
    plot_depth,
    plot_init_stats,
    plot_labels,
    plot_notes_losses,
)
from studies.presets import COMPARE_PRESETS

SCRIPT = "compare"
# The study notes' small experiments, run by their own code path (no DBN, no MNIST).
NOTES_STUDIES = ("notes-synthetic", "notes-depth")
# What identifies one fine-tuning run of the study, and what it measured (a row of
# results.csv).
RUN_KEYS = ("init", "activation", "labels", "lr", "lr_choice", "seed")
RESULT_KEYS = ("test_error", "test_loss", "best_epoch", "best_valid_error", "seconds")
# The DBN initialisations: each names how its DBN is pretrained.
DBN_INITS = {"dbn-cd": "cd", "dbn-recon": "recon"}
# The frozen-features baseline: logistic regression, its inverse L2 strength C chosen
# from this grid on validation as the networks choose their learning rate.
LOGREG_C_GRID = (0.01, 0.1, 1.0, 10.0)
# What a run that diverged records: no error rate, and never the best validation score.
DIVERGED = dict(
    test_error=float("nan"),
    test_loss=float("nan"),
    best_epoch=0,
    best_valid_error=float("inf"),
    seconds=float("nan"),
)
# Label budgets above this get only the first ``seeds_above_1000`` seeds.
FEW_LABELS = 1000
DBN_CONTENDER = "dbn-cd:sigmoid"


@dataclass
class CompareConfig:
    preset: str = "quick"
    pretrain_recipe: str = "quick"
    inits: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    train_size: int | None = None
    checkpoint: str | None = None
    recon_checkpoint: str | None = None
    lr_grid: list[float] | None = None
    shared_lr: bool = True
    dropout: float = 0.0
    input_dropout: float = 0.0
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    # the fine-tuning protocol of a paper (dbn.recipes.FINETUNE_RECIPES), if any
    finetune_recipe: str | None = None
    # select, then refit: seed 0's run at the chosen lr picks the epochs on validation,
    # then every seed trains afresh on train + valid for that many epochs
    refit: bool = False
    # the label-budget study (all None/0: every training image is labelled)
    label_sizes: list[int | None] | None = None
    seeds_above_1000: int | None = None
    valid_size: int | None = None
    min_examples: int = 0
    validate_examples: int = 0
    patience: int | None = None
    pretrain_on_valid: bool = False
    # pretrain for the library's default budget of updates (dbn.DBN.pretrain without
    # epochs) instead of the recipe's epochs: the digits preset, whose recipe's 10
    # epochs are 130 updates
    pretrain_budget: bool = False

    def __post_init__(self) -> None:
        for spec in self.inits:
            name, _, activation = spec.partition(":")
            if name == "logreg":
                if activation not in LOGREG_FEATURES:
                    raise ValueError(
                        f"{spec!r}: logistic regression reads one of "
                        f"{', '.join(LOGREG_FEATURES)}, e.g. logreg:pixels"
                    )
                continue
            if activation not in ACTIVATIONS:
                raise ValueError(
                    f"init {spec!r} must look like NAME:ACTIVATION, e.g. he_normal:relu"
                )
            if name not in DBN_INITS and name not in initializers.names():
                raise ValueError(f"unknown initialisation {name!r} in {spec!r}")
        if not self.seeds:
            raise ValueError("at least one seed is needed")

        if self.train_size is not None:
            check_int("train_size", self.train_size)
        check_fraction("dropout", self.dropout)
        for lr in self.lr_grid or []:
            check_positive("each --lr-grid value", lr)
        if not self.shared_lr and not self.lr_grid:
            raise ValueError("a study without a shared lr needs an lr grid")
        check_fraction("input_dropout", self.input_dropout)
        if self.refit and self.label_sizes:
            raise ValueError(
                "refit trains on the validation images too, which a label budget forbids"
            )
        for n in self.label_sizes or []:
            if n is not None:
                check_int("each --labels value", n)
        if self.seeds_above_1000 is not None:
            check_int("seeds_above_1000", self.seeds_above_1000)
        if self.valid_size is not None:
            check_int("valid_size", self.valid_size)
        if self.patience is not None:
            check_int("patience", self.patience)

    def seeds_for(self, n_labels: int | None) -> list[int]:
        """The seeds of label budget ``n_labels`` (None: all labels)."""
        if self.seeds_above_1000 is None or (n_labels is not None and n_labels <= FEW_LABELS):
            return self.seeds
        return self.seeds[: self.seeds_above_1000]

    def finetune_for(self, n_train: int, lr: float) -> FinetuneConfig:
        """The fine-tuning of ``n_train`` labelled images at ``lr``: the budget grows
        to ``min_examples`` examples, validation every ``validate_examples``, and
        ``patience`` counted in validations."""
        every = validation_interval(n_train, self.validate_examples)
        return replace(
            self.finetune,
            lr=lr,
            epochs=budget_epochs(n_train, self.finetune.epochs, self.min_examples),
            validate_every=every,
            patience=None if self.patience is None else self.patience * every,
        )

    @property
    def dataset(self) -> str:
        return PRETRAIN_RECIPES[self.pretrain_recipe]["dataset"]

    @property
    def sizes(self) -> list[int]:
        return list(PRETRAIN_RECIPES[self.pretrain_recipe]["sizes"])

    def to_dict(self) -> dict:
        """Every resolved value, the pretraining recipe's included."""
        return {
            **asdict(self),
            "dataset": self.dataset,
            "sizes": self.sizes,
            "pretraining": recipe_train_config(self.pretrain_recipe).to_dict(),
        }


def describe_preset(name: str) -> str:
    """A preset in a few words, for ``--help``."""
    preset = COMPARE_PRESETS[name]
    budgets = preset.get("label_sizes")
    labels = f", label budgets {budgets}" if budgets else ""
    return (
        f"{len(preset['inits'])} inits from the {preset['pretrain_recipe']} DBN, "
        f"{len(preset['seeds'])} seeds{labels}"
    )


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description="Compare initialisations of one MLP.")
    parser.add_argument(
        "--preset",
        default="quick",
        choices=sorted([*COMPARE_PRESETS, *NOTES_STUDIES]),
        help="the study (default quick): "
        + "; ".join(f"{name}: {describe_preset(name)}" for name in sorted(COMPARE_PRESETS))
        + "; notes-synthetic and notes-depth: the study notes' small experiments",
    )
    parser.add_argument(
        "--quick", action="store_true", help="the preset's tiny variant (PRESET-quick), for CI"
    )
    parser.add_argument(
        "--inits",
        nargs="+",
        help="NAME:ACTIVATION entries, e.g. dbn-cd:sigmoid, or logreg:pixels / logreg:dbn-cd",
    )
    parser.add_argument("--seeds", type=int, nargs="+", help="one run per seed (the preset's)")
    parser.add_argument("--epochs", type=int, help="fine-tuning epochs (the preset's)")
    parser.add_argument("--lr", type=float, help="the shared learning rate")
    parser.add_argument(
        "--lr-grid",
        type=float,
        nargs="+",
        help="also pick each init's lr on validation (seed 0) from these",
    )
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help="default sgd, or the preset's")
    parser.add_argument("--dropout", type=float, help="default 0, or the preset's")
    parser.add_argument(
        "--train-size", type=int, help="training images, the first of the split (all)"
    )
    parser.add_argument(
        "--labels",
        type=label_size,
        nargs="+",
        dest="label_sizes",
        help="label budgets: fine-tune on class-balanced subsets of these sizes ('all': "
        "every training image), drawn per seed",
    )
    parser.add_argument(
        "--pretrain-recipe",
        choices=sorted(PRETRAIN_RECIPES),
        help="the DBN's recipe (its sizes are the MLP's), default the preset's",
    )
    parser.add_argument("--checkpoint", help="DBN pretrained by CD (else pretrained here)")
    parser.add_argument("--recon-checkpoint", help="DBN pretrained by reconstruction")
    parser.add_argument("--out", default=None, help="run directory (default runs/compare-PRESET)")
    parser.add_argument(
        "--resume", action="store_true", help="continue the study in --out, skipping done runs"
    )
    add_common_arguments(parser)
    add_tensorboard_argument(parser)
    return parser


def label_size(text: str) -> int | None:
    """``--labels`` values: a count, or ``all`` (None)."""
    if text == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a count nor 'all'") from None


def preset_name(args: argparse.Namespace) -> str:
    """``--preset`` with ``--quick`` applied."""
    if not args.quick:
        return args.preset
    if f"{args.preset}-quick" not in COMPARE_PRESETS:
        raise ValueError(f"preset {args.preset!r} has no quick variant")
    return f"{args.preset}-quick"


def build_config(args: argparse.Namespace) -> CompareConfig:
    """The preset's values with the typed options on top (a resumed study must use the
    same ones: :func:`main` compares them with the saved config)."""
    name = preset_name(args)
    preset = dict(COMPARE_PRESETS[name])
    overrides = (
        "epochs",
        "lr",
        "lr_grid",
        "inits",
        "seeds",
        "train_size",
        "label_sizes",
        "pretrain_recipe",
        "checkpoint",
        "recon_checkpoint",
    )
    preset.update(given_options(args, overrides))
    # a paper's fine-tuning protocol under the preset's and the typed values
    layers, protocol = split_finetune_recipe(preset.get("finetune_recipe"))
    if args.dropout is not None:
        layers["dropout"] = args.dropout
    optimizer = args.optimizer or preset.pop("optimizer", protocol.pop("optimizer", "sgd"))
    preset.pop("optimizer", None)
    protocol.update({key: preset.pop(key) for key in ("lr", "epochs") if key in preset})
    protocol["optimizer"] = optimizer
    return CompareConfig(preset=name, finetune=FinetuneConfig(**protocol), **layers, **preset)


def pretrained(config: CompareConfig, method: str, splits, device, run, progress) -> str:
    """The checkpoint for dbn-cd / dbn-recon: given, or pretrained now into the run dir."""
    given = config.checkpoint if method == "cd" else config.recon_checkpoint
    if given:
        return given
    path = run / f"dbn-{method}.pt"
    if not path.is_file():
        images = splits["train"].x
        if config.pretrain_on_valid:  # images without their labels
            images = torch.cat([images, splits["valid"].x])
        options = {"method": method}
        if config.pretrain_budget:
            batch_size = PRETRAIN_RECIPES[config.pretrain_recipe]["batch_size"]
            options["epochs"] = epochs_for_updates(len(images), batch_size, PRETRAIN_BUDGET)
        train = recipe_train_config(config.pretrain_recipe, **options)
        model = DBN(
            config.sizes,
            weight_std=PRETRAIN_RECIPES[config.pretrain_recipe]["weight_std"],
            generator=new_generator(0),
        )
        model.pretrain(images, config=train, device=device, progress=progress)
        model.save(path, recipe=config.pretrain_recipe, method=method)
    return str(path)


def write_rows(run: RunDirectory, name: str, rows: list[dict]) -> None:
    # every row's columns, in order of appearance (a resumed study may add some)
    run.write_csv(name, rows, list(dict.fromkeys(key for row in rows for key in row)))


def summarise(rows: list[dict]) -> list[dict]:
    """Mean ± std of the test error (percent) over the seeds of each contender,
    label budget and learning rate."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        key = (row["init"], row["activation"], row["labels"], row["lr_choice"], row["lr"])
        groups.setdefault(key, []).append(row)
    table = []
    for (init, activation, labels, choice, lr), members in groups.items():
        finished = [100 * m["test_error"] for m in members if math.isfinite(m["test_error"])]
        errors = finished or [math.nan]
        table.append(
            {
                "init": init,
                "activation": activation,
                "labels": labels,
                "lr": lr,
                "lr_choice": choice,
                "seeds": len(members),
                "diverged": len(members) - len(finished),
                "test_error_mean": statistics.mean(errors),
                "test_error_std": statistics.stdev(errors) if len(errors) > 1 else 0.0,
                "best_epoch_mean": statistics.mean(m["best_epoch"] for m in members),
                "seconds_mean": statistics.mean(m["seconds"] for m in members),
            }
        )
    return table


def lead_sentence(table: list[dict]) -> str | None:
    """What a label-budget table shows, in one sentence: at each budget the CD-pretrained
    DBN's mean test error against the best random initialisation's (None without both)."""
    by_budget: dict[int, dict[str, float]] = {}
    for row in table:
        spec = f"{row['init']}:{row['activation']}"
        by_budget.setdefault(row["labels"], {})[spec] = row["test_error_mean"]
    parts = []
    for labels, errors in sorted(by_budget.items()):
        randoms = {k: v for k, v in errors.items() if not k.startswith(("dbn", "logreg"))}
        if DBN_CONTENDER not in errors or not randoms:
            continue
        best = min(randoms, key=randoms.__getitem__)
        lead = randoms[best] - errors[DBN_CONTENDER]
        parts.append(
            f"{errors[DBN_CONTENDER]:.2f} % with {labels:,} labels against {randoms[best]:.2f} "
            f"% for the best random initialisation ({best}), "
            f"{'a lead' if lead > 0 else 'a deficit'} of {abs(lead):.2f} points"
        )
    if not parts:
        return None
    return (
        "What it shows: the net initialised by the DBN pretrained on unlabelled images "
        "errs " + "; ".join(parts) + ". The whole label-budget study is "
        "docs/results/labels.md, the full-data comparison docs/results/initialisation.md."
    )


def describe(config: CompareConfig, device) -> str:
    """The protocol, in one paragraph above each table."""
    optimizer = config.finetune.optimizer
    if optimizer == "sgd":  # the only optimiser that momentum applies to
        optimizer += f" (momentum {config.finetune.momentum:g})"
    text = (
        f"Test error on {config.dataset}, {'-'.join(map(str, config.sizes))}-10 MLP, "
        f"{optimizer}, batch {config.finetune.batch_size}, {config.finetune.epochs} epochs"
    )
    if config.min_examples:
        text += f" or {config.min_examples:,} examples, whichever is more"
    if config.finetune_recipe:
        text += f" ({config.finetune_recipe}'s fine-tuning protocol)"
    if config.refit:
        text += (
            "; select, then refit: seed 0 chooses the epochs (and the lr) on validation, "
            "then every seed trains afresh on train + valid for that many epochs, its "
            "last weights tested once"
        )
    else:
        text += ", the best validation epoch kept"
    if config.patience:
        text += f", stopped after {config.patience} validations without improvement"
    if config.valid_size:
        text += f"; validation: the first {config.valid_size:,} images of the validation split"
    if config.lr_grid:
        text += (
            f"; each contender's lr chosen from {config.lr_grid} (logistic regression's C "
            f"from {list(LOGREG_C_GRID)}) on validation with seed 0"
        )
    if config.label_sizes:
        text += (
            "; labelled subsets class-balanced, drawn per seed; DBNs pretrained without "
            f"labels on the {'training and validation' if config.pretrain_on_valid else 'training'}"
            " images"
        )
    seeds = f"{len(config.seeds)} seeds"
    if config.seeds_above_1000 is not None:
        seeds += f" ({config.seeds_above_1000} above {FEW_LABELS:,} labels)"
    return f"{text}; {seeds}; {device}."


def _cell(row: dict) -> str:
    """``mean ± std``, and how many seeds diverged if any did."""
    text = f"{row['test_error_mean']:.2f} ± {row['test_error_std']:.2f}"
    return text + (f" ({row['diverged']} diverged)" if row["diverged"] else "")


def markdown(table: list[dict], config: CompareConfig, device) -> str:
    """One row per contender and lr (the init study), or a contender × label budget
    grid (the label-budget study)."""
    lines = [describe(config, device), ""]
    if config.label_sizes:
        budgets = sorted({row["labels"] for row in table})
        lines += [
            "| contender | " + " | ".join(f"{n:,} labels" for n in budgets) + " |",
            "|---|" + "---|" * len(budgets),
        ]
        for spec in dict.fromkeys(f"{r['init']}:{r['activation']}" for r in table):
            mine = {r["labels"]: r for r in table if f"{r['init']}:{r['activation']}" == spec}
            cells = [_cell(mine[n]) if n in mine else "—" for n in budgets]
            lines.append(f"| {spec} | " + " | ".join(cells) + " |")
        lines += ["", "Chosen settings (lr, or C for logistic regression) per label budget:", ""]
        for spec in dict.fromkeys(f"{r['init']}:{r['activation']}" for r in table):
            chosen = [
                f"{r['labels']:,}: {r['lr']:g}"
                for r in sorted(table, key=lambda r: r["labels"])
                if f"{r['init']}:{r['activation']}" == spec
            ]
            lines.append(f"- {spec}: " + ", ".join(chosen))
        return "\n".join(lines) + "\n"
    lines += [
        "| init | activation | lr | test error % (mean ± std) | best epoch | s / run |",
        "|---|---|---|---|---|---|",
    ]
    for row in sorted(table, key=lambda r: (r["lr_choice"], r["test_error_mean"])):
        lr = f"{row['lr']:g}" + (" (tuned)" if row["lr_choice"] == "tuned" else "")
        lines.append(
            f"| {row['init']} | {row['activation']} | {lr} | {_cell(row)} | "
            f"{row['best_epoch_mean']:.1f} | "
            f"{row['seconds_mean']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def run_notes_study(args: argparse.Namespace) -> list[dict]:
    """``notes-synthetic`` and ``notes-depth``: the notes' small experiments, in seconds."""
    if args.tensorboard:
        raise ValueError(f"--tensorboard is for the fine-tuning studies, not {args.preset}")
    run = RunDirectory(args.out or f"runs/compare-{args.preset}", command=args)
    seeds = args.seeds or [0, 1, 2, 3, 4]
    if args.preset == "notes-synthetic":
        schemes = [*NOTES_PRINTED, "orthogonal", "trunc_normal", "default"]
        rows, curves = synthetic_study(schemes, seeds)
    else:
        rows = depth_statistics(["normal", "xavier_uniform", "he_uniform", "orthogonal", "default"])
    run.claim(SCRIPT, resume=False)
    run.write_config(SCRIPT, {"preset": args.preset, "seeds": seeds})
    write_rows(run, "results.csv", rows)
    if args.preset == "notes-depth":
        plot_depth(rows, run / "depth.png")
        print(f"per-layer statistics in {run.path}/results.csv and depth.png")
        return rows
    lines = [
        "| scheme | runs | train loss | train accuracy | held-out accuracy | notes print |",
        "|---|---|---|---|---|---|",
    ]
    for scheme in schemes:
        for as_written in (True, False):
            mine = [
                r
                for r in rows
                if r["scheme"] == scheme and (r["seed"] == "as written") == as_written
            ]
            if not mine:
                continue
            printed = NOTES_PRINTED.get(scheme)
            shown = f"loss {printed[0]:.4f}, acc {printed[1]:.4f}" if printed else "—"
            lines.append(
                f"| {scheme} | {'as written' if as_written else f'{len(mine)} seeds'} | "
                f"{_mean_std([r['train_loss'] for r in mine], 4)} | "
                f"{_mean_std([r['train_accuracy'] for r in mine], 4)} | "
                f"{_mean_std([r['heldout_accuracy'] for r in mine], 4)} | {shown} |"
            )
    text = "\n".join(lines) + "\n"
    run.write_text("table.md", text)
    plot_notes_losses(curves, run / "losses.png")
    print(text)
    print(f"table and plot in {run.path}/")
    return rows


def _mean_std(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def show_run(board: TensorBoard, row: dict, history: list[dict], number: int) -> None:
    """One run of the study in TensorBoard: its curves, its settings and its result."""
    name = f"{row['init']}:{row['activation']} {row['labels']} labels lr {row['lr']:g}"
    for epoch in history:
        board.epoch(epoch, f"{name} seed {row['seed']}/")
    options = {k: row[k] for k in ("init", "activation", "labels", "lr", "lr_choice", "seed")}
    results = {k: row[k] for k in ("test_error", "best_valid_error")}
    board.hyperparameters(options, results, run_name=f"run-{number:04d}")


def study_splits(config: CompareConfig, data_dir: str | None) -> dict[str, DataSplit]:
    """The data set's splits, cut to the study's sizes; a size the data cannot meet is
    refused before anything is written."""
    splits = load_dataset(config.dataset, data_dir=data_dir)
    n_train = len(splits["train"])
    asked = [("train_size", config.train_size)]
    asked += [("the label budget", n) for n in config.label_sizes or []]
    for what, n in asked:
        if n is not None and n > n_train:
            raise ValueError(
                f"{what} {n} exceeds the {n_train} training images of {config.dataset}"
            )
    if config.valid_size is not None and config.valid_size > len(splits["valid"]):
        raise ValueError(
            f"valid_size {config.valid_size} exceeds the {len(splits['valid'])} validation "
            f"images of {config.dataset}"
        )
    for part, size in (("train", config.train_size), ("valid", config.valid_size)):
        if size is not None:
            split = splits[part]
            splits = dict(splits, **{part: DataSplit(split.x[:size], split.y[:size])})
    return splits


class Study:
    """One study in its run directory: every contender, seed and label budget, run in
    order and recorded as it goes (``results.csv``, ``lr_grid.csv`` and
    ``histories.jsonl``), so that a resumed study skips what is done."""

    def __init__(self, config, splits, device, run: RunDirectory, progress, resume) -> None:
        self.config, self.splits, self.device = config, splits, device
        self.run, self.progress = run, progress
        self.rows = run.read_csv("results.csv") if resume else []
        self.grid_rows = run.read_csv("lr_grid.csv") if resume else []
        self.histories: dict[str, list[list[dict]]] = {}
        for entry in run.read_metrics("histories.jsonl") if resume else []:
            self.histories.setdefault(entry["key"], []).append(entry["history"])
        if not resume:
            run.remove("histories.jsonl")
        self.features: dict[str, dict[str, DataSplit]] = {"pixels": splits}

    def run_all(self) -> None:
        """Each label budget, each contender: a shared lr, an lr chosen on validation, or
        both, as the preset says."""
        config = self.config
        for n_labels in config.label_sizes or [None]:
            for spec in config.inits:
                if spec.startswith("logreg:"):
                    self.tune(spec, LOGREG_C_GRID, n_labels)
                    continue
                if config.shared_lr and config.refit:
                    self.tune(spec, [config.finetune.lr], n_labels, "shared")  # then refits
                elif config.shared_lr:
                    self.run_seeds(spec, config.finetune.lr, "shared", n_labels)
                if config.lr_grid:
                    self.tune(spec, config.lr_grid, n_labels)

    def checkpoint_of(self, name: str) -> str:
        """The DBN of initialisation ``name``, pretrained once per study."""
        return pretrained(
            self.config, DBN_INITS[name], self.splits, self.device, self.run, self.progress
        )

    def labelled(
        self, n_labels: int | None, seed: int, source: dict[str, DataSplit] | None = None
    ) -> dict[str, DataSplit]:
        """``source`` (the splits, or features of them) with ``n_labels`` class-balanced
        training examples drawn for ``seed`` (the same for every contender), or all."""
        source = self.splits if source is None else source
        if n_labels is None:
            return source
        generator = new_generator(seed * SUBSET_SEED_STRIDE + n_labels)
        index = balanced_subset(source["train"].y, n_labels, generator)
        return dict(source, train=DataSplit(source["train"].x[index], source["train"].y[index]))

    def frozen(self, kind: str) -> dict[str, DataSplit]:
        """The splits as logistic regression reads them: pixels, or a DBN's top-layer
        features, computed once per study."""
        if kind not in self.features:
            top = load(self.checkpoint_of(kind))
            self.features[kind] = {
                part: DataSplit(top.transform(split.x).detach(), split.y)
                for part, split in self.splits.items()
            }
        return self.features[kind]

    def initial_statistics(self) -> dict[str, list[dict]]:
        """Each network contender's per-layer activations and gradients at the start."""
        batch, stats = self.splits["train"], {}
        for spec in self.config.inits:
            name, _, activation = spec.partition(":")
            if name == "logreg":
                continue
            model = make_classifier(
                self.config.sizes,
                int(batch.y.max()) + 1,
                generator=new_generator(0),
                **self.init_arguments(name),
                activation=activation,
            )
            stats[spec] = initial_statistics(model, batch.x[:500], batch.y[:500])
        return stats

    def init_arguments(self, name: str) -> dict:
        """How :func:`make_classifier` builds contender ``name``'s first layers."""
        if name in DBN_INITS:
            return dict(init="dbn", checkpoint=self.checkpoint_of(name))
        return dict(init=name)

    def train(
        self, spec: str, lr: float, seed: int, n_labels: int | None, refit_epochs=None
    ) -> dict:
        """One run (with ``refit_epochs``: a refit on train + valid for that many epochs);
        its test error, best validation error and history."""
        name, _, activation = spec.partition(":")
        if name == "logreg":
            data = self.labelled(n_labels, seed, self.frozen(activation))
            fitted = fit_logistic_regression(data["train"], data["valid"], data["test"], C=lr)
            return dict(
                fitted,
                best_valid_error=fitted["valid_error"],
                best_epoch=0,
                history=[],
                n_train=len(data["train"]),
            )
        data = self.labelled(n_labels, seed)
        classifier = Classifier(
            self.config.sizes,
            activation=activation,
            dropout=self.config.dropout,
            input_dropout=self.config.input_dropout,
            **self.init_arguments(name),
        )
        outcome = run_experiment(
            data,
            classifier,
            self.config.finetune_for(len(data["train"]), lr),
            seed=seed,
            device=self.device,
            progress=self.progress,
            refit=None if refit_epochs is None else Refit(epochs=refit_epochs),
        )
        return dict(
            test_error=outcome.test_error,
            test_loss=outcome.test_loss,
            best_epoch=outcome.finetune.best_epoch,
            best_valid_error=outcome.finetune.best_valid_error,
            seconds=outcome.seconds,
            history=outcome.finetune.history,
            n_train=len(data["train"]),
        )

    def run_seeds(
        self, spec: str, lr: float, choice: str, n_labels: int | None, selection=None
    ) -> None:
        """Every seed of ``spec`` at ``lr``; with ``selection`` (seed 0's grid row at this
        lr) each one is a refit for the epochs that selection chose."""
        name, _, activation = spec.partition(":")
        labels = n_labels or len(self.splits["train"])
        for seed in self.config.seeds_for(n_labels):
            done = (name, activation, labels, lr, choice, seed)
            if any(tuple(row[k] for k in RUN_KEYS) == done for row in self.rows):
                continue  # finished before the study was resumed
            outcome = self.outcome(spec, lr, seed, n_labels, selection)
            if outcome["history"]:
                key = f"{spec} lr {lr:g}" + (f" {labels} labels" if self.config.label_sizes else "")
                self.histories.setdefault(key, []).append(outcome["history"])
                self.run.log_metrics({"key": key, "history": outcome["history"]}, "histories.jsonl")
            row = dict(zip(RUN_KEYS, done, strict=True))
            row.update({k: outcome[k] for k in RESULT_KEYS})
            self.rows.append(row)
            write_rows(self.run, "results.csv", self.rows)  # a stopped study keeps its rows
            if self.run.board is not None:
                show_run(self.run.board, row, outcome["history"], len(self.rows))
            print(
                f"{spec:24s} {labels:>6} labels, lr {lr:<6g} seed {seed}: test error "
                f"{100 * outcome['test_error']:.2f}% (best epoch {outcome['best_epoch']})",
                flush=True,
            )

    def outcome(self, spec, lr, seed, n_labels, selection) -> dict:
        """One seed's run; a run that diverged is kept as a failure (NaN error), counted
        in the table, never dropped."""
        labels = n_labels or len(self.splits["train"])
        try:
            if selection is not None and not math.isfinite(selection["best_valid_error"]):
                raise TrainingDivergedError(f"{spec}: every lr diverged in the selection")
            if selection is None:
                return self.train(spec, lr, seed, n_labels)
            outcome = self.train(spec, lr, seed, n_labels, selection["best_epoch"])
            # the refit has no validation: the selection's numbers stand for it
            return dict(
                outcome,
                best_epoch=selection["best_epoch"],
                best_valid_error=selection["best_valid_error"],
            )
        except TrainingDivergedError as error:
            print(f"{spec} {labels} labels, lr {lr:g} seed {seed}: {error}", flush=True)
            return dict(DIVERGED, history=[])

    def grid_score(self, spec: str, lr: float, n_labels: int | None) -> dict:
        """Seed 0's run at ``lr`` on train/valid, computed once per study: its best
        validation error and epoch."""
        labels = n_labels or len(self.splits["train"])
        for row in self.grid_rows:
            if (row["spec"], row["labels"], row["lr"]) == (spec, labels, lr):
                return row
        try:
            outcome = self.train(spec, lr, 0, n_labels)
        except TrainingDivergedError:
            outcome = DIVERGED  # never chosen while any lr trains
        row = {"spec": spec, "labels": labels, "lr": lr}
        row.update({key: outcome[key] for key in ("best_valid_error", "best_epoch")})
        self.grid_rows.append(row)
        write_rows(self.run, "lr_grid.csv", self.grid_rows)
        return row

    def tune(self, spec: str, grid, n_labels: int | None, choice: str = "tuned") -> None:
        """Choose the contender's setting on validation alone (seed 0), run its seeds
        (refits for the chosen run's epochs, with ``config.refit``)."""
        scores = {value: self.grid_score(spec, value, n_labels) for value in grid}
        chosen = min(scores, key=lambda value: scores[value]["best_valid_error"])
        refit = self.config.refit and not spec.startswith("logreg:")
        self.run_seeds(spec, chosen, choice, n_labels, scores[chosen] if refit else None)

    def report(self, stats: dict[str, list[dict]]) -> list[dict]:
        """The table (mean ± std over seeds) and the figures, written and printed."""
        config, run = self.config, self.run
        table = summarise(self.rows)
        write_rows(run, "table.csv", table)
        text = markdown(table, config, self.device)
        run.write_text("table.md", text)
        run.write_json("init_stats.json", stats)
        run.write_json("machine.json", machine(torch.device(self.device)))
        if config.label_sizes:
            title = f"{config.dataset}: test error by label budget (mean ± std over seeds)"
            plot_labels(table, run / "labels.png", title)
        else:
            plot_comparison(self.histories, run / "curves.png")
        plot_init_stats(stats, run / "init_stats.png")
        print()
        print(text)
        sentence = lead_sentence(table) if config.label_sizes else None
        if sentence is not None:
            print(sentence)
        print(f"tables and plots in {run.path}/")
        return table


def check_given_checkpoints(config: CompareConfig) -> None:
    """A DBN given by file must be one, of the study's sizes: checked before anything is
    written, so that a refused command leaves no run behind."""
    for given in (config.checkpoint, config.recon_checkpoint):
        if given is not None:
            sizes = list(load(given, expect=DBN).sizes)
            if sizes != config.sizes:
                raise ValueError(f"{given!r} has layer sizes {sizes}, the study {config.sizes}")


def check_same_study(run: RunDirectory, config: CompareConfig, resume: bool) -> None:
    """A resumed study must be the saved one: refuse options that changed."""
    saved = run.saved_config(SCRIPT) if resume else None
    if saved is not None and saved["config"] != config.to_dict():
        changed = sorted(k for k, v in config.to_dict().items() if saved["config"].get(k) != v)
        raise ValueError(
            f"--resume continues the study in {str(run.path)!r} with its own options, but "
            f"these differ: {', '.join(changed)}; use the same command, or another --out"
        )


def main(args: argparse.Namespace) -> list[dict]:
    if args.preset in NOTES_STUDIES:
        return run_notes_study(args)
    config = build_config(args)
    device = resolve_device(args.device)
    run = RunDirectory(
        args.out or f"runs/compare-{config.preset}", tensorboard=args.tensorboard, command=args
    )
    check_same_study(run, config, args.resume)
    check_given_checkpoints(config)
    splits = study_splits(config, args.data_dir)
    run.claim(SCRIPT, args.resume)  # the first write to the run directory
    run.write_config(SCRIPT, {"config": config.to_dict()})
    study = Study(config, splits, device, run, not args.no_progress, args.resume)
    stats = study.initial_statistics()
    study.run_all()
    table = study.report(stats)
    run.close()
    return table


if __name__ == "__main__":
    run_cli(main, get_args_parser())
