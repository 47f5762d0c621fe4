"""Training throughput of CD-1 on a 784x500 RBM: dbn against scikit-learn and plain PyTorch.

    python scripts/bench.py                 # CPU (and CUDA when present), batch 100 and 1000
    python scripts/bench.py --full          # also time the hinton2006 recipe end to end

Every contender trains on the same binarised MNIST images (random binary images of the
same shape if MNIST is unavailable) in the same process, so the ratios compare like with
like. scikit-learn's BernoulliRBM does PCD-1, so dbn is timed with both CD-1 and PCD-1.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from dbn import RBM
from dbn.cli import ArgumentParser, add_autocast_argument, positive_int, run_cli
from dbn.data import DataUnavailableError, load_mnist
from dbn.train import RBMTrainer, TrainConfig

ROOT = Path(__file__).resolve().parent.parent


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description="CD-1 throughput benchmark.")
    parser.add_argument("--samples", type=positive_int, default=20000, help="examples per run")
    parser.add_argument("--batch-sizes", type=positive_int, nargs="+", default=[100, 1000])
    parser.add_argument("--hidden", type=positive_int, default=500)
    parser.add_argument("--repeats", type=positive_int, default=3, help="best of this many")
    parser.add_argument("--full", action="store_true", help="time pretrain + fine-tune too")
    add_autocast_argument(parser, help="also time the fast path in this mixed precision")
    parser.add_argument("--out", default="runs/bench", help="directory for bench.json")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_data(n: int) -> torch.Tensor:
    try:
        x = load_mnist("standard")["train"].x[:n]
    except DataUnavailableError:
        x = torch.rand(n, 784)
    return torch.bernoulli(x, generator=torch.Generator().manual_seed(0))


def best_of(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def time_sklearn(x: np.ndarray, hidden: int, batch: int, repeats: int) -> float:
    from sklearn.neural_network import BernoulliRBM

    def run():
        BernoulliRBM(
            n_components=hidden, learning_rate=0.1, batch_size=batch, n_iter=1, random_state=0
        ).fit(x)

    return best_of(repeats, run)


def time_plain_torch(x: torch.Tensor, hidden: int, batch: int, repeats: int) -> float:
    """A straightforward CD-1 loop, as one would write it first: the reference."""

    def run():
        g = torch.Generator(x.device).manual_seed(0)
        w = torch.randn(hidden, x.shape[1], generator=g, device=x.device) * 0.01
        b_h = torch.zeros(hidden, device=x.device)
        b_v = torch.zeros(x.shape[1], device=x.device)
        for begin in range(0, len(x), batch):
            v0 = x[begin : begin + batch]
            h0 = torch.sigmoid(v0 @ w.T + b_h)
            v1 = torch.bernoulli(
                torch.sigmoid(torch.bernoulli(h0, generator=g) @ w + b_v), generator=g
            )
            h1 = torch.sigmoid(v1 @ w.T + b_h)
            w += 0.1 * (h0.T @ v0 - h1.T @ v1) / len(v0)
            b_h += 0.1 * (h0 - h1).mean(0)
            b_v += 0.1 * (v0 - v1).mean(0)
        if x.is_cuda:
            torch.cuda.synchronize()

    run()  # warm-up
    return best_of(repeats, run)


def time_dbn(x: torch.Tensor, hidden: int, batch: int, repeats: int, method: str, **options):
    """One epoch of ``method`` with the ``TrainConfig`` ``options`` (step, autocast, ...)."""
    config = TrainConfig(method=method, k=1, epochs=1, lr=0.1, batch_size=batch, **options)
    trainer = RBMTrainer(RBM(x.shape[1], hidden), config, device=x.device)
    trainer.start(x)

    def run():
        trainer.train_epoch(x)
        if x.is_cuda:
            torch.cuda.synchronize()

    run()  # warm-up
    return best_of(repeats, run)


def variants(device: torch.device, autocast: str | None) -> list[tuple[str, dict]]:
    """The dbn configurations timed on ``device``: name suffix and TrainConfig options."""
    found = [(" (autograd)", {"step": "loss"}), ("", {"step": "fused"})]
    if device.type == "cuda":
        graph = {"step": "cuda_graph"}
        found += [
            (" (CUDA graph)", graph),
            (" (CUDA graph, TF32)", {**graph, "allow_tf32": True}),
            (" (CUDA graph, bfloat16)", {**graph, "autocast": "bfloat16"}),
        ]
    if autocast is not None:
        found.append((f" ({autocast})", {"step": "fused", "autocast": autocast}))
    return found


def benchmark(args: argparse.Namespace) -> dict:
    x = load_data(args.samples)
    x_numpy = x.numpy().astype(np.float64)  # scikit-learn works in float64
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for batch in args.batch_sizes:

        def record(name, device, seconds, batch=batch):
            rows.append(
                {
                    "contender": name,
                    "device": str(device),
                    "batch": batch,
                    "samples_per_s": args.samples / seconds,
                    "ms_per_60k_epoch": 1000 * seconds * 60000 / args.samples,
                    "peak_rss_mib": peak_rss_mib(),
                }
            )
            print(
                f"  bs {batch:5d} {name:24s} {device!s:5s} "
                f"{args.samples / seconds:12,.0f} samples/s",
                flush=True,
            )

        record("scikit-learn PCD-1", "cpu", time_sklearn(x_numpy, args.hidden, batch, args.repeats))
        for device in devices:
            xd = x.to(device)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            record(
                "plain torch CD-1", device, time_plain_torch(xd, args.hidden, batch, args.repeats)
            )
            for method in ("cd", "pcd"):
                for variant, options in variants(device, args.autocast):
                    name = f"dbn {method.upper()}-1{variant}"
                    seconds = time_dbn(xd, args.hidden, batch, args.repeats, method, **options)
                    record(name, device, seconds)
            if device.type == "cuda":
                rows[-1]["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return {"rows": rows, "ratios": ratios(rows)}


def ratios(rows: list[dict]) -> list[dict]:
    out = []
    for batch in sorted({row["batch"] for row in rows}):
        speed = {
            (r["contender"], r["device"]): r["samples_per_s"] for r in rows if r["batch"] == batch
        }
        sklearn = speed[("scikit-learn PCD-1", "cpu")]
        for (name, device), value in speed.items():
            if name.startswith("dbn"):
                plain = speed[("plain torch CD-1", device)]
                out.append(
                    {
                        "batch": batch,
                        "contender": name,
                        "device": device,
                        "vs_sklearn": value / sklearn,
                        "vs_plain_torch": value / plain,
                    }
                )
    return out


def time_full(out: Path) -> dict:
    """Wall time of `pretrain.py --recipe hinton2006` then `finetune.py --init dbn`."""
    timings = {}
    commands = {
        "pretrain": [
            sys.executable,
            str(ROOT / "scripts/pretrain.py"),
            "--recipe",
            "hinton2006",
            "--out",
            str(out / "full-pretrain"),
            "--no-progress",
        ],
        "finetune": [
            sys.executable,
            str(ROOT / "scripts/finetune.py"),
            "--init",
            "dbn",
            "--checkpoint",
            str(out / "full-pretrain" / "dbn.pt"),
            "--epochs",
            "30",
            "--out",
            str(out / "full-finetune"),
            "--no-progress",
        ],
    }
    for name, command in commands.items():
        started = time.perf_counter()
        subprocess.run(command, check=True)
        timings[f"{name}_seconds"] = time.perf_counter() - started
    return timings


def main(args: argparse.Namespace) -> dict:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
    print(
        f"CD-1 / PCD-1, 784x{args.hidden}, {args.samples} samples per run, best of "
        f"{args.repeats}; {machine['processor']}, {machine['cpu_threads']} threads, "
        f"torch {machine['torch']}, CUDA: {machine['cuda']}"
    )
    result = {"machine": machine, "samples": args.samples, **benchmark(args)}
    if args.full:
        result["full"] = time_full(out)
    print()
    print(
        "| batch | contender | device | samples/s | ms / 60k epoch "
        "| × scikit-learn | × plain torch |"
    )
    print("|---|---|---|---|---|---|---|")
    ratio = {(r["batch"], r["contender"], r["device"]): r for r in result["ratios"]}
    for row in result["rows"]:
        extra = ratio.get((row["batch"], row["contender"], row["device"]))
        versus = f"{extra['vs_sklearn']:.2f} | {extra['vs_plain_torch']:.2f}" if extra else "— | —"
        print(
            f"| {row['batch']} | {row['contender']} | {row['device']} | "
            f"{row['samples_per_s']:,.0f} | {row['ms_per_60k_epoch']:,.0f} | {versus} |"
        )
    if "full" in result:
        print(
            f"\nhinton2006 recipe: pretrain {result['full']['pretrain_seconds']:.0f} s, "
            f"fine-tune {result['full']['finetune_seconds']:.0f} s"
        )
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten {out / 'bench.json'}")
    return result


if __name__ == "__main__":
    run_cli(main, get_args_parser())
