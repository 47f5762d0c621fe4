"""Train one RBM on binarised MNIST and report its AIS test log-likelihood.

Reproduces the RBM-500 experiment of Salakhutdinov & Murray (2008), who report
-86.34 nats for CD-25 (and far worse for CD-1) on the 10k test set.

    python scripts/loglik.py --method pcd --epochs 100 --lr 0.01 --lr-decay linear
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass

import torch

from dbn import RBM, ais
from dbn.checkpoint import atomic_save
from dbn.cli import (
    ArgumentParser,
    add_autocast_argument,
    add_common_arguments,
    add_tensorboard_argument,
    given_options,
    run_cli,
)
from dbn.data import load_mnist
from dbn.device import check_fits_in_memory, mlp_parameter_count, resolve_device
from dbn.rng import new_generator
from dbn.runs import RunDirectory
from dbn.train import LR_DECAYS, METHODS, RBMTrainer, TrainConfig
from dbn.validation import check_choice, check_int

# The TrainConfig fields this script has flags for (same names, dashes for underscores).
TRAIN_FLAGS = ("method", "k", "epochs", "lr", "lr_decay", "batch_size", "weight_decay", "autocast")


@dataclass
class LoglikConfig:
    hidden: int
    train: TrainConfig
    binarize: str
    n_betas: int
    n_runs: int
    seed: int
    device: str
    data_dir: str | None

    def __post_init__(self) -> None:
        check_choice("binarize", self.binarize, ("stochastic", "threshold"))
        check_int("hidden", self.hidden)
        check_int("n_betas", self.n_betas, minimum=3)
        check_int("n_runs", self.n_runs, minimum=2)


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=500, help="hidden units (default 500)")
    parser.add_argument("--method", default="pcd", choices=METHODS)
    parser.add_argument("--k", type=int, default=1, help="Gibbs steps for cd/pcd")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--lr-decay", default="linear", choices=LR_DECAYS)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--weight-decay", type=float, default=2e-4)
    add_autocast_argument(parser, help="train in this mixed precision (AIS runs in float32)")
    parser.add_argument(
        "--binarize",
        default="stochastic",
        choices=["stochastic", "threshold"],
        help="stochastic: pixel ~ Bernoulli(intensity), fixed seed (as the paper)",
    )
    parser.add_argument("--n-betas", type=int, default=15000, help="AIS temperatures")
    parser.add_argument("--n-runs", type=int, default=100, help="AIS runs")
    parser.add_argument("--out", default="runs/loglik", help="run directory")
    add_common_arguments(parser)
    add_tensorboard_argument(parser)
    return parser


def binarize(x: torch.Tensor, how: str, seed: int) -> torch.Tensor:
    if how == "threshold":
        return (x > 0.5).to(x.dtype)
    return torch.bernoulli(x, generator=new_generator(seed))


def main(args: argparse.Namespace) -> dict:
    train_config = TrainConfig(**given_options(args, TRAIN_FLAGS))
    config = LoglikConfig(
        hidden=args.hidden,
        train=train_config,
        binarize=args.binarize,
        n_betas=args.n_betas,
        n_runs=args.n_runs,
        seed=0 if args.seed is None else args.seed,
        device=args.device,
        data_dir=args.data_dir,
    )
    device = resolve_device(config.device)
    check_fits_in_memory(mlp_parameter_count([784, config.hidden]), device)
    run = RunDirectory(args.out, tensorboard=args.tensorboard)
    run.claim("loglik", resume=False)  # the first write to the run directory
    run.write_json("config.json", {**asdict(config), "script": "loglik"})
    mnist = load_mnist("standard", data_dir=config.data_dir)
    train = binarize(mnist["train"].x, config.binarize, seed=1000 + config.seed)
    test = binarize(mnist["test"].x, config.binarize, seed=2000 + config.seed)

    rbm = RBM(784, config.hidden, generator=new_generator(config.seed))
    trainer = RBMTrainer(
        rbm, train_config, seed=config.seed, device=device, name=f"RBM-{config.hidden}"
    )
    started = time.perf_counter()
    trainer.fit(
        train,
        valid=test[:1000],
        progress=not args.no_progress,
        on_epoch_end=lambda t: run.log_epoch(t.history[-1]),
    )
    train_seconds = time.perf_counter() - started
    atomic_save(
        {"kind": "rbm", "config": rbm.config(), "state": trainer.state_dict()["rbm"]},
        run / "rbm.pt",
    )

    started = time.perf_counter()
    generator = new_generator(config.seed, device)
    estimate = ais.log_partition(
        trainer.rbm,
        train.to(device),
        n_betas=config.n_betas,
        n_runs=config.n_runs,
        generator=generator,
    )
    ais_seconds = time.perf_counter() - started
    test_ll = ais.log_likelihood(trainer.rbm, test.to(device), log_z=estimate.log_z)
    train_ll = ais.log_likelihood(trainer.rbm, train.to(device), log_z=estimate.log_z)
    result = {
        "method": f"{config.train.method}-{config.train.k}",
        "hidden": config.hidden,
        "epochs": config.train.epochs,
        "log_z": estimate.log_z,
        "log_z_interval": [estimate.log_z_low, estimate.log_z_high],
        "test_log_likelihood": test_ll,
        "train_log_likelihood": train_ll,
        "train_seconds": train_seconds,
        "ais_seconds": ais_seconds,
        "device": str(device),
        "torch": torch.__version__,
    }
    run.write_json("result.json", result)
    if run.board is not None:
        run.board.rbm_pictures(trainer.rbm, "", config.train.epochs, generator)
        numbers = ("test_log_likelihood", "train_log_likelihood", "log_z")
        run.board.hyperparameters(asdict(config), {k: result[k] for k in numbers})
    run.close()
    print(
        f"{result['method']} RBM-{config.hidden}, {config.train.epochs} epochs: "
        f"log Z = {estimate.log_z:.2f} (±3σ: {estimate.log_z_low:.2f}..{estimate.log_z_high:.2f}); "
        f"test {test_ll:.2f} nats, train {train_ll:.2f} nats "
        f"[train {train_seconds:.0f} s, AIS {ais_seconds:.0f} s on {device}]"
    )
    return result


if __name__ == "__main__":
    run_cli(main, get_args_parser())
