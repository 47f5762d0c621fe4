"""The Deep Boltzmann Machine of Salakhutdinov & Hinton (2009): greedy pretraining
corrected for double counting, then joint training by mean-field and persistent chains.

    dbn-dbm --out runs/dbm                 # the paper's recipe, MNIST
    dbn-dbm --quick --out runs/dbm-quick   # the 8x8 digits, seconds
    dbn-dbm --recipe salakhutdinov-hinton2009-labels --out runs/dbm-labels

Writes into ``--out``: ``config.json``; ``greedy-state.pt`` after every epoch of greedy
pretraining and ``greedy.safetensors`` once it ends (a resumed run continues from the
one or starts from the other); ``dbm-state.pt`` after every joint epoch (model,
optimiser, generator, chains: ``--resume`` continues to the uninterrupted run's
weights); ``metrics.jsonl`` (a row an epoch, the validation images' mean-field
reconstruction error every ``--eval-every`` epochs, and for a recipe with label units
the validation images' error of ``argmax q(y | v)``); and at the end ``model.safetensors``
(``dbn.load`` returns the DBM) and ``samples.png`` (the persistent chains' pixels).
Score it with ``dbn-dbm-report``; fine-tune its classifier with
``dbn-dbm-finetune``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from dbn.cli.args import (
    EXECUTION_OPTIONS,
    ArgumentParser,
    add_autocast_argument,
    add_common_arguments,
    add_execution_arguments,
    check_input_size,
    given_options,
    positive_int,
    run_cli,
)
from dbn.cli.device import resolve_device
from dbn.cli.runs import RunDirectory, start_entries
from dbn.datasets import load_dataset
from dbn.models import DBM
from dbn.recipes import DBM_RECIPES
from dbn.training import DBMConfig, DBMTrainer, TrainConfig, pretrain
from dbn.training.dbm_trainer import dbm_reconstruction_error, label_error
from dbn.utils import JSONConfig
from dbn.visual import save_image_grid

SCRIPT = "dbm"
RECIPE = "salakhutdinov-hinton2009"


@dataclass
class DBMRunConfig(JSONConfig):
    """One run: the recipe's data and sizes, greedy pretraining per RBM, joint training."""

    recipe: str = RECIPE
    dataset: str = "mnist"
    sizes: list[int] = field(default_factory=lambda: [784, 500, 1000])
    n_labels: int = 0
    # train every stage on the training and validation images (no validation rows)
    use_valid: bool = False
    seed: int = 0
    eval_every: int = 10
    # a greedily pretrained DBM to train jointly instead of pretraining, and its sha256
    start_from: str | None = None
    start_sha256: str | None = None
    pretrain: list[TrainConfig] = field(default_factory=list)
    joint: DBMConfig = field(default_factory=DBMConfig)


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--recipe",
        default=RECIPE,
        choices=[name for name in DBM_RECIPES if not name.endswith("-quick")],
        help=f"the recipe ({RECIPE}; -labels joins label units to the top layer, as "
        "Salakhutdinov's code does)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="the recipe's digits variant (<recipe>-quick)"
    )
    parser.add_argument(
        "--pretrain-epochs",
        type=int,
        nargs="+",
        metavar="N",
        help="epochs of each RBM, bottom first (default: the recipe's)",
    )
    parser.add_argument(
        "--pretrain-k",
        type=int,
        nargs="+",
        metavar="K",
        help="CD steps of each RBM, bottom first, fixed (default: the recipe's, its k "
        "schedule included)",
    )
    parser.add_argument("--epochs", type=int, help="joint-training epochs (default: the recipe's)")
    parser.add_argument(
        "--binarize",
        action="store_true",
        help="train every stage on a fresh binary sample of each mini-batch, as "
        "Salakhutdinov's code does (default: the intensities)",
    )
    add_autocast_argument(
        parser,
        help="train every stage in this mixed precision (validation, scores and saved "
        "models in float32)",
    )
    add_execution_arguments(parser, "the greedy stage")
    parser.add_argument(
        "--start-from",
        metavar="MODEL",
        help="a greedily pretrained DBM (another run's greedy.safetensors) to train jointly "
        "instead of pretraining afresh",
    )
    parser.add_argument(
        "--eval-every", type=positive_int, default=10, help="epochs between validation errors (10)"
    )
    parser.add_argument("--out", default="runs/dbm", help="run directory (runs/dbm)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_common_arguments(parser)
    return parser


def build_config(args: argparse.Namespace, run: RunDirectory) -> DBMRunConfig:
    name = f"{args.recipe}-quick" if args.quick else args.recipe
    typed = {"recipe": name, "eval_every": args.eval_every}
    if args.seed is not None:
        typed["seed"] = args.seed
    if args.resume:
        saved = run.resumed_config(SCRIPT, DBMRunConfig)
        if saved is not None:
            return saved
    recipe = DBM_RECIPES[name]
    layers = [{k: v for k, v in layer.items() if k != "weight_std"} for layer in recipe["pretrain"]]
    if args.pretrain_epochs is not None:
        if len(args.pretrain_epochs) != len(layers):
            raise ValueError(
                f"--pretrain-epochs needs one number per RBM ({len(layers)}), "
                f"got {len(args.pretrain_epochs)}"
            )
        layers = [
            dict(layer, epochs=n) for layer, n in zip(layers, args.pretrain_epochs, strict=True)
        ]
    if args.pretrain_k is not None:
        if len(args.pretrain_k) != len(layers):
            raise ValueError(
                f"--pretrain-k needs one number per RBM ({len(layers)}), got {len(args.pretrain_k)}"
            )
        layers = [
            dict(layer, k=k, k_final=None, k_every=None)
            for layer, k in zip(layers, args.pretrain_k, strict=True)
        ]
    joint = dict(recipe["joint"])
    if args.epochs is not None:
        joint["epochs"] = args.epochs
    if args.binarize:
        layers = [dict(layer, binarize=True) for layer in layers]
        joint["binarize"] = True
    if args.autocast is not None:
        layers = [dict(layer, autocast=args.autocast) for layer in layers]
        joint["autocast"] = args.autocast
    execution = given_options(args, EXECUTION_OPTIONS)
    layers = [dict(layer, **execution) for layer in layers]
    start = start_entries(args.start_from, DBM, recipe["sizes"])
    return DBMRunConfig(
        **typed,
        **start,
        dataset=recipe["dataset"],
        sizes=list(recipe["sizes"]),
        n_labels=recipe.get("n_labels", 0),
        use_valid=recipe.get("use_valid", False),
        pretrain=[TrainConfig(**layer) for layer in layers],
        joint=DBMConfig(**joint),
    )


def pretrained_model(
    config: DBMRunConfig,
    x: torch.Tensor,
    labels: torch.Tensor | None,
    progress: bool,
    state_path: Path,
    resume: bool,
) -> DBM:
    """A DBM pretrained greedily by the run's config, checkpointed in ``state_path``
    after every epoch (and continued from it with ``resume``)."""
    model = DBM(config.sizes, n_labels=config.n_labels)
    pretrain(
        model,
        x,
        config=config.pretrain,
        labels=labels,
        seed=config.seed,
        progress=progress,
        checkpoint_path=state_path,
        resume=resume,
    )
    return model


def main(args: argparse.Namespace) -> dict:
    device = resolve_device(args.device)
    run = RunDirectory(args.out, command=args)
    config = build_config(args, run)
    data = load_dataset(config.dataset, data_dir=args.data_dir, seed=config.seed)
    check_input_size(config.sizes, config.dataset, data["train"].x.shape[1])
    state_path = run / "dbm-state.pt"
    resuming = args.resume and run.state_file(state_path.name) is not None
    state = DBMTrainer.read_checkpoint(state_path) if resuming else None
    if state is not None:  # before any write
        config.joint.check_saved(state.get("config"), repr(str(state_path)))
    run.claim(SCRIPT, args.resume)  # the first write to the run directory
    run.write_config(SCRIPT, config.to_dict())
    train, valid = data["train"], data["valid"]
    if config.use_valid:
        train = type(train)(torch.cat([train.x, valid.x]), torch.cat([train.y, valid.y]))
    valid_x, valid_y = valid.x.to(device), valid.y.to(device)
    labels = train.y.to(device) if config.n_labels else None
    train = train.x.to(device)
    started = time.perf_counter()
    model = run.greedy_model(
        config,
        DBM,
        lambda: pretrained_model(
            config, train, labels, not args.no_progress, run / "greedy-state.pt", args.resume
        ),
    ).to(device)
    trainer = DBMTrainer(model, config.joint, seed=config.seed)
    if state is not None:
        trainer.load_state_dict(state)
    run.restart_logs({"metrics.jsonl": trainer.history}, resumed=state is not None)

    def after_epoch(trainer: DBMTrainer) -> None:
        row = trainer.history[-1]
        if not config.use_valid and (
            trainer.epoch % config.eval_every == 0 or trainer.epoch == config.joint.epochs
        ):
            row["valid_reconstruction"] = dbm_reconstruction_error(model, valid_x, config.joint)
            if config.n_labels:
                row["valid_label_error"] = label_error(model, valid_x, valid_y, config.joint)
        trainer.save_checkpoint(state_path)
        announce = f"epoch {row['epoch']}: checkpoint written" if args.no_progress else None
        run.log_epoch(row, announce)

    trainer.fit(train, labels=labels, callbacks=[after_epoch], progress=not args.no_progress)
    # with use_valid the validation images were trained on: nothing to validate on
    held_out = (
        {}
        if config.use_valid
        else {"valid_reconstruction": dbm_reconstruction_error(model, valid_x, config.joint)}
    )
    result = {
        **held_out,
        "training_images": len(train),
        "seconds_this_process": time.perf_counter() - started,
        "torch": torch.__version__,
    }
    model.save(run / "model.safetensors", **{"result": result, "recipe": config.recipe})
    run.write_json("result.json", result)
    side = int(config.sizes[0] ** 0.5)
    if side * side == config.sizes[0] and trainer.chains is not None:
        with torch.no_grad():
            pixels = model.visible_probs(trainer.chains[1])
        save_image_grid(pixels[:100].cpu(), run / "samples.png", n_columns=10)
    run.close()
    for name, value in held_out.items():
        print(f"{name.replace('_', ' ')}: {value:.3f}")
    return result


if __name__ == "__main__":
    run_cli(main, get_args_parser())
