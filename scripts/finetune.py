"""Fine-tune an MLP classifier from a pretrained DBN or from a named initialisation.

python scripts/finetune.py --init dbn --checkpoint pretrained/mnist-784-500-500-2000.pt
python scripts/finetune.py --init xavier_uniform --sizes 784 500 500 2000
python scripts/finetune.py --init he_normal --activation relu --optimizer adam --lr 1e-3
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field

import torch

from dbn import init as initializers
from dbn import load
from dbn.activations import ACTIVATIONS
from dbn.checkpoint import atomic_save
from dbn.cli import add_common_arguments, given_options, run_cli
from dbn.data import DATASETS, DataSplit, load_dataset
from dbn.device import resolve_device
from dbn.distributed import setup
from dbn.finetune import SCHEDULES, FinetuneConfig
from dbn.optim import OPTIMIZERS
from dbn.recipes import default_sizes
from dbn.runs import RunDirectory
from dbn.study import run_experiment
from dbn.validation import check_int
from dbn.viz import plot_curves

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
)


@dataclass
class FinetuneRunConfig:
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
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def __post_init__(self) -> None:
        if self.init != "dbn" and self.init not in initializers.names():
            raise ValueError(
                f"init must be 'dbn' or one of {initializers.names()}, got {self.init!r}"
            )
        if self.init == "dbn" and not self.checkpoint:
            raise ValueError("--init dbn needs --checkpoint PATH (e.g. the one in pretrained/)")
        if self.train_size is not None:
            check_int("train_size", self.train_size)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Fine-tune an MLP classifier.")
    parser.add_argument("--init", default="dbn", help=f"dbn or one of {initializers.names()}")
    parser.add_argument("--checkpoint", help="pretrained DBN for --init dbn")
    parser.add_argument("--sizes", type=int, nargs="+", help="input and hidden sizes")
    parser.add_argument("--activation", default="sigmoid", choices=sorted(ACTIVATIONS))
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--input-dropout", type=float, default=0.0)
    parser.add_argument("--norm", choices=["batch", "layer"])
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help="default sgd")
    parser.add_argument("--lr", type=float, help="default 0.1")
    parser.add_argument("--momentum", type=float, help="default 0.9")
    parser.add_argument("--schedule", choices=SCHEDULES, help="default none")
    parser.add_argument("--epochs", type=int, help="default 30")
    parser.add_argument("--batch-size", type=int, help="default 100")
    parser.add_argument("--weight-decay", type=float, help="L2 on weights (default 0)")
    parser.add_argument("--l1", type=float, help="L1 on weights (default 0)")
    parser.add_argument("--clip-grad-norm", type=float)
    parser.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    parser.add_argument("--dataset", default="mnist", choices=DATASETS)
    parser.add_argument("--train-size", type=int, help="use only the first N training examples")
    parser.add_argument("--out", default="runs/finetune", help="run directory")
    add_common_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> FinetuneRunConfig:
    finetune = FinetuneConfig(**given_options(args, FINETUNE_FLAGS))
    sizes = args.sizes
    if sizes is None and args.init == "dbn" and args.checkpoint:
        sizes = load(args.checkpoint).sizes
    if sizes is None:
        sizes = default_sizes(args.dataset)
    return FinetuneRunConfig(
        init=args.init,
        checkpoint=args.checkpoint,
        sizes=list(sizes),
        activation=args.activation,
        dropout=args.dropout,
        input_dropout=args.input_dropout,
        norm=args.norm,
        dataset=args.dataset,
        train_size=args.train_size,
        seed=args.seed,
        finetune=finetune,
    )


def subset(splits: dict[str, DataSplit], train_size: int | None) -> dict[str, DataSplit]:
    if train_size is None:
        return splits
    train = splits["train"]
    return dict(splits, train=DataSplit(train.x[:train_size], train.y[:train_size]))


def main(args: argparse.Namespace) -> dict:
    config = config_from_args(args)
    context = setup(resolve_device(args.device))  # joins torchrun's process group, if any
    device = context.device
    run = RunDirectory(args.out, enabled=context.is_main)
    run.write_json("config.json", asdict(config))
    run.remove("metrics.jsonl")
    splits = subset(load_dataset(config.dataset, data_dir=args.data_dir), config.train_size)
    if splits["train"].x.shape[1] != config.sizes[0]:
        raise ValueError(
            f"sizes start with {config.sizes[0]} but {config.dataset} has "
            f"{splits['train'].x.shape[1]} features"
        )
    outcome = run_experiment(
        splits,
        config.sizes,
        config.init,
        config.finetune,
        activation=config.activation,
        seed=config.seed,
        device=device,
        checkpoint=config.checkpoint,
        dropout=config.dropout,
        input_dropout=config.input_dropout,
        norm=config.norm,
        progress=not args.no_progress,
        on_epoch_end=run.log_metrics,
    )
    history = outcome.finetune.history
    if not context.is_main:
        return {}
    atomic_save(
        {
            "kind": "mlp",
            "config": asdict(config),
            "state": {k: v.cpu() for k, v in outcome.model.state_dict().items()},
        },
        run / "model.pt",
    )
    result = {
        "init": config.init,
        "activation": config.activation,
        "test_error": outcome.test_error,
        "test_loss": outcome.test_loss,
        "best_epoch": outcome.finetune.best_epoch,
        "best_valid_error": outcome.finetune.best_valid_error,
        "stopped_early": outcome.finetune.stopped_early,
        "seconds": outcome.seconds,
        "device": str(device),
        "torch": torch.__version__,
        "world_size": context.world_size,
    }
    run.write_json("result.json", result)
    plot_curves(
        {
            "train loss": [m["train_loss"] for m in history],
            "valid loss": [m["valid_loss"] for m in history],
        },
        run / "loss.png",
        ylabel="cross-entropy",
        title="Fine-tuning",
        log_y=True,
    )
    plot_curves(
        {"valid error": [m["valid_error"] for m in history]},
        run / "valid_error.png",
        ylabel="error rate",
        title="Validation error",
    )
    print(
        f"{config.init}/{config.activation}: test error {100 * outcome.test_error:.2f}% "
        f"(best epoch {outcome.finetune.best_epoch}, valid "
        f"{100 * outcome.finetune.best_valid_error:.2f}%) in {outcome.seconds:.1f} s on {device}"
    )
    return result


if __name__ == "__main__":
    run_cli(main, get_args_parser())
