"""The generative DBN of Hinton, Osindero & Teh (2006): greedy pretraining with labels,
then up-down fine-tuning; it classifies by free energy and draws digits of a class.

    dbn-updown --out runs/updown                   # the paper's recipe, MNIST
    dbn-updown --recipe hinton-osindero-teh2006-paper --out runs/updown-paper
    dbn-updown --quick --out runs/updown-quick     # the 8x8 digits, seconds

Writes into ``--out``: ``config.json``; ``greedy-state.pt`` after every epoch of greedy
pretraining and ``greedy.safetensors`` once it ends (a resumed run continues from the
one or starts from the other); ``updown-state.pt`` after every up-down epoch (model,
optimiser, generator: ``--resume`` continues to the uninterrupted run's weights);
``metrics.jsonl`` (a row an epoch, with the validation error every ``--eval-every``
epochs); and at the end ``model.safetensors`` (``dbn.load`` returns it ready to
``predict`` and ``generate``), ``result.json`` (test error of the start model, greedy
or ``--start-from``'s, and after up-down) and ``samples.png`` (ten samples of each class,
a row per class).
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
from dbn.models import GenerativeDBN
from dbn.recipes import GENERATIVE_RECIPES
from dbn.training import TrainConfig, UpDownConfig, UpDownTrainer, pretrain
from dbn.utils import JSONConfig, new_generator
from dbn.visual import save_image_grid

SCRIPT = "updown"
RECIPE = "hinton-osindero-teh2006"


@dataclass
class UpDownRunConfig(JSONConfig):
    """One run: the recipe's data and sizes, greedy pretraining and up-down."""

    recipe: str = RECIPE
    dataset: str = "mnist"
    sizes: list[int] = field(default_factory=lambda: [784, 500, 500, 2000])
    weight_std: float = 0.01
    seed: int = 0
    use_valid: bool = False
    eval_every: int = 10
    # a greedily pretrained GenerativeDBN to start from instead of pretraining, and its sha256
    start_from: str | None = None
    start_sha256: str | None = None
    greedy: TrainConfig = field(default_factory=TrainConfig)
    updown: UpDownConfig = field(default_factory=UpDownConfig)


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--recipe",
        choices=[name for name in GENERATIVE_RECIPES if not name.endswith("-quick")],
        default=RECIPE,
        help=f"the protocol ({RECIPE}); {RECIPE}-paper adds the paper's class-balanced "
        "batches and a greedy start trained as Hinton's rbm.m",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"the recipe's digits variant ({RECIPE}-quick)"
    )
    parser.add_argument("--epochs", type=int, help="up-down epochs (default: the recipe's)")
    parser.add_argument("--lr", type=float, help="up-down learning rate (default: the recipe's)")
    parser.add_argument("--momentum", type=float, help="up-down momentum (default: the recipe's)")
    parser.add_argument(
        "--weight-decay", type=float, help="up-down L2 weight cost (default: the recipe's)"
    )
    parser.add_argument(
        "--cd-steps",
        type=int,
        nargs="+",
        metavar="K",
        help="Gibbs steps in the top RBM, an equal part of the epochs each (default: the "
        "recipe's 3 6 10)",
    )
    add_execution_arguments(parser, "the greedy stage")
    parser.add_argument(
        "--start-from",
        metavar="MODEL",
        help="a GenerativeDBN to fine-tune instead of pretraining afresh: another run's "
        "greedy.safetensors, or its model.safetensors to go on training (the paper's "
        "last 59 epochs on all 60,000 images)",
    )
    parser.add_argument(
        "--use-valid",
        action="store_true",
        help="train on the training and validation images (all 60,000 of MNIST)",
    )
    parser.add_argument(
        "--eval-every", type=positive_int, default=10, help="epochs between validation errors (10)"
    )
    parser.add_argument("--out", default="runs/updown", help="run directory (runs/updown)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_common_arguments(parser)
    return parser


def build_config(args: argparse.Namespace, run: RunDirectory) -> UpDownRunConfig:
    name = f"{args.recipe}-quick" if args.quick else args.recipe
    typed = {"recipe": name, "use_valid": args.use_valid, "eval_every": args.eval_every}
    if args.seed is not None:
        typed["seed"] = args.seed
    if args.resume:
        saved = run.resumed_config(SCRIPT, UpDownRunConfig)
        if saved is not None:
            return saved
    if name not in GENERATIVE_RECIPES:
        raise ValueError(f"recipe {args.recipe!r} has no quick variant")
    recipe = GENERATIVE_RECIPES[name]
    greedy = dict(recipe["greedy"])
    weight_std = greedy.pop("weight_std")
    greedy.update(given_options(args, EXECUTION_OPTIONS))
    overrides = {
        "epochs": args.epochs,
        "lr": args.lr,
        "momentum": args.momentum,
        "weight_decay": args.weight_decay,
        "cd_steps": args.cd_steps,
    }
    updown = dict(recipe["updown"], **{k: v for k, v in overrides.items() if v is not None})
    start = start_entries(args.start_from, GenerativeDBN, recipe["sizes"])
    return UpDownRunConfig(
        **typed,
        **start,
        dataset=recipe["dataset"],
        sizes=list(recipe["sizes"]),
        weight_std=weight_std,
        greedy=TrainConfig(**greedy),
        updown=UpDownConfig(**updown),
    )


def pretrained_model(
    config: UpDownRunConfig, train, progress: bool, state_path: Path, resume: bool
) -> GenerativeDBN:
    """A generative DBN pretrained greedily by the run's config, checkpointed in
    ``state_path`` after every epoch (and continued from it with ``resume``)."""
    model = GenerativeDBN(
        config.sizes, weight_std=config.weight_std, generator=new_generator(config.seed)
    )
    pretrain(
        model,
        train.x,
        config=config.greedy,
        labels=train.y,
        seed=config.seed,
        progress=progress,
        checkpoint_path=state_path,
        resume=resume,
    )
    return model


def main(args: argparse.Namespace) -> dict:
    device = resolve_device(args.device)
    if device.type != "cpu":
        raise ValueError(f"dbn-updown runs on the CPU for now, got --device {device}")
    run = RunDirectory(args.out, command=args)
    config = build_config(args, run)
    data = load_dataset(config.dataset, data_dir=args.data_dir, seed=config.seed)
    check_input_size(config.sizes, config.dataset, data["train"].x.shape[1])
    state_path = run / "updown-state.pt"
    resuming = args.resume and run.state_file(state_path.name) is not None
    state = UpDownTrainer.read_checkpoint(state_path) if resuming else None
    if state is not None:  # before any write
        config.updown.check_saved(state.get("config"), repr(str(state_path)))
    run.claim(SCRIPT, args.resume)  # the first write to the run directory
    run.write_config(SCRIPT, config.to_dict())
    train, valid, test = data["train"], data["valid"], data["test"]
    if config.use_valid:
        train = type(train)(torch.cat([train.x, valid.x]), torch.cat([train.y, valid.y]))
    started = time.perf_counter()
    greedy_state = run / "greedy-state.pt"
    run.state_file(greedy_state.name)  # a checkpoint's place holds none or a file
    model = run.greedy_model(
        config,
        GenerativeDBN,
        lambda: pretrained_model(config, train, not args.no_progress, greedy_state, args.resume),
    )
    start_error = model.error_rate(test.x, test.y)
    trainer = UpDownTrainer(model, config.updown, seed=config.seed)
    if state is not None:
        trainer.load_state_dict(state)
    run.restart_logs({"metrics.jsonl": trainer.history}, resumed=state is not None)

    def after_epoch(trainer: UpDownTrainer) -> None:
        row = trainer.history[-1]
        if not config.use_valid and (
            trainer.epoch % config.eval_every == 0 or trainer.epoch == config.updown.epochs
        ):
            row["valid_error"] = model.error_rate(valid.x, valid.y)
        trainer.save_checkpoint(state_path)
        announce = f"epoch {row['epoch']}: checkpoint written" if args.no_progress else None
        run.log_epoch(row, announce)

    trainer.fit(train.x, labels=train.y, callbacks=[after_epoch], progress=not args.no_progress)
    seconds = time.perf_counter() - started
    result = {
        "start_test_error": start_error,
        "test_error": model.error_rate(test.x, test.y),
        "training_images": len(train),
        "seconds_this_process": seconds,
        "torch": torch.__version__,
    }
    model.save(run / "model.safetensors", **{"result": result, "recipe": config.recipe})
    run.write_json("result.json", result)
    side = int(config.sizes[0] ** 0.5)
    if side * side == config.sizes[0]:
        labels = torch.arange(model.n_labels).repeat_interleave(10)
        samples = model.generate(labels, gibbs_steps=1000, generator=new_generator(config.seed))
        save_image_grid(samples, run / "samples.png", n_columns=10)
    run.close()
    print(
        f"test error: {100 * result['start_test_error']:.2f} % before up-down, "
        f"{100 * result['test_error']:.2f} % after up-down"
    )
    return result


if __name__ == "__main__":
    run_cli(main, get_args_parser())
