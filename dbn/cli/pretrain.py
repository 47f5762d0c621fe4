"""Greedy layer-wise pretraining of a DBN; writes a run directory with checkpoint and plots.

dbn-pretrain --recipe hinton2006 --out runs/hinton2006
dbn-pretrain --dataset digits --sizes 64 32 16 --epochs 5 --out runs/tiny
dbn-pretrain --resume --out runs/hinton2006      # after a kill or Ctrl-C
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import asdict, dataclass, field

import torch

from dbn import DBN
from dbn.cli.args import (
    EXECUTION_OPTIONS,
    ArgumentParser,
    add_autocast_argument,
    add_common_arguments,
    add_execution_arguments,
    add_tensorboard_argument,
    check_input_size,
    given_options,
    run_cli,
)
from dbn.cli.device import check_fits_in_memory, mlp_parameter_count, resolve_device
from dbn.cli.runs import RunDirectory
from dbn.datasets import DATASETS, load_dataset
from dbn.io import safe_load
from dbn.models.rbm import DEFAULT_WEIGHT_STD
from dbn.recipes import PRETRAIN_RECIPES, default_sizes, recipe_train_config
from dbn.training.distributed import setup
from dbn.training.monitors import layer_reconstruction_errors
from dbn.training.rbm_trainer import (
    METHODS,
    PERSISTED_LAYERS,
    STEPS,
    RBMTrainer,
    TrainConfig,
    resolve_step,
)
from dbn.utils import JSONConfig, check_choice, check_int, check_nonnegative, new_generator
from dbn.visual import plot_curves, save_filters, save_image_grid

SCRIPT = "pretrain"
# The TrainConfig fields this script has flags for (same names, dashes for underscores).
TRAIN_FLAGS = (
    "method",
    "k",
    "persist",
    "epochs",
    "lr",
    "batch_size",
    "weight_decay",
    "l1",
    "sparsity_target",
    "sparsity_cost",
    "corruption",
    "init_visible_bias",
    "autocast",
    *EXECUTION_OPTIONS,
    "step",
    "monitor_every",
)


@dataclass
class PretrainRunConfig(JSONConfig):
    """One pretraining run: the stack, the data and how every layer trains."""

    sizes: list[int]
    dataset: str = "mnist"
    seed: int = 0
    weight_std: float = DEFAULT_WEIGHT_STD
    recipe: str | None = None
    use_valid: bool = False
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        check_choice("dataset", self.dataset, DATASETS)
        if len(self.sizes) < 2:
            raise ValueError(f"sizes must be two or more positive integers, got {self.sizes!r}")
        for size in self.sizes:
            check_int("each layer size", size)
        check_int("epochs", self.train.epochs)
        check_nonnegative("weight_std", self.weight_std)


def describe_recipe(name: str) -> str:
    """A recipe in a few words, for ``--help``."""
    recipe = PRETRAIN_RECIPES[name]
    sizes = "-".join(map(str, recipe["sizes"]))
    method, epochs = recipe.get("method", "cd"), recipe["epochs"]
    return f"{recipe['dataset']} {sizes}, {method}, {epochs} epochs a layer"


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description="Greedy layer-wise DBN pretraining.")
    parser.add_argument(
        "--recipe",
        choices=sorted(PRETRAIN_RECIPES),
        help="a paper's protocol as data (dbn.recipes.PRETRAIN_RECIPES): "
        + "; ".join(f"{name}: {describe_recipe(name)}" for name in sorted(PRETRAIN_RECIPES)),
    )
    parser.add_argument("--sizes", type=int, nargs="+", help="units per layer, data first")
    parser.add_argument(
        "--method",
        choices=METHODS,
        help="cd (contrastive divergence), pcd (persistent), pt (parallel tempering) or "
        f"recon (tied-weight autoencoder); default {TrainConfig.method}, or the recipe's",
    )
    parser.add_argument("--k", type=int, help=f"Gibbs steps for cd/pcd (default {TrainConfig.k})")
    parser.add_argument(
        "--persist",
        choices=PERSISTED_LAYERS,
        help="the layer whose states pcd's chains keep between updates: visible (Tieleman "
        "2008) or hidden (scikit-learn's; one product fewer a step); default "
        f"{TrainConfig.persist}",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help=f"epochs per layer (default {TrainConfig.epochs}, or the recipe's)",
    )
    parser.add_argument(
        "--lr", type=float, help=f"learning rate (default {TrainConfig.lr}, or the recipe's)"
    )
    parser.add_argument(
        "--batch-size", type=int, help=f"default {TrainConfig.batch_size}, or the recipe's"
    )
    parser.add_argument("--weight-decay", type=float, help="L2 cost on the weights")
    parser.add_argument("--l1", type=float, help="L1 cost on the weights")
    parser.add_argument("--sparsity-target", type=float, help="target hidden activation")
    parser.add_argument("--sparsity-cost", type=float, help="weight of the sparsity penalty")
    parser.add_argument("--corruption", type=float, help="masking noise for recon")
    parser.add_argument(
        "--weight-std",
        type=float,
        help="std of the initial weights (default 0.01, or the recipe's)",
    )
    parser.add_argument(
        "--init-visible-bias",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="set the visible biases to the data's log-odds before training (the default "
        "unless the recipe says otherwise); --no-init-visible-bias starts them at zero",
    )
    parser.add_argument("--step", choices=STEPS, help="how a step is computed (default auto)")
    parser.add_argument("--monitor-every", type=int, help="epochs between metrics (default 1)")
    add_autocast_argument(parser, help="train in this mixed precision")
    add_execution_arguments(parser)
    parser.add_argument("--dataset", choices=DATASETS, help="default mnist, or the recipe's")
    parser.add_argument(
        "--use-valid",
        action="store_true",
        help="pretrain on the training and validation images (all 60,000 of MNIST; no "
        "labels are used); no free-energy gap is then monitored",
    )
    parser.add_argument("--out", default="runs/pretrain", help="run directory (runs/pretrain)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_common_arguments(parser)
    add_tensorboard_argument(parser)
    return parser


def build_config(args: argparse.Namespace, run: RunDirectory) -> PretrainRunConfig:
    """The run's configuration: the saved one for ``--resume`` (refusing options that
    differ from it), else the recipe's values with the typed options on top."""
    typed = given_options(args, TRAIN_FLAGS)
    if args.resume:
        saved = run.resumed_config(SCRIPT, PretrainRunConfig, records=("step",))
        if saved is not None:
            return saved
    recipe = PRETRAIN_RECIPES[args.recipe] if args.recipe else {}
    dataset = args.dataset or recipe.get("dataset", "mnist")
    sizes = args.sizes or recipe.get("sizes") or default_sizes(dataset)
    weight_std = recipe.get("weight_std", DEFAULT_WEIGHT_STD)
    if args.weight_std is not None:
        weight_std = args.weight_std
    train = recipe_train_config(args.recipe, **typed) if args.recipe else TrainConfig(**typed)
    seed = 0 if args.seed is None else args.seed
    return PretrainRunConfig(
        sizes=list(sizes),
        dataset=dataset,
        seed=seed,
        weight_std=weight_std,
        recipe=args.recipe,
        use_valid=args.use_valid,
        train=train,
    )


def save_pictures(dbn: DBN, run: RunDirectory, test: torch.Tensor, histories, seed: int) -> None:
    first = dbn.layers[0]
    save_filters(first.weight, run / "filters.png")
    with torch.no_grad():
        digits = test[:10]
        down = dbn.transform(digits)
        for rbm in reversed(dbn.layers):
            down = rbm.visible_probs(down)
        rows = torch.cat([digits, first.reconstruct(digits), down])
    save_image_grid(rows.cpu(), run / "reconstructions.png")
    generator = new_generator(seed, first.weight.device)
    save_image_grid(
        dbn.generate(50, gibbs_steps=1000, generator=generator).cpu(), run / "samples.png"
    )
    plot_pretraining_curves(histories, run / "curves.png")


def plot_pretraining_curves(histories: list[list[dict]], path: str | os.PathLike) -> None:
    """A run's ``curves.png``: each layer's training-set reconstruction error by epoch.

    Parameters
    ----------
    histories : list of list of dict
        Per layer, its epoch rows (``metrics.jsonl``'s rows of that layer); epochs
        without ``recon_error`` are left out of the line.
    path : path

    Examples
    --------
    >>> import os, tempfile
    >>> from dbn.cli.pretrain import plot_pretraining_curves
    >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
    >>> plot_pretraining_curves([[{"recon_error": 9.0}, {"recon_error": 7.5}]], path)
    >>> os.path.getsize(path) > 0
    True
    """
    plot_curves(
        {
            f"layer {i + 1}": [m.get("recon_error", float("nan")) for m in history]
            for i, history in enumerate(histories)
        },
        path,
        ylabel="reconstruction error (sum over units)",
        title="Pretraining: training-set reconstruction error per layer",
        log_y=True,
    )


def after_epoch(run: RunDirectory, trainer: RBMTrainer, announce: bool) -> None:
    """Log the epoch (its checkpoint is written); show the first layer's filters and
    samples in TensorBoard."""
    layer = trainer.layer
    run.log_epoch(
        {"layer": layer + 1, **trainer.history[-1]},
        f"layer {layer + 1} epoch {trainer.epoch}/{trainer.config.epochs}: checkpoint written"
        if announce
        else None,
    )
    if run.board is not None and layer == 0:
        generator = new_generator(trainer.seed, trainer.rbm.weight.device)
        run.board.rbm_pictures(trainer.rbm, "layer1/", trainer.epoch, generator)


def main(args: argparse.Namespace) -> DBN:
    context = setup(resolve_device(args.device))  # joins torchrun's process group, if any
    device = context.device
    run = RunDirectory(
        args.out, enabled=context.is_main, tensorboard=args.tensorboard, command=args
    )
    config = build_config(args, run)
    data = load_dataset(config.dataset, data_dir=args.data_dir, seed=config.seed)
    check_input_size(config.sizes, config.dataset, data["train"].x.shape[1])
    step = resolve_step(config.train, device, context.world_size)
    check_fits_in_memory(mlp_parameter_count(config.sizes), device)
    state_path = run / "train-state.pt"
    saved_histories = None
    if args.resume and run.state_file(state_path.name):  # read (and verified) before any write
        saved_histories = safe_load(state_path, kind="dbn-training")["histories"]
    run.claim(SCRIPT, args.resume)  # the first write to the run directory
    run.write_config(SCRIPT, {**asdict(config), "step": step})
    rows = [
        {"layer": layer + 1, **row}
        for layer, history in enumerate(saved_histories or [])
        for row in history
    ]
    run.restart_logs({"metrics.jsonl": rows}, resumed=saved_histories is not None)

    dbn = DBN(config.sizes, weight_std=config.weight_std, generator=new_generator(config.seed))
    started = time.perf_counter()
    if config.use_valid:
        train_x, valid_x = torch.cat([data["train"].x, data["valid"].x]), None
    else:
        train_x, valid_x = data["train"].x, data["valid"].x
    histories = dbn.pretrain(
        train_x,
        valid_x,
        config.train,
        device=device,
        seed=config.seed,
        progress=not args.no_progress,
        checkpoint_path=state_path,
        resume=args.resume,
        callbacks=[lambda trainer: after_epoch(run, trainer, args.no_progress)],
    )
    seconds = time.perf_counter() - started
    if not context.is_main:
        return dbn
    final = dbn.save(
        run / "dbn.pt",
        recipe=config.recipe,
        dataset=config.dataset,
        training_images=len(train_x),
        world_size=context.world_size,
    )
    test = data["test"].x.to(device)
    quality = {
        "pretrain_seconds": seconds,
        "device": str(device),
        "torch": torch.__version__,
        "world_size": context.world_size,
        "step": step,
    }
    for index, error in enumerate(layer_reconstruction_errors(dbn.layers, test)):
        quality[f"layer{index + 1}_test_recon_error"] = error
    run.write_json("quality.json", quality)
    if run.board is not None:
        results = {k: v for k, v in quality.items() if k.endswith("recon_error")}
        run.board.hyperparameters(asdict(config), results)
    run.close()
    if int(config.sizes[0] ** 0.5) ** 2 == config.sizes[0]:
        save_pictures(dbn, run, test, histories, config.seed)
    print(
        f"pretrained {'-'.join(map(str, config.sizes))} in {seconds:.1f} s on {device}; "
        f"checkpoint {final}"
    )
    return dbn


if __name__ == "__main__":
    run_cli(main, get_args_parser())
