"""Greedy layer-wise pretraining of a DBN; writes a run directory with checkpoint and plots.

python scripts/pretrain.py --recipe hinton2006 --out runs/hinton2006
python scripts/pretrain.py --dataset digits --sizes 64 32 16 --epochs 5 --out runs/tiny
python scripts/pretrain.py --resume --out runs/hinton2006      # after a kill or Ctrl-C
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dbn import DBN  # noqa: E402
from dbn.checkpoint import safe_load  # noqa: E402
from dbn.cli import add_autocast_argument, add_common_arguments, run_cli  # noqa: E402
from dbn.data import load_dataset  # noqa: E402
from dbn.distributed import setup  # noqa: E402
from dbn.runs import RunDirectory, resolve_device  # noqa: E402
from dbn.viz import plot_curves, save_filters, save_image_grid  # noqa: E402

RECIPES = {
    # Hinton & Salakhutdinov (2006), Science: the MATLAB code's classification recipe.
    "hinton2006": dict(
        sizes=[784, 500, 500, 2000],
        method="cd",
        k=1,
        epochs=50,
        lr=0.1,
        batch_size=100,
        momentum=0.5,
        final_momentum=0.9,
        weight_decay=2e-4,
    ),
    # What `make demo` pretrains: the same kind of stack, small enough for a laptop CPU.
    "quick": dict(
        sizes=[784, 500, 500],
        method="cd",
        k=1,
        epochs=3,
        lr=0.1,
        batch_size=100,
        momentum=0.5,
        final_momentum=0.9,
        weight_decay=2e-4,
    ),
}


@dataclass
class PretrainConfig:
    sizes: list[int] = field(default_factory=lambda: [784, 500, 500, 2000])
    method: str = "cd"
    k: int = 1
    epochs: int = 10
    lr: float = 0.1
    batch_size: int = 100
    momentum: float = 0.5
    final_momentum: float = 0.9
    weight_decay: float = 2e-4
    corruption: float = 0.0
    autocast: str | None = None
    dataset: str = "mnist"
    seed: int = 0
    recipe: str | None = None

    def __post_init__(self) -> None:
        if len(self.sizes) < 2 or any(size < 1 for size in self.sizes):
            raise ValueError(f"sizes must be two or more positive integers, got {self.sizes!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs!r}")
        if self.dataset not in ("mnist", "digits"):
            raise ValueError(f"dataset must be 'mnist' or 'digits', got {self.dataset!r}")

    def train_options(self) -> dict:
        return dict(
            method=self.method,
            k=self.k,
            epochs=self.epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            momentum=self.momentum,
            final_momentum=self.final_momentum,
            weight_decay=self.weight_decay,
            corruption=self.corruption,
            autocast=self.autocast,
        )


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Greedy layer-wise DBN pretraining.")
    parser.add_argument("--recipe", choices=sorted(RECIPES), help="a named set of options")
    parser.add_argument("--sizes", type=int, nargs="+", help="units per layer, data first")
    parser.add_argument("--method", choices=["cd", "pcd", "recon"])
    parser.add_argument("--k", type=int, help="Gibbs steps for cd/pcd")
    parser.add_argument("--epochs", type=int, help="epochs per layer")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--corruption", type=float, help="masking noise for recon")
    add_autocast_argument(parser, help="train in this mixed precision")
    parser.add_argument("--dataset", choices=["mnist", "digits"], default="mnist")
    parser.add_argument("--out", default="runs/pretrain", help="run directory")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_common_arguments(parser)
    return parser


def build_config(args: argparse.Namespace, run: RunDirectory) -> PretrainConfig:
    if args.resume and (run / "config.json").is_file():
        saved = json.loads((run / "config.json").read_text())
        return PretrainConfig(**saved)
    values = dict(RECIPES[args.recipe]) if args.recipe else {}
    for name in (
        "sizes",
        "method",
        "k",
        "epochs",
        "lr",
        "batch_size",
        "weight_decay",
        "corruption",
        "autocast",
    ):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if "sizes" not in values and args.dataset == "digits":
        values["sizes"] = [64, 32, 16]
    return PretrainConfig(dataset=args.dataset, seed=args.seed, recipe=args.recipe, **values)


def save_pictures(dbn: DBN, run: RunDirectory, test: torch.Tensor, histories, seed: int) -> None:
    first = dbn.layers[0]
    save_filters(first.weight, run / "filters.png")
    with torch.no_grad():
        digits = test[:10]
        up = dbn.transform(digits)
        down = up
        for rbm in reversed(dbn.layers):
            down = rbm.visible_probs(down)
        rows = torch.cat([digits, first.reconstruct(digits), down])
    save_image_grid(rows.cpu(), run / "reconstructions.png")
    generator = torch.Generator(first.weight.device).manual_seed(seed)
    save_image_grid(
        dbn.generate(50, gibbs_steps=1000, generator=generator).cpu(), run / "samples.png"
    )
    plot_curves(
        {
            f"layer {i + 1}": [m["recon_error"] for m in history]
            for i, history in enumerate(histories)
        },
        run / "curves.png",
        ylabel="reconstruction error (sum over units)",
        title="Pretraining: training-set reconstruction error per layer",
        log_y=True,
    )


def main(args: argparse.Namespace) -> DBN:
    context = setup(resolve_device(args.device))  # joins torchrun's process group, if any
    device = context.device
    run = RunDirectory(args.out, enabled=context.is_main)
    config = build_config(args, run)
    data = load_dataset(config.dataset, data_dir=args.data_dir, seed=config.seed)
    n_features = data["train"].x.shape[1]
    if config.sizes[0] != n_features:
        raise ValueError(
            f"sizes start with {config.sizes[0]} but {config.dataset} has {n_features} features"
        )
    run.write_json("config.json", asdict(config))
    state_path = run / "train-state.pt"
    if args.resume and state_path.is_file():
        # metrics written after the last checkpoint are redone, so rewrite them from it
        histories = safe_load(state_path, kind="dbn-training")["histories"]
        run.remove("metrics.jsonl")
        for layer, history in enumerate(histories):
            for row in history:
                run.log_metrics({"layer": layer + 1, **row})
        if context.is_main:
            print(f"resuming {run.path} from its checkpoint", file=sys.stderr)
    elif not args.resume:
        run.remove("metrics.jsonl")

    torch.manual_seed(config.seed)
    dbn = DBN(config.sizes, generator=torch.Generator().manual_seed(config.seed))
    started = time.perf_counter()
    histories = dbn.pretrain(
        data["train"].x,
        data["valid"].x,
        device=device,
        seed=config.seed,
        progress=not args.no_progress,
        checkpoint_path=state_path,
        resume=args.resume,
        on_epoch_end=lambda layer, trainer: run.log_metrics(
            {"layer": layer + 1, **trainer.history[-1]}
        ),
        **config.train_options(),
    )
    seconds = time.perf_counter() - started
    if not context.is_main:
        return dbn
    final = dbn.save(
        run / "dbn.pt", recipe=config.recipe, dataset=config.dataset, world_size=context.world_size
    )
    test = data["test"].x.to(device)
    quality = {
        "pretrain_seconds": seconds,
        "device": str(device),
        "torch": torch.__version__,
        "world_size": context.world_size,
    }
    with torch.no_grad():
        x = test
        for index, rbm in enumerate(dbn.layers):
            quality[f"layer{index + 1}_test_recon_error"] = (
                (rbm.reconstruct(x) - x).pow(2).sum(1).mean().item()
            )
            x = rbm.hidden_probs(x)
    run.write_json("quality.json", quality)
    if int(config.sizes[0] ** 0.5) ** 2 == config.sizes[0]:
        save_pictures(dbn, run, test, histories, config.seed)
    print(
        f"pretrained {'-'.join(map(str, config.sizes))} in {seconds:.1f} s on {device}; "
        f"checkpoint {final}"
    )
    return dbn


if __name__ == "__main__":
    run_cli(main, get_args_parser())
