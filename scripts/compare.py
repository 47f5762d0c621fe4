"""The initialisation study: one architecture, one optimiser and budget, many initialisations.

    python scripts/compare.py --preset quick                 # what `make demo` runs
    python scripts/compare.py --preset hinton2006            # from the shipped checkpoint
    python scripts/compare.py --preset digits --out runs/cmp # seconds; used by the tests

Writes results.csv (one row per run), table.md and table.csv (mean ± std over seeds),
curves.png (training loss and validation error of every initialisation) and
init_stats.png (per-layer activations and gradients at the start of training).
"""

from __future__ import annotations

import argparse
import csv
import statistics
from dataclasses import asdict, dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen before pyplot loads)
import matplotlib.ticker  # noqa: E402

from dbn import DBN  # noqa: E402
from dbn import init as initializers  # noqa: E402
from dbn.activations import ACTIVATIONS  # noqa: E402
from dbn.cli import ArgumentParser, add_common_arguments, given_options, run_cli  # noqa: E402
from dbn.data import DataSplit, load_dataset  # noqa: E402
from dbn.device import resolve_device  # noqa: E402
from dbn.export import make_classifier  # noqa: E402
from dbn.finetune import FinetuneConfig  # noqa: E402
from dbn.notes import NOTES_PRINTED, depth_statistics, synthetic_study  # noqa: E402
from dbn.optim import OPTIMIZERS  # noqa: E402
from dbn.recipes import COMPARE_PRESETS, PRETRAIN_RECIPES, recipe_train_config  # noqa: E402
from dbn.rng import new_generator  # noqa: E402
from dbn.runs import RunDirectory  # noqa: E402
from dbn.study import initial_statistics, run_experiment  # noqa: E402
from dbn.validation import check_fraction, check_int, check_positive  # noqa: E402

SCRIPT = "compare"
# The study notes' small experiments, run by their own code path (no DBN, no MNIST).
NOTES_STUDIES = ("notes-synthetic", "notes-depth")
# What identifies one fine-tuning run of the study (a row of results.csv).
RUN_KEYS = ("init", "activation", "lr", "lr_choice", "seed")
# The DBN initialisations: each names how its DBN is pretrained.
DBN_INITS = {"dbn-cd": "cd", "dbn-recon": "recon"}


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
    dropout: float = 0.0
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def __post_init__(self) -> None:
        for spec in self.inits:
            name, _, activation = spec.partition(":")
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


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description="Compare initialisations of one MLP.")
    parser.add_argument(
        "--preset", default="quick", choices=sorted([*COMPARE_PRESETS, *NOTES_STUDIES])
    )
    parser.add_argument("--inits", nargs="+", help="NAME:ACTIVATION entries, e.g. dbn-cd:sigmoid")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--lr", type=float, help="the shared learning rate")
    parser.add_argument(
        "--lr-grid",
        type=float,
        nargs="+",
        help="also pick each init's lr on validation (seed 0) from these",
    )
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help="default sgd, or the preset's")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--train-size", type=int)
    parser.add_argument("--checkpoint", help="DBN pretrained by CD (else pretrained here)")
    parser.add_argument("--recon-checkpoint", help="DBN pretrained by reconstruction")
    parser.add_argument("--out", default=None, help="run directory (default runs/compare-PRESET)")
    parser.add_argument(
        "--resume", action="store_true", help="continue the study in --out, skipping done runs"
    )
    add_common_arguments(parser)
    return parser


def build_config(args: argparse.Namespace) -> CompareConfig:
    """The preset's values with the typed options on top (a resumed study must use the
    same ones: :func:`main` compares them with the saved config)."""
    preset = dict(COMPARE_PRESETS[args.preset])
    overrides = ("epochs", "lr", "inits", "seeds", "train_size", "checkpoint", "recon_checkpoint")
    preset.update(given_options(args, overrides))
    optimizer = args.optimizer or preset.pop("optimizer", "sgd")
    preset.pop("optimizer", None)
    finetune = FinetuneConfig(optimizer=optimizer, lr=preset.pop("lr"), epochs=preset.pop("epochs"))
    return CompareConfig(
        preset=args.preset, lr_grid=args.lr_grid, dropout=args.dropout, finetune=finetune, **preset
    )


def pretrained(config: CompareConfig, method: str, splits, device, run, progress) -> str:
    """The checkpoint for dbn-cd / dbn-recon: given, or pretrained now into the run dir."""
    given = config.checkpoint if method == "cd" else config.recon_checkpoint
    if given:
        return given
    path = run / f"dbn-{method}.pt"
    if not path.is_file():
        train = recipe_train_config(config.pretrain_recipe, method=method)
        model = DBN(config.sizes, generator=new_generator(0))
        model.pretrain(splits["train"].x, config=train, device=device, progress=progress)
        model.save(path, recipe=config.pretrain_recipe, method=method)
    return str(path)


def write_csv(path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def summarise(rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["init"], row["activation"], row["lr_choice"], row["lr"]), []).append(
            row
        )
    table = []
    for (init, activation, choice, lr), members in groups.items():
        errors = [100 * m["test_error"] for m in members]
        table.append(
            {
                "init": init,
                "activation": activation,
                "lr": lr,
                "lr_choice": choice,
                "seeds": len(members),
                "test_error_mean": statistics.mean(errors),
                "test_error_std": statistics.stdev(errors) if len(errors) > 1 else 0.0,
                "best_epoch_mean": statistics.mean(m["best_epoch"] for m in members),
                "seconds_mean": statistics.mean(m["seconds"] for m in members),
            }
        )
    return table


def markdown(table: list[dict], config: CompareConfig, device) -> str:
    lines = [
        f"Test error on {config.dataset}, {'-'.join(map(str, config.sizes))}-10 MLP, "
        f"{config.finetune.optimizer} {config.finetune.epochs} epochs, batch "
        f"{config.finetune.batch_size}, early stopping on validation, "
        f"{len(config.seeds)} seeds, {device}.",
        "",
        "| init | activation | lr | test error % (mean ± std) | best epoch | s / run |",
        "|---|---|---|---|---|---|",
    ]
    for row in sorted(table, key=lambda r: (r["lr_choice"], r["test_error_mean"])):
        lr = f"{row['lr']:g}" + (" (tuned)" if row["lr_choice"] == "tuned" else "")
        lines.append(
            f"| {row['init']} | {row['activation']} | {lr} | {row['test_error_mean']:.2f} ± "
            f"{row['test_error_std']:.2f} | {row['best_epoch_mean']:.1f} | "
            f"{row['seconds_mean']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def plot_comparison(histories: dict[str, list[list[dict]]], path) -> None:
    figure, (loss_axis, error_axis) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, runs in histories.items():
        n = min(len(h) for h in runs)
        loss = [statistics.mean(h[e]["train_loss"] for h in runs) for e in range(n)]
        error = [statistics.mean(100 * h[e]["valid_error"] for h in runs) for e in range(n)]
        loss_axis.plot(range(1, n + 1), loss, label=label)
        error_axis.plot(range(1, n + 1), error, label=label)
    loss_axis.set(
        xlabel="epoch",
        ylabel="training cross-entropy",
        yscale="log",
        title="Training loss (mean over seeds)",
    )
    error_axis.set(
        xlabel="epoch",
        ylabel="validation error %",
        yscale="log",
        title="Validation error (mean over seeds)",
    )
    for axis in (loss_axis, error_axis):
        axis.grid(alpha=0.3)
    error_axis.legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_init_stats(stats: dict[str, list[dict]], path) -> None:
    keys = [
        ("activation_std", "activation std across batch and units"),
        ("unit_spread", "spread across units (0 = all identical)"),
        ("grad_norm", "weight-gradient norm"),
    ]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for axis, (key, title) in zip(axes, keys, strict=True):
        for label, rows in stats.items():
            values = [row.get(key) for row in rows if row.get(key) is not None]
            axis.plot(range(1, len(values) + 1), values, marker="o", label=label)
        axis.set(xlabel="layer", title=title)
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        if key == "grad_norm":  # spans decades, and is exactly 0 for a symmetric init
            axis.set_yscale("symlog", linthresh=1e-6)
        axis.grid(alpha=0.3)
    axes[-1].legend(fontsize=7)
    figure.suptitle("At initialisation, one batch of training data")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def read_csv(path) -> list[dict]:
    """Rows of a CSV written by :func:`write_csv`, numbers parsed back."""
    if not path.is_file():
        return []

    def parse(value: str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
        return value

    with open(path, newline="") as handle:
        return [{k: parse(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def plot_notes_losses(curves: dict[str, list[float]], path) -> None:
    """The notes' figure: loss per step on a log axis; as-written runs dashed."""
    figure, axis = plt.subplots(figsize=(8, 5))
    schemes = list(dict.fromkeys(label.split(" (")[0] for label in curves))
    for label, losses in curves.items():
        style = "--" if "as written" in label else "-"
        color = f"C{schemes.index(label.split(' (')[0]) % 10}"  # one colour per scheme
        axis.plot(range(1, len(losses) + 1), losses, style, label=label, color=color)
    axis.set(xlabel="Adam step (full batch)", ylabel="training cross-entropy", yscale="log")
    axis.set_title("The notes' synthetic task: loss by initialisation")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_depth(rows: list[dict], path) -> None:
    """Per-layer activation spread and gradient norm, a column per activation."""
    activations = list(dict.fromkeys(row["activation"] for row in rows))
    schemes = list(dict.fromkeys(row["scheme"] for row in rows))
    styles = ["-", "--", ":", "-.", (0, (5, 1))]
    figure, axes = plt.subplots(2, len(activations), figsize=(5 * len(activations), 8))
    for column, activation in enumerate(activations):
        for index, scheme in enumerate(schemes):
            mine = [r for r in rows if r["activation"] == activation and r["scheme"] == scheme]
            layers = [r["layer"] for r in mine]
            for row, key in enumerate(("activation_std", "grad_norm")):
                axes[row][column].plot(
                    layers,
                    [r[key] for r in mine],
                    linestyle=styles[index % len(styles)],
                    marker="os^vD"[index % 5],
                    label=scheme,
                )
        axes[0][column].set(title=f"{activation}: activation std", yscale="log")
        axes[1][column].set(title=f"{activation}: weight-gradient norm", yscale="log")
        for row in range(2):
            axes[row][column].set_xlabel("hidden layer")
            axes[row][column].grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    figure.suptitle("At initialisation: 10 hidden layers of 256 units, one batch")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run_notes_study(args: argparse.Namespace) -> list[dict]:
    """``notes-synthetic`` and ``notes-depth``: the notes' small experiments, in seconds."""
    run = RunDirectory(args.out or f"runs/compare-{args.preset}")
    seeds = args.seeds or [0, 1, 2, 3, 4]
    if args.preset == "notes-synthetic":
        schemes = [*NOTES_PRINTED, "orthogonal", "trunc_normal", "default"]
        rows, curves = synthetic_study(schemes, seeds)
    else:
        rows = depth_statistics(["normal", "xavier_uniform", "he_uniform", "orthogonal", "default"])
    run.claim(SCRIPT, resume=False)
    run.write_json("config.json", {"script": SCRIPT, "preset": args.preset, "seeds": seeds})
    write_csv(run / "results.csv", rows)
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
    (run / "table.md").write_text(text)
    plot_notes_losses(curves, run / "losses.png")
    print(text)
    print(f"table and plot in {run.path}/")
    return rows


def _mean_std(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main(args: argparse.Namespace) -> list[dict]:
    if args.preset in NOTES_STUDIES:
        return run_notes_study(args)
    config = build_config(args)
    device = resolve_device(args.device)
    run = RunDirectory(args.out or f"runs/compare-{config.preset}")
    saved = run.saved_config(SCRIPT) if args.resume else None
    if saved is not None and saved["config"] != config.to_dict():
        changed = sorted(k for k, v in config.to_dict().items() if saved["config"].get(k) != v)
        raise ValueError(
            f"--resume continues the study in {str(run.path)!r} with its own options, but "
            f"these differ: {', '.join(changed)}; use the same command, or another --out"
        )
    progress = not args.no_progress
    splits = load_dataset(config.dataset, data_dir=args.data_dir)
    if config.train_size is not None:
        if config.train_size > len(splits["train"]):
            raise ValueError(
                f"train_size {config.train_size} exceeds the {len(splits['train'])} "
                f"training images of {config.dataset}"
            )
        train = splits["train"]
        splits = dict(
            splits, train=DataSplit(train.x[: config.train_size], train.y[: config.train_size])
        )
    run.claim(SCRIPT, args.resume)  # the first write to the run directory
    run.write_json("config.json", {"script": SCRIPT, "config": config.to_dict()})
    done_rows = read_csv(run / "results.csv") if args.resume else []
    done_grid = read_csv(run / "lr_grid.csv") if args.resume else []
    done_histories = run.read_metrics("histories.jsonl") if args.resume else []
    if not args.resume:
        run.remove("histories.jsonl")

    def model_args(spec: str) -> dict:
        name, _, activation = spec.partition(":")
        if name in DBN_INITS:
            checkpoint = pretrained(config, DBN_INITS[name], splits, device, run, progress)
            return dict(init="dbn", checkpoint=checkpoint, activation=activation)
        return dict(init=name, activation=activation)

    batch = splits["train"]
    stats, histories, rows, grid_rows = {}, {}, list(done_rows), list(done_grid)
    for entry in done_histories:
        histories.setdefault(entry["key"], []).append(entry["history"])
    for spec in config.inits:
        arguments = model_args(spec)
        n_classes = int(batch.y.max()) + 1
        model = make_classifier(config.sizes, n_classes, generator=new_generator(0), **arguments)
        stats[spec] = initial_statistics(model, batch.x[:500], batch.y[:500])

    def train(spec: str, lr: float, seed: int):
        finetune = FinetuneConfig(**{**config.finetune.to_dict(), "lr": lr})
        return run_experiment(
            splits,
            config.sizes,
            config=finetune,
            seed=seed,
            device=device,
            dropout=config.dropout,
            progress=progress,
            **model_args(spec),
        )

    def run_seeds(spec: str, lr: float, choice: str) -> None:
        name, _, activation = spec.partition(":")
        for seed in config.seeds:
            done = (name, activation, lr, choice, seed)
            if any(tuple(row[k] for k in RUN_KEYS) == done for row in rows):
                continue  # finished before the study was resumed
            outcome = train(spec, lr, seed)
            key = f"{spec} lr {lr:g}"
            histories.setdefault(key, []).append(outcome.finetune.history)
            run.log_metrics({"key": key, "history": outcome.finetune.history}, "histories.jsonl")
            rows.append(
                {
                    "init": name,
                    "activation": activation,
                    "lr": lr,
                    "lr_choice": choice,
                    "seed": seed,
                    "test_error": outcome.test_error,
                    "test_loss": outcome.test_loss,
                    "best_epoch": outcome.finetune.best_epoch,
                    "best_valid_error": outcome.finetune.best_valid_error,
                    "seconds": outcome.seconds,
                }
            )
            write_csv(run / "results.csv", rows)  # after every run: a stopped study keeps its rows
            print(
                f"{spec:24s} lr {lr:<6g} seed {seed}: test error "
                f"{100 * outcome.test_error:.2f}% (best epoch {outcome.finetune.best_epoch})",
                flush=True,
            )

    def grid_score(spec: str, lr: float) -> float:
        """Seed 0's best validation error at ``lr``, computed once per study."""
        for row in grid_rows:
            if (row["spec"], row["lr"]) == (spec, lr):
                return row["best_valid_error"]
        score = train(spec, lr, 0).finetune.best_valid_error
        grid_rows.append({"spec": spec, "lr": lr, "best_valid_error": score})
        write_csv(run / "lr_grid.csv", grid_rows)
        return score

    for spec in config.inits:
        run_seeds(spec, config.finetune.lr, "shared")
        if config.lr_grid:
            # each init gets its own lr, chosen on validation error alone with seed 0
            scores = {lr: grid_score(spec, lr) for lr in config.lr_grid}
            run_seeds(spec, min(scores, key=scores.get), "tuned")

    table = summarise(rows)
    write_csv(run / "table.csv", table)
    text = markdown(table, config, device)
    (run / "table.md").write_text(text)
    run.write_json("init_stats.json", stats)
    plot_comparison(histories, run / "curves.png")
    plot_init_stats(stats, run / "init_stats.png")
    print()
    print(text)
    print(f"tables and plots in {run.path}/")
    return table


if __name__ == "__main__":
    run_cli(main, get_args_parser())
