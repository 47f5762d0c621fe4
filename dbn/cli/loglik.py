"""Train one RBM on binarised MNIST and report its test log-likelihood, bracketed.

Reproduces the RBM-500 experiment of Salakhutdinov & Murray (2008), who report
-86.34 nats for CD-25 (and far worse for CD-1) on the 10k test set. AIS (log Z from
below on average, so an optimistic likelihood) gives the estimate; RAISE (Burda et al.
2015; conservative) gives the other side of the bracket on ``--raise-examples`` test
images.

    dbn-loglik --method pcd --epochs 100 --lr 0.01 --lr-decay linear
    dbn-loglik --method pt --epochs 20 --eval-every 2    # with a curve
    dbn-loglik --score pretrained/mnist-rbm-500-cd1to25.safetensors

``--eval-every N`` holds out the last 10,000 training images, trains on the other
50,000 and scores the model on the held-out ones every N epochs (AIS with
``--eval-betas`` temperatures): the curve is in ``curve.csv`` and ``curve.png``, and the
test set is read once, at the end. ``--score PATH`` trains nothing: it scores a saved
RBM (a run's ``rbm.pt`` or a file in ``pretrained/``) the same way.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from dbn import RBM, ais, load
from dbn.cli.args import (
    EXECUTION_OPTIONS,
    ArgumentParser,
    add_autocast_argument,
    add_common_arguments,
    add_execution_arguments,
    add_tensorboard_argument,
    given_options,
    run_cli,
)
from dbn.cli.device import check_fits_in_memory, mlp_parameter_count, resolve_device
from dbn.cli.runs import RunDirectory
from dbn.datasets import load_mnist
from dbn.io import atomic_save, safe_load, sha256_file
from dbn.training.rbm_trainer import LR_DECAYS, METHODS, RBMTrainer, TrainConfig
from dbn.utils import JSONConfig, check_choice, check_int, new_generator
from dbn.visual import plot_curves

# The TrainConfig fields this script has flags for (same names, dashes for underscores).
TRAIN_FLAGS = (
    "method",
    "k",
    "k_final",
    "n_temperatures",
    "epochs",
    "lr",
    "lr_decay",
    "batch_size",
    "weight_decay",
    "autocast",
    *EXECUTION_OPTIONS,
)
# This script's training defaults, where they differ from TrainConfig's.
TRAIN_DEFAULTS = dict(
    method="pcd", epochs=100, lr=0.01, lr_decay="linear", batch_size=100, weight_decay=2e-4
)
# The LoglikConfig fields this script has flags for.
LOGLIK_FLAGS = (
    "hidden",
    "binarize",
    "n_betas",
    "n_runs",
    "eval_every",
    "eval_betas",
    "raise_examples",
    "score",
    "seed",
)
# Held out from the 60,000 training images when the curve is drawn (Hinton's split).
HELD_OUT = 10000
# The seeds that binarise the training and the test images, whatever --seed says: the
# data set stays one fixed draw (as in the paper), and --seed varies the model and AIS.
BINARIZE_SEEDS = {"train": 1000, "test": 2000}
CHECKPOINT_KIND = "loglik-training"


@dataclass
class LoglikConfig(JSONConfig):
    train: TrainConfig = field(default_factory=lambda: TrainConfig(**TRAIN_DEFAULTS))
    hidden: int = 500
    binarize: str = "stochastic"
    n_betas: int = 15000
    n_runs: int = 100
    seed: int = 0
    eval_every: int | None = None
    eval_betas: int = 1000
    raise_examples: int = 1000
    score: str | None = None

    def __post_init__(self) -> None:
        check_choice("binarize", self.binarize, ("stochastic", "threshold"))
        check_int("hidden", self.hidden)
        check_int("n_betas", self.n_betas, minimum=3)
        check_int("n_runs", self.n_runs, minimum=2)
        if self.eval_every is not None:
            check_int("eval_every", self.eval_every)
        check_int("eval_betas", self.eval_betas, minimum=3)
        check_int("raise_examples", self.raise_examples, minimum=0)
        if self.score is not None and self.eval_every is not None:
            raise ValueError("--score trains nothing, so it draws no --eval-every curve")


def build_config(args: argparse.Namespace, run: RunDirectory) -> LoglikConfig:
    """The run's configuration: the saved one for ``--resume`` (refusing options that
    differ from it), else the defaults with the typed options on top."""
    typed = given_options(args, LOGLIK_FLAGS)
    typed_train = given_options(args, TRAIN_FLAGS)
    if args.resume and typed.get("score"):
        raise ValueError("--score trains nothing, so there is nothing to --resume")
    saved = run.resumed_config("loglik", LoglikConfig) if args.resume else None
    if saved is not None:
        return saved
    return LoglikConfig(**typed, train=TrainConfig(**{**TRAIN_DEFAULTS, **typed_train}))


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, help="hidden units (default 500)")
    parser.add_argument("--method", choices=METHODS, help="default pcd")
    parser.add_argument("--k", type=int, help="Gibbs steps for cd/pcd/pt (default 1)")
    parser.add_argument("--k-final", type=int, help="grow k linearly to this by the last epoch")
    parser.add_argument("--n-temperatures", type=int, help="pt: inverse temperatures (10)")
    parser.add_argument("--epochs", type=int, help="default 100")
    parser.add_argument("--lr", type=float, help="default 0.01")
    parser.add_argument("--lr-decay", choices=LR_DECAYS, help="default linear")
    parser.add_argument("--batch-size", type=int, help="default 100")
    parser.add_argument("--weight-decay", type=float, help="default 2e-4")
    add_autocast_argument(parser, help="train in this mixed precision (AIS runs in float32)")
    add_execution_arguments(parser)
    parser.add_argument(
        "--binarize",
        choices=["stochastic", "threshold"],
        help="stochastic (default): pixel ~ Bernoulli(intensity), drawn once with fixed "
        "seeds whatever --seed says (as the paper)",
    )
    parser.add_argument("--n-betas", type=int, help="AIS temperatures (default 15000)")
    parser.add_argument("--n-runs", type=int, help="AIS runs (default 100)")
    parser.add_argument(
        "--eval-every", type=int, help="score held-out training images every N epochs"
    )
    parser.add_argument("--eval-betas", type=int, help="AIS temperatures per score (default 1000)")
    parser.add_argument(
        "--raise-examples", type=int, help="test images that RAISE scores (default 1000; 0: none)"
    )
    parser.add_argument(
        "--score",
        metavar="PATH",
        help="score this saved RBM (784 Bernoulli visible units) instead of training one; "
        "the training options are then unused",
    )
    parser.add_argument("--out", default="runs/loglik", help="run directory (runs/loglik)")
    parser.add_argument("--resume", action="store_true", help="continue the training in --out")
    add_common_arguments(parser)
    add_tensorboard_argument(parser)
    return parser


def binarize(x: torch.Tensor, how: str, seed: int) -> torch.Tensor:
    if how == "threshold":
        return (x > 0.5).to(x.dtype)
    return torch.bernoulli(x, generator=new_generator(seed))


def held_out_score(
    rbm: RBM, train: torch.Tensor, held_out: torch.Tensor, config: LoglikConfig, epoch: int
) -> dict:
    """AIS log Z with ``eval_betas`` temperatures and the held-out mean log-likelihood."""
    started = time.perf_counter()
    generator = new_generator(config.seed * 1000 + epoch, rbm.weight.device)
    estimate = ais.log_partition(
        rbm, train, n_betas=config.eval_betas, n_runs=config.n_runs, generator=generator
    )
    return {
        "epoch": epoch,
        "held_out_log_likelihood": ais.log_likelihood(rbm, held_out, log_z=estimate.log_z),
        "log_z": estimate.log_z,
        "seconds": time.perf_counter() - started,
    }


def write_curve(run: RunDirectory, curve: list[dict], title: str) -> None:
    """``curve.csv`` and ``curve.png``: held-out log-likelihood against epochs."""
    run.write_csv("curve.csv", curve, list(curve[0]))
    plot_curves(
        {"held-out": [row["held_out_log_likelihood"] for row in curve]},
        run / "curve.png",
        ylabel="mean log-likelihood (nats, AIS)",
        title=title,
        x=[row["epoch"] for row in curve],
    )


def score_rbm(
    rbm: RBM,
    train: torch.Tensor,
    test: torch.Tensor,
    config: LoglikConfig,
    device,
    held_out: torch.Tensor | None = None,
) -> dict:
    """AIS log Z (``n_betas`` temperatures, ``n_runs`` runs, base rates from ``train``),
    the mean test and train log-likelihoods (and the held-out one, if given: the figure
    to compare runs by, never the test set), and the RAISE bracket on the first
    ``raise_examples`` test images."""
    started = time.perf_counter()
    generator = new_generator(config.seed, device)
    estimate = ais.log_partition(
        rbm, train.to(device), n_betas=config.n_betas, n_runs=config.n_runs, generator=generator
    )
    result = {
        "log_z": estimate.log_z,
        "log_z_interval": [estimate.log_z_low, estimate.log_z_high],
        "test_log_likelihood": ais.log_likelihood(rbm, test.to(device), log_z=estimate.log_z),
        "train_log_likelihood": ais.log_likelihood(rbm, train.to(device), log_z=estimate.log_z),
        "ais_seconds": time.perf_counter() - started,
    }
    if held_out is not None:
        result["held_out_log_likelihood"] = ais.log_likelihood(
            rbm, held_out.to(device), log_z=estimate.log_z
        )
    if config.raise_examples:
        # RAISE and AIS on the same test images: the bracket
        scored = test[: config.raise_examples].to(device)
        started = time.perf_counter()
        reverse = ais.reverse_log_likelihood(
            rbm, scored, train.to(device), n_betas=config.n_betas, generator=generator
        )
        result.update(
            raise_examples=len(scored),
            raise_log_likelihood=reverse.log_likelihood,
            ais_log_likelihood_same_examples=ais.log_likelihood(rbm, scored, log_z=estimate.log_z),
            raise_seconds=time.perf_counter() - started,
        )
    return result


def load_scored_rbm(path: str) -> RBM:
    """The saved RBM at ``path``, refused unless it models binarised MNIST."""
    model = load(path)
    if not isinstance(model, RBM):
        raise ValueError(f"--score {path!r} holds a {type(model).__name__}, not an RBM")
    if model.n_visible != 784 or model.visible != "bernoulli":
        raise ValueError(
            f"--score {path!r} has {model.n_visible} {model.visible} visible units; "
            "binarised MNIST needs 784 bernoulli ones"
        )
    return model


def train_rbm(
    train: torch.Tensor,
    held_out: torch.Tensor | None,
    config: LoglikConfig,
    run: RunDirectory,
    device,
    progress: bool,
    saved: dict | None = None,
) -> tuple[RBM, float, list[dict]]:
    """Train the RBM (scoring ``held_out`` every ``eval_every`` epochs), writing
    ``train-state.pt`` after every epoch and ``rbm.pt`` at the end; ``saved`` is such a
    state to continue from. Returns the RBM, the training seconds over all sessions
    (scoring and checkpoints excluded) and the held-out curve."""
    rbm = RBM(784, config.hidden, generator=new_generator(config.seed))
    trainer = RBMTrainer(
        rbm, config.train, seed=config.seed, device=device, name=f"RBM-{config.hidden}"
    )
    curve: list[dict] = []
    clock = {"seconds": 0.0}
    if saved is not None:
        trainer.load_state_dict(saved["trainer"])
        curve, clock["seconds"] = list(saved["curve"]), saved["train_seconds"]

    def after_epoch(trainer: RBMTrainer) -> None:
        clock["seconds"] += time.perf_counter() - clock["since"]
        last = trainer.epoch == config.train.epochs
        row = None
        if held_out is not None and (trainer.epoch % config.eval_every == 0 or last):
            row = held_out_score(
                trainer.rbm, train.to(device), held_out.to(device), config, trainer.epoch
            )
            curve.append(row)
        state = {"trainer": trainer.state_dict(), "curve": curve, "train_seconds": clock["seconds"]}
        atomic_save({"kind": CHECKPOINT_KIND, **state}, run / "train-state.pt")
        if row is not None:
            run.log_metrics(row, "curve.jsonl")
            if run.board is not None:
                run.board.epoch(row, "held_out/")
        announce = None if progress else f"epoch {trainer.epoch}: checkpoint written"
        run.log_epoch(trainer.history[-1], announce)
        clock["since"] = time.perf_counter()

    clock["since"] = time.perf_counter()
    trainer.fit(
        train,
        valid=None if held_out is None else held_out[:1000],
        callbacks=[after_epoch],
        progress=progress,
    )
    trainer.rbm.save(run / "rbm.pt")
    return trainer.rbm, clock["seconds"], curve


def main(args: argparse.Namespace) -> dict:
    run = RunDirectory(args.out, tensorboard=args.tensorboard, command=args)
    config = build_config(args, run)
    device = resolve_device(args.device)
    scored = load_scored_rbm(config.score).to(device) if config.score else None
    hidden = config.hidden if scored is None else scored.n_hidden
    check_fits_in_memory(mlp_parameter_count([784, hidden]), device)
    mnist = load_mnist("standard", data_dir=args.data_dir)
    state_path = run / "train-state.pt"
    saved = None
    if args.resume and run.state_file(state_path.name):  # read (and verified) before any write
        saved = safe_load(state_path, kind=CHECKPOINT_KIND)
    run.claim("loglik", resume=args.resume)  # the first write to the run directory
    logs = {"metrics.jsonl": [], "curve.jsonl": []}
    if saved is not None:
        logs = {"metrics.jsonl": saved["trainer"]["history"], "curve.jsonl": saved["curve"]}
    run.restart_logs(logs, resumed=saved is not None)
    run.write_config("loglik", asdict(config))
    train = binarize(mnist["train"].x, config.binarize, seed=BINARIZE_SEEDS["train"])
    test = binarize(mnist["test"].x, config.binarize, seed=BINARIZE_SEEDS["test"])
    held_out = None
    if config.eval_every is not None:  # every choice on held-out training images
        train, held_out = train[:-HELD_OUT], train[-HELD_OUT:]

    curve: list[dict] = []
    if scored is None:
        method = f"{config.train.method}-{config.train.k}" + (
            f"..{config.train.k_final}" if config.train.k_final is not None else ""
        )
        rbm, train_seconds, curve = train_rbm(
            train, held_out, config, run, device, progress=not args.no_progress, saved=saved
        )
        result = {
            "method": method,
            "hidden": config.hidden,
            "epochs": config.train.epochs,
            "training_images": len(train),
            "train_seconds": train_seconds,
        }
        name = f"{method} RBM-{config.hidden}, {config.train.epochs} epochs"
    else:
        rbm = scored
        result = {"scored": config.score, "sha256": sha256_file(Path(config.score))}
        result["hidden"] = rbm.n_hidden
        name = f"{config.score} (RBM-{rbm.n_hidden})"
    result.update(score_rbm(rbm, train, test, config, device, held_out))
    result.update(device=str(device), torch=torch.__version__)
    run.write_json("result.json", result)
    if curve:
        write_curve(run, curve, f"{result['method']} RBM-{config.hidden}: held-out log-likelihood")
    if run.board is not None:
        generator = new_generator(config.seed, device)
        run.board.rbm_pictures(rbm, "", config.train.epochs if scored is None else 0, generator)
        numbers = ("test_log_likelihood", "train_log_likelihood", "log_z")
        run.board.hyperparameters(asdict(config), {k: result[k] for k in numbers})
    run.close()
    bracket = ""
    if config.raise_examples:
        bracket = (
            f"; RAISE {result['raise_log_likelihood']:.2f} vs AIS "
            f"{result['ais_log_likelihood_same_examples']:.2f} on the first "
            f"{result['raise_examples']} test images"
        )
    low, high = result["log_z_interval"]
    held = ""
    if "held_out_log_likelihood" in result:
        held = f", held-out {result['held_out_log_likelihood']:.2f} nats"
    timing = f"AIS {result['ais_seconds']:.0f} s on {device}"
    if scored is None:
        timing = f"train {result['train_seconds']:.0f} s, {timing}"
    print(
        f"{name}: log Z = {result['log_z']:.2f} (±3σ: {low:.2f}..{high:.2f}); "
        f"test {result['test_log_likelihood']:.2f} nats, "
        f"train {result['train_log_likelihood']:.2f} nats{held}{bracket} [{timing}]"
    )
    return result


if __name__ == "__main__":
    run_cli(main, get_args_parser())
