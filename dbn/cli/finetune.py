"""Fine-tune an MLP classifier from a pretrained DBN or from a named initialisation.

dbn-finetune --init dbn --checkpoint pretrained/mnist-784-500-500-2000.safetensors
dbn-finetune --init xavier_uniform --sizes 784 500 500 2000
dbn-finetune --init he_normal --activation relu --optimizer adam --lr 1e-3
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from dbn import DBN, load
from dbn import init as initializers
from dbn.cli.args import (
    ArgumentParser,
    add_autocast_argument,
    add_common_arguments,
    add_matmul_argument,
    add_tensorboard_argument,
    check_input_size,
    given_options,
    run_cli,
)
from dbn.cli.device import check_fits_in_memory, mlp_parameter_count, resolve_device
from dbn.cli.experiment import Classifier, Refit, run_experiment
from dbn.cli.runs import RunDirectory
from dbn.datasets import DATASETS, DataSplit, load_dataset
from dbn.models import ACTIVATIONS
from dbn.models.export import save_classifier
from dbn.models.mlp import NORMS, check_layer_options
from dbn.optim.schedules import SCHEDULES
from dbn.recipes import FINETUNE_RECIPES, default_sizes, split_finetune_recipe
from dbn.training.distributed import setup
from dbn.training.finetuning import (
    FINETUNE_OPTIMIZERS,
    FinetuneConfig,
    FinetuneResult,
    FinetuneTrainer,
)
from dbn.utils import JSONConfig, check_choice, check_int
from dbn.visual import plot_curves

SCRIPT = "finetune"
# Where a --refit run logs its selection's epochs (metrics.jsonl holds the refit's).
SELECTION_LOG = "select-metrics.jsonl"
# What a --refit run's selection chose, written as soon as the selection ends.
SELECTION_FILE = "selection.json"
# The FinetuneRunConfig fields this script has flags for.
RUN_FLAGS = (
    "init",
    "checkpoint",
    "sizes",
    "activation",
    "dropout",
    "input_dropout",
    "norm",
    "dataset",
    "train_size",
    "seed",
    "recipe",
)
# The FinetuneConfig fields this script has flags for (same names, dashes for underscores).
FINETUNE_FLAGS = (
    "optimizer",
    "lr",
    "momentum",
    "schedule",
    "epochs",
    "batch_size",
    "weight_decay",
    "l1",
    "clip_grad_norm",
    "patience",
    "autocast",
    "matmul",
    "final_momentum",
    "momentum_epochs",
    "dampened_momentum",
    "lr_gamma",
    "head_epochs",
    "max_norm",
    "lbfgs_iterations",
    "cg_line_searches",
)


@dataclass
class FinetuneRunConfig(JSONConfig):
    init: str = "dbn"
    checkpoint: str | None = None
    sizes: list[int] = field(default_factory=lambda: default_sizes("mnist"))
    activation: str = "sigmoid"
    dropout: float = 0.0
    input_dropout: float = 0.0
    norm: str | None = None
    dataset: str = "mnist"
    train_size: int | None = None
    seed: int = 0
    recipe: str | None = None
    refit: bool = False
    use_valid: bool = False
    select_from: str | None = None
    # with select_from: that run's best_epoch, best_valid_error and stopped_early
    selection: dict | None = None
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def __post_init__(self) -> None:
        if len(self.sizes) < 2:
            raise ValueError(f"sizes must be an input and hidden sizes, got {self.sizes!r}")
        for size in self.sizes:
            check_int("each layer size", size)
        check_layer_options(self.activation, self.dropout, self.input_dropout, self.norm)
        check_choice("dataset", self.dataset, DATASETS)
        if self.init != "dbn" and self.init not in initializers.names():
            raise ValueError(
                f"init must be 'dbn' or one of {initializers.names()}, got {self.init!r}"
            )
        if self.init == "dbn" and not self.checkpoint:
            raise ValueError("--init dbn needs --checkpoint PATH (e.g. the one in pretrained/)")
        if self.train_size is not None:
            check_int("train_size", self.train_size)
        if self.use_valid and self.refit:
            raise ValueError(
                "--use-valid trains a fixed number of epochs without a selection; "
                "it takes no --refit or --select-from"
            )
        if self.use_valid and self.finetune.patience is not None:
            raise ValueError("--use-valid leaves no validation images for --patience")


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description="Fine-tune an MLP classifier.")
    parser.add_argument("--init", help=f"dbn (default) or one of {initializers.names()}")
    parser.add_argument("--checkpoint", help="pretrained DBN for --init dbn")
    parser.add_argument("--sizes", type=int, nargs="+", help="input and hidden sizes")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), help="default sigmoid")
    parser.add_argument("--dropout", type=float, help="after each hidden layer (default 0)")
    parser.add_argument("--input-dropout", type=float, help="on the input (default 0)")
    parser.add_argument(
        "--norm",
        choices=[norm for norm in NORMS if norm],
        help="after each hidden Linear (default none)",
    )
    parser.add_argument(
        "--recipe", choices=sorted(FINETUNE_RECIPES), help="a paper's protocol; flags override it"
    )
    parser.add_argument(
        "--refit",
        action="store_true",
        help="select the epochs on train/valid, then retrain on train+valid and test once",
    )
    parser.add_argument(
        "--use-valid",
        action="store_true",
        help="train on the training and validation images (all 60,000 of MNIST) for "
        "--epochs, without validation (the papers' fixed epoch count), and test once",
    )
    parser.add_argument(
        "--select-from",
        metavar="DIR",
        help="refit with the epochs chosen by the --refit run in DIR (another seed, the "
        "same options), skipping this run's own selection; DIR's selection must have "
        "ended (its selection.json), its refit need not",
    )
    parser.add_argument("--optimizer", choices=FINETUNE_OPTIMIZERS, help="default sgd")
    parser.add_argument("--lr", type=float, help="default 0.1")
    parser.add_argument("--momentum", type=float, help="default 0.9")
    parser.add_argument("--final-momentum", type=float, help="momentum ramped up to this")
    parser.add_argument("--momentum-epochs", type=int, help="epochs of the momentum ramp")
    parser.add_argument(
        "--dampened-momentum",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="SGD: velocity v <- p v + (1 - p) g, the papers' form (step lr*g whatever p); "
        "--no-dampened-momentum: torch's v <- p v + g",
    )
    parser.add_argument("--lr-gamma", type=float, help="per-epoch factor of exponential")
    parser.add_argument("--head-epochs", type=int, help="first train the output layer alone")
    parser.add_argument("--max-norm", type=float, help="max L2 norm of a unit's weights")
    parser.add_argument("--lbfgs-iterations", type=int, help="per batch (default 3)")
    parser.add_argument("--cg-line-searches", type=int, help="cg: per batch (default 3)")
    parser.add_argument("--schedule", choices=SCHEDULES, help="default none")
    parser.add_argument("--epochs", type=int, help="default 30")
    parser.add_argument("--batch-size", type=int, help="default 100")
    parser.add_argument("--weight-decay", type=float, help="L2 on weights (default 0)")
    parser.add_argument("--l1", type=float, help="L1 on weights (default 0)")
    parser.add_argument(
        "--clip-grad-norm", type=float, help="clip the global gradient norm (default none)"
    )
    parser.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    add_autocast_argument(parser, help="train in this mixed precision (validation in float32)")
    add_matmul_argument(parser)
    parser.add_argument("--dataset", choices=DATASETS, help="default mnist")
    parser.add_argument("--train-size", type=int, help="use only the first N training examples")
    parser.add_argument("--out", default="runs/finetune", help="run directory (runs/finetune)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_common_arguments(parser)
    add_tensorboard_argument(parser)
    return parser


def build_config(args: argparse.Namespace, run: RunDirectory) -> FinetuneRunConfig:
    """The run's configuration: the saved one for ``--resume`` (refusing options that
    differ from it), else the defaults with the typed options on top."""
    typed = given_options(args, RUN_FLAGS)
    typed_finetune = given_options(args, FINETUNE_FLAGS)
    if args.refit or args.select_from:
        typed["refit"] = True
    if args.select_from:
        typed["select_from"] = args.select_from
    if args.use_valid:
        typed["use_valid"] = True
    if args.resume:
        saved = run.resumed_config(SCRIPT, FinetuneRunConfig)
        if saved is not None:
            return saved
    if "recipe" in typed:
        layers, recipe = split_finetune_recipe(typed["recipe"])
        typed = {**layers, **typed}
        typed_finetune = {**recipe, **typed_finetune}
    if "sizes" not in typed:
        if typed.get("init", "dbn") == "dbn" and "checkpoint" in typed:
            typed["sizes"] = load(typed["checkpoint"], expect=DBN).sizes
        else:
            typed["sizes"] = default_sizes(typed.get("dataset", "mnist"))
    config = FinetuneRunConfig(**typed, finetune=FinetuneConfig(**typed_finetune))
    if config.select_from:
        config.selection = borrowed_selection(config)
    return config


def shared_options(values: dict) -> dict:
    """A run's options, flat, without those that runs sharing a selection may differ in."""
    own = {"seed", "select_from", "selection", "script", "finetune"}
    return {k: v for k, v in values.items() if k not in own} | values.get("finetune", {})


def borrowed_selection(config: FinetuneRunConfig) -> dict:
    """The selection (best epoch, its validation error, whether it stopped early) of the
    run in ``config.select_from``, refusing a run that is no fine-tuning run, had no
    selection of its own, has not ended its selection yet, or differs from ``config`` in
    anything but the seed. The run's refit may still be training."""
    source = Path(config.select_from)
    try:
        saved = json.loads((source / "config.json").read_text())
    except (OSError, ValueError):
        saved = None
    if not isinstance(saved, dict) or saved.get("script") != SCRIPT:
        raise ValueError(f"--select-from {config.select_from!r} is not a fine-tuning run")
    if not saved.get("refit") or saved.get("select_from"):
        raise ValueError(
            f"--select-from {config.select_from!r} did not select its own epochs "
            "(it needs a run made with --refit and without --select-from)"
        )
    theirs = shared_options(saved)
    differing = sorted(k for k, v in shared_options(asdict(config)).items() if theirs.get(k) != v)
    if differing:
        raise ValueError(
            f"--select-from {config.select_from!r} was run with other options "
            f"({', '.join(differing)}); only the seed may differ"
        )
    try:
        return json.loads((source / SELECTION_FILE).read_text())
    except (OSError, ValueError):
        raise ValueError(
            f"--select-from {config.select_from!r} has not ended its selection "
            f"(no {SELECTION_FILE} yet)"
        ) from None


def chosen_epochs(selection: FinetuneResult) -> dict:
    """What a selection chose: its best epoch, that epoch's validation error, and
    whether it stopped early."""
    return {
        "best_epoch": selection.best_epoch,
        "best_valid_error": selection.best_valid_error,
        "stopped_early": selection.stopped_early,
    }


def refit_epochs(config: FinetuneRunConfig) -> int | None:
    """The refit's epoch count when it is fixed before training (``--use-valid``, or
    borrowed with ``--select-from``); None when this run selects it."""
    if config.use_valid:
        return config.finetune.epochs
    return config.selection["best_epoch"] if config.selection else None


def subset(splits: dict[str, DataSplit], train_size: int | None) -> dict[str, DataSplit]:
    if train_size is None:
        return splits
    train = splits["train"]
    return dict(splits, train=DataSplit(train.x[:train_size], train.y[:train_size]))


def main(args: argparse.Namespace) -> dict:
    context = setup(resolve_device(args.device))  # joins torchrun's process group, if any
    device = context.device
    run = RunDirectory(
        args.out, enabled=context.is_main, tensorboard=args.tensorboard, command=args
    )
    config = build_config(args, run)
    splits = subset(load_dataset(config.dataset, data_dir=args.data_dir), config.train_size)
    check_input_size(config.sizes, config.dataset, splits["train"].x.shape[1])
    if config.init == "dbn":
        pretrained_sizes = list(load(config.checkpoint, expect=DBN).sizes)
        if pretrained_sizes != config.sizes:
            raise ValueError(
                f"the checkpoint's layer sizes {pretrained_sizes} differ from {config.sizes}"
            )
    n_classes = int(splits["train"].y.max()) + 1
    check_fits_in_memory(mlp_parameter_count(config.sizes, n_classes), device)
    state_path = run / "train-state.pt"
    # each training (the selection's and the main one) logs its epochs beside its state
    states = {"metrics.jsonl": state_path.name, SELECTION_LOG: "select-state.pt"}
    saved_histories: dict[str, list[dict]] = {log: [] for log in states}
    resumed = False
    for log, name in states.items():
        path = run.state_file(name) if args.resume else None
        if path is not None:  # read (and verified) before any write
            trainer_state = FinetuneTrainer.read_checkpoint(path)
            # written under these options? (the selection's and the refit's epochs may
            # differ from the config's: dbn.finetune compares them once they are known)
            saved = {**(trainer_state.get("config") or {}), "epochs": config.finetune.epochs}
            config.finetune.check_saved(saved, repr(str(path)))
            saved_histories[log] = trainer_state["history"]
            resumed = True
    run.claim(SCRIPT, args.resume)  # the first write to the run directory
    run.restart_logs(saved_histories, resumed)
    run.write_config(SCRIPT, asdict(config))
    classifier = Classifier(
        config.sizes,
        config.init,
        activation=config.activation,
        checkpoint=config.checkpoint,
        dropout=config.dropout,
        input_dropout=config.input_dropout,
        norm=config.norm,
    )
    refit = Refit(
        epochs=refit_epochs(config),
        selection_checkpoint_path=run / "select-state.pt",
        on_selection_epoch_end=lambda metrics: run.log_metrics(metrics, SELECTION_LOG),
        on_selection_end=lambda selection: run.write_json(SELECTION_FILE, chosen_epochs(selection)),
    )
    outcome = run_experiment(
        splits,
        classifier,
        config.finetune,
        seed=config.seed,
        device=device,
        progress=not args.no_progress,
        on_epoch_end=lambda metrics: run.log_epoch(
            metrics, f"epoch {metrics['epoch']}: checkpoint written" if args.no_progress else None
        ),
        checkpoint_path=state_path,
        resume=args.resume,
        refit=refit if config.refit or config.use_valid else None,
    )
    history = outcome.finetune.history
    if not context.is_main:
        return {}
    selected_run = outcome.selection or outcome.finetune
    selection = config.selection or chosen_epochs(selected_run)
    if config.use_valid:  # a fixed epoch count: nothing was selected
        selection = dict(selection, best_epoch=None, best_valid_error=None)
    save_classifier(
        outcome.model,
        run / "model.pt",
        sizes=config.sizes,
        num_classes=n_classes,
        activation=config.activation,
        dropout=config.dropout,
        input_dropout=config.input_dropout,
        norm=config.norm,
        run=asdict(config),
    )
    result = {
        "init": config.init,
        "activation": config.activation,
        "test_error": outcome.test_error,
        "test_loss": outcome.test_loss,
        **selection,
        "refit": config.refit,
        "use_valid": config.use_valid,
        "select_from": config.select_from,
        "epochs_trained": len(outcome.finetune.history),
        "seconds": outcome.seconds,
        "device": str(device),
        "torch": torch.__version__,
        "world_size": context.world_size,
    }
    run.write_json("result.json", result)
    if run.board is not None:
        numbers = ("test_error", "test_loss", "best_valid_error")
        finals = {k: result[k] for k in numbers if result[k] is not None}
        run.board.hyperparameters(asdict(config), finals)
    run.close()
    # with --refit the validation curves are the selection run's; --select-from has none
    validated = [m for m in selected_run.history if "valid_error" in m]
    losses = {"train loss": [m["train_loss"] for m in history]}
    if validated:
        losses["valid loss"] = [m["valid_loss"] for m in validated]
        plot_curves(
            {"valid error": [m["valid_error"] for m in validated]},
            run / "valid_error.png",
            ylabel="error rate",
            title="Validation error",
        )
    plot_curves(losses, run / "loss.png", ylabel="cross-entropy", title="Fine-tuning", log_y=True)
    if config.use_valid:
        how = f"{len(history)} epochs on train+valid"
    else:
        how = f"best epoch {result['best_epoch']}, valid {100 * result['best_valid_error']:.2f}%"
        how += ", refit on train+valid" if config.refit else ""
    print(
        f"{config.init}/{config.activation}: test error {100 * outcome.test_error:.2f}% "
        f"({how}) in {outcome.seconds:.1f} s on {device}"
    )
    return result


if __name__ == "__main__":
    run_cli(main, get_args_parser())
