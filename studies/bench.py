"""Training throughput of a 784x500 RBM: dbn against scikit-learn and plain PyTorch.

    python -m studies.bench --out runs/bench   # CPU (and CUDA when present), batch 100 and 1000
    python -m studies.bench --full --out ...   # also time the hinton2006 recipe end to end

One run directory (:class:`dbn.cli.RunDirectory`'s contract: a new folder, locked,
``config.json`` first) holds what the run measured: ``bench.json`` (the contenders),
``gemm.json`` (the step's products by route) and ``noise.json`` (the sampling streams),
or the ``--parts`` asked for (``finetune.json``: the hinton2006 fine-tuning by route).

Like with like: every contender trains on the same binarised MNIST images, in float32
(scikit-learn's ``BernoulliRBM`` keeps float32 input in float32; its float64 run is a
separate, labelled row), with the same algorithm (PCD-1 whose chains keep hidden states,
plain SGD, lr 0.1, no momentum, no weight cost: what ``BernoulliRBM`` does; CD-1 rows
against learnergy's CD-1), called the way its users call it:
``BernoulliRBM(...).fit(X)`` and ``DBN([784, 500]).pretrain(X, ...)``, per-epoch
monitoring included. The bare fused step (no monitoring, no validation) is its own row,
and so is its floor: the step's matrix products (by the routes the step's chooser takes,
:class:`dbn.utils.Products`) and uniform noise alone, the ceiling of any exact step
on that stream and those routes. ``DBN.pretrain`` runs again with ``matmul="mm"``
(every product through ``torch.mm``, as before the choice), its own labelled row.
Set-up is cancelled out: each contender is timed for 1 and for 3 epochs, the rate comes
from the difference, and each time is the best of ``--repeats`` runs, the contenders
interleaved within every repeat. Mixed-precision rows are compared with dbn's own
float32 row only, never with another library.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dbn import DBN, RBM, TrainConfig
from dbn.cli import RunDirectory
from dbn.cli.args import ArgumentParser, add_autocast_argument, positive_int, run_cli
from dbn.cli.device import cpu_model
from dbn.datasets import DataUnavailableError, load_mnist
from dbn.training.rbm_trainer import RBMTrainer
from dbn.utils import PCG64Stream, Products, chosen_routes, new_generator, sampling_stream, uniform_

ROOT = Path(__file__).resolve().parent.parent
# Variables that force OpenBLAS (numpy's, so scikit-learn's) onto other kernels than the
# CPU's own: some machines set them; a user's does not. The benchmark never runs with them.
FORCING_BLAS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def clean_environment(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` without the variables that force numpy's BLAS kernels."""
    return {key: value for key, value in environ.items() if key not in FORCING_BLAS}


def blas_kernels() -> list[str]:
    """The BLAS libraries loaded in this process and the kernels they run, as
    threadpoolctl reports them (numpy's OpenBLAS; torch's MKL is not listed there)."""
    from threadpoolctl import threadpool_info

    return [
        f"{info.get('internal_api')} {info.get('version')} {info.get('architecture')} "
        f"({info.get('num_threads')} threads)"
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]


SCRIPT = "bench"
# What a run measures, each into its own report in the run directory
PARTS = ("throughput", "gemm", "noise", "finetune")
DEFAULT_PARTS = PARTS[:3]  # "finetune" takes minutes a run: asked for by name
# What BernoulliRBM does: plain SGD on the mean gradient.
SGD_LIKE_SKLEARN = dict(lr=0.1, momentum=0.0, final_momentum=0.0, weight_decay=0.0)
# BernoulliRBM's PCD keeps its chains' hidden states between updates; dbn's PCD rows too
CHAINS_LIKE_SKLEARN = {"cd": {}, "pcd": {"persist": "hidden"}}


def get_args_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description="RBM training throughput, like with like.")
    parser.add_argument(
        "--samples", type=positive_int, default=10000, help="images per epoch (10000)"
    )
    parser.add_argument(
        "--batch-sizes",
        type=positive_int,
        nargs="+",
        default=[100, 1000],
        help="batch sizes to time (100 1000)",
    )
    parser.add_argument("--hidden", type=positive_int, default=500, help="hidden units (500)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="best of this many (3)")
    parser.add_argument(
        "--full", action="store_true", help="time the hinton2006 recipe end to end too (float32)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile one public-API CD-1 epoch and stop"
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(DEFAULT_PARTS),
        help="what to measure: the contenders' throughput (bench.json), the step's "
        "matrix products in GFLOP/s by route (gemm.json), the sampling streams' uniform "
        "numbers/s at the step's shapes (noise.json), the first three by default; "
        "finetune: the hinton2006 fine-tuning of the shipped DBN by product route "
        "(finetune.json, --repeats runs of each, minutes each)",
    )
    add_autocast_argument(parser, help="also time dbn in this mixed precision")
    parser.add_argument(
        "--out", default="runs/bench", help="a new run directory for the reports (runs/bench)"
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


@dataclass
class Contender:
    """One row of the table: ``run(n_epochs)`` trains from scratch as its users would.

    ``data`` is what the contender is given, so that a test can check its dtype.
    ``reference`` names the row its ratio is taken against (None: no ratio), ``peer``
    a second row it is compared with (learnergy's CD-1 for dbn's float32 CD-1 rows).
    """

    name: str
    method: str
    device: str
    data: object
    run: Callable[[int], None]
    reference: str | None
    peer: str | None = None


def load_data(n: int) -> torch.Tensor:
    """The first ``n`` MNIST training images, binarised once (random images offline)."""
    try:
        x = load_mnist("standard")["train"].x[:n]
    except DataUnavailableError:
        x = torch.rand(n, 784, generator=new_generator(1))
    return torch.bernoulli(x, generator=new_generator(0))


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sklearn_contender(x: np.ndarray, hidden: int, batch: int) -> Contender:
    from sklearn.neural_network import BernoulliRBM

    def run(epochs: int) -> None:
        BernoulliRBM(
            n_components=hidden, learning_rate=0.1, batch_size=batch, n_iter=epochs, random_state=0
        ).fit(x)

    label = "" if x.dtype == np.float32 else f" ({x.dtype})"
    name = f"scikit-learn BernoulliRBM PCD-1{label}"
    return Contender(name, "pcd", "cpu", x, run, None)


def public_api_contender(
    x: torch.Tensor,
    hidden: int,
    batch: int,
    method: str,
    autocast: str | None,
    reference: str,
    rng: str = "auto",
    matmul: str = "auto",
) -> Contender:
    """``DBN([784, hidden]).pretrain(x, ...)``: validation, set-up, monitoring included;
    ``rng="torch"`` for the row of the sampling stream of the runs before ``rng``,
    ``matmul="mm"`` for the row of their product route."""

    def run(epochs: int) -> None:
        stack = DBN([x.shape[1], hidden], generator=new_generator(0))
        stack.pretrain(
            x,
            epochs=epochs,
            batch_size=batch,
            method=method,
            autocast=autocast,
            device=x.device,
            progress=False,
            rng=rng,
            matmul=matmul,
            **SGD_LIKE_SKLEARN,
            **CHAINS_LIKE_SKLEARN[method],
        )
        _synchronise(x.device)

    label = f" ({autocast} mixed precision)" if autocast else ""
    stream = ", torch stream," if rng == "torch" else ""
    route = ", torch.mm route," if matmul == "mm" else ""
    name = f"dbn DBN.pretrain{stream}{route} {method.upper()}-1{label}"
    return Contender(name, method, str(x.device), x, run, reference)


def bare_step_contender(
    x: torch.Tensor, hidden: int, batch: int, method: str, step: str, reference: str
) -> Contender:
    """The training loop alone: ``RBMTrainer.train_epoch``, no monitoring or validation."""

    def run(epochs: int) -> None:
        config = TrainConfig(
            method=method,
            batch_size=batch,
            step=step,
            **SGD_LIKE_SKLEARN,
            **CHAINS_LIKE_SKLEARN[method],
        )
        trainer = RBMTrainer(RBM(x.shape[1], hidden), config, device=x.device)
        trainer.start(x)
        for _ in range(epochs):
            trainer.train_epoch(x)
        _synchronise(x.device)

    name = f"dbn bare {step} step {method.upper()}-1"
    return Contender(name, method, str(x.device), x, run, reference)


def floor_contender(
    x: torch.Tensor, hidden: int, batch: int, method: str, reference: str
) -> Contender:
    """What no exact step can skip, and nothing else: the matrix products of a fused
    CD-1 or PCD-1 (hidden chains) step at its shapes, and one uniform number per sampled
    unit from the stream the step draws from (``rng="auto"``: PCG64 on the CPU), each
    product by the route the step's chooser takes for it. Its rate bounds every
    implementation that draws from that stream and multiplies by those routes: its
    ratio to scikit-learn is the ceiling of dbn's."""

    def run(epochs: int) -> None:
        g = new_generator(0, x.device)
        noise = sampling_stream("auto", 0, x.device)
        product = Products("auto").linear
        weight = torch.randn(hidden, x.shape[1], generator=g, device=x.device) * 0.01
        buffers: dict[int, tuple[torch.Tensor, ...]] = {}
        for _ in range(epochs):
            for begin in range(0, len(x), batch):
                data = x[begin : begin + batch]
                n = len(data)
                chains = n if method == "cd" else batch  # PCD keeps a batch of chains
                if n not in buffers:
                    buffers[n] = (
                        torch.empty(n + chains, x.shape[1], device=x.device),
                        torch.empty(n + chains, hidden, device=x.device),
                        torch.empty(hidden, x.shape[1], device=x.device),
                    )
                visible, hidden_rows, gradient = buffers[n]
                visible[:n] = data
                # the products by the fused step's names and layouts (FastCD)
                if method == "cd":
                    product("hidden", data, weight, None, hidden_rows[:n])
                    uniform_(hidden_rows[n:], noise)  # the hidden sample's noise
                    product("visible", hidden_rows[n:], weight.T, None, visible[n:])
                    uniform_(visible[n:], noise)  # the visible sample's noise
                    product("hidden", visible[n:], weight, None, hidden_rows[n:])
                else:  # down from the kept hidden states, both row sets up in one product
                    uniform_(hidden_rows[n:], noise)  # the kept hidden sample's noise
                    product("visible", hidden_rows[n:], weight.T, None, visible[n:])
                    uniform_(visible[n:], noise)  # the visible sample's noise
                    product("hidden", visible, weight, None, hidden_rows)
                product("gradient", hidden_rows.T, visible.T, None, gradient)
        _synchronise(x.device)

    name = f"floor: the step's products and noise alone {method.upper()}-1"
    return Contender(name, method, str(x.device), x, run, reference)


def plain_torch_contender(x: torch.Tensor, hidden: int, batch: int) -> Contender:
    """A straightforward CD-1 loop, as one would write it first."""

    def run(epochs: int) -> None:
        g = new_generator(0, x.device)
        w = torch.randn(hidden, x.shape[1], generator=g, device=x.device) * 0.01
        b_h = torch.zeros(hidden, device=x.device)
        b_v = torch.zeros(x.shape[1], device=x.device)
        for _ in range(epochs):
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
        _synchronise(x.device)

    return Contender("plain torch CD-1 loop", "cd", str(x.device), x, run, None)


def learnergy_contender(x: torch.Tensor, hidden: int, batch: int) -> Contender | None:
    """learnergy's ``RBM.fit`` (CD-1 through autograd and a DataLoader), when installed."""
    if importlib.util.find_spec("learnergy") is None:
        print("learnergy is not installed: its row is skipped (pip install learnergy)")
        return None
    from learnergy.models.bernoulli import RBM as LearnergyRBM
    from torch.utils.data import TensorDataset

    dataset = TensorDataset(x.cpu(), torch.zeros(len(x)))

    def run(epochs: int) -> None:
        model = LearnergyRBM(
            n_visible=x.shape[1], n_hidden=hidden, steps=1, learning_rate=0.1, momentum=0.0
        )
        model.fit(dataset, batch_size=batch, epochs=epochs)

    return Contender("learnergy RBM.fit CD-1", "cd", "cpu", x, run, None)


def contenders(
    x: torch.Tensor, hidden: int, batch: int, devices: list[torch.device], autocast: str | None
) -> list[Contender]:
    """Every row for one batch size; the float32 rows all get ``x`` itself (float32)."""
    sklearn = sklearn_contender(x.numpy(), hidden, batch)
    rows = [sklearn, sklearn_contender(x.numpy().astype(np.float64), hidden, batch)]
    # learnergy trains CD-1 on the CPU in float32: dbn's rows of the same kind face it
    peer = learnergy_contender(x, hidden, batch)
    for device in devices:
        xd = x.to(device)
        rows.append(plain_torch_contender(xd, hidden, batch))
        for method in ("cd", "pcd"):
            public = public_api_contender(xd, hidden, batch, method, None, sklearn.name)
            bare = bare_step_contender(xd, hidden, batch, method, "fused", sklearn.name)
            floor = floor_contender(xd, hidden, batch, method, sklearn.name)
            if peer is not None and method == "cd" and device.type == "cpu":
                public.peer = bare.peer = floor.peer = peer.name
            rows += [public, bare, floor]
            if device.type == "cpu":  # the stream and route of the runs before the choices
                rows.append(
                    public_api_contender(xd, hidden, batch, method, None, public.name, "torch")
                )
                rows.append(
                    public_api_contender(xd, hidden, batch, method, None, public.name, matmul="mm")
                )
            if device.type == "cuda":
                rows.append(
                    bare_step_contender(xd, hidden, batch, method, "cuda_graph", sklearn.name)
                )
            if autocast is not None:
                rows.append(public_api_contender(xd, hidden, batch, method, autocast, public.name))
    return rows + ([peer] if peer is not None else [])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settle() -> None:
    """Let the previous contender's idle threads stop spinning (OpenBLAS's and OpenMP's
    workers busy-wait after a call and would take the cores from the next contender)."""
    time.sleep(0.2)


def measure(rows: list[Contender], repeats: int) -> dict[str, tuple[float, float]]:
    """Best wall time of 1 and of 3 epochs per contender, interleaved over repeats."""
    best = {row.name: [float("inf"), float("inf")] for row in rows}
    for row in rows:
        row.run(1)  # warm-up: imports, allocator, kernel selection
    for _ in range(repeats):
        for row in rows:
            for slot, epochs in enumerate((1, 3)):
                settle()
                started = time.perf_counter()
                row.run(epochs)
                best[row.name][slot] = min(best[row.name][slot], time.perf_counter() - started)
    return {name: (one, three) for name, (one, three) in best.items()}


def benchmark(args: argparse.Namespace) -> list[dict]:
    x = load_data(args.samples)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    table = []
    for batch in args.batch_sizes:
        rows = contenders(x, args.hidden, batch, devices, args.autocast)
        times = measure(rows, args.repeats)
        rates = {}
        for row in rows:
            one, three = times[row.name]
            # two epochs' worth of images in the extra time: set-up cancels out
            rates[row.name] = 2 * args.samples / max(three - one, 1e-9)
        for row in rows:
            ratio = rates[row.name] / rates[row.reference] if row.reference else None
            peer_ratio = rates[row.name] / rates[row.peer] if row.peer else None
            entry = {
                "batch": batch,
                "contender": row.name,
                "device": row.device,
                "samples_per_s": rates[row.name],
                "ratio": ratio,
                "ratio_to": row.reference,
                "peer_ratio": peer_ratio,
                "peer": row.peer,
                "setup_s": max(2 * times[row.name][0] - times[row.name][1], 0.0),
            }
            table.append(entry)
            shown = f"{ratio:6.2f}x {row.reference}" if ratio is not None else ""
            if peer_ratio is not None:
                shown += f", {peer_ratio:.2f}x {row.peer}"
            print(
                f"bs {batch:5d}  {row.name:52s} {row.device:5s} "
                f"{rates[row.name]:11,.0f} samples/s  {shown}",
                flush=True,
            )
    return table


def time_full() -> dict:
    """Wall time of `pretrain.py --recipe hinton2006` then `finetune.py --init dbn`
    (30 epochs), in float32, their run directories thrown away."""
    timings = {}
    with tempfile.TemporaryDirectory() as scratch:
        runs = Path(scratch)
        commands = {
            "pretrain": [
                sys.executable,
                str(ROOT / "scripts/pretrain.py"),
                *("--recipe", "hinton2006", "--out", str(runs / "pretrain"), "--no-progress"),
            ],
            "finetune": [
                sys.executable,
                str(ROOT / "scripts/finetune.py"),
                *("--init", "dbn", "--checkpoint", str(runs / "pretrain" / "dbn.pt")),
                *("--epochs", "30", "--out", str(runs / "finetune"), "--no-progress"),
            ],
        }
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            timings[f"{name}_seconds"] = time.perf_counter() - started
    return timings


def finetune_routes(repeats: int) -> dict:
    """Wall time of the ``hinton2006`` fine-tuning of the shipped DBN (``finetune.py
    --init dbn``, 30 epochs, float32) with ``--matmul auto`` and with ``--matmul mm``,
    interleaved, the best of ``repeats`` each; the routes ``auto`` took, from its run's
    history; run directories thrown away."""
    checkpoint = ROOT / "pretrained" / "mnist-784-500-500-2000.safetensors"
    seconds = {"auto": float("inf"), "mm": float("inf")}
    routes = None
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(repeats):
            for route in seconds:
                out = Path(scratch) / f"{route}-{repeat}"
                command = [
                    sys.executable,
                    str(ROOT / "scripts/finetune.py"),
                    *("--init", "dbn", "--checkpoint", str(checkpoint), "--epochs", "30"),
                    *("--matmul", route, "--out", str(out), "--no-progress"),
                ]
                started = time.perf_counter()
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
                seconds[route] = min(seconds[route], time.perf_counter() - started)
                if route == "auto":
                    last = (out / "metrics.jsonl").read_text().splitlines()[-1]
                    routes = json.loads(last)["matmul"]
                print(f"fine-tuning, matmul {route}: {seconds[route]:.1f} s", flush=True)
    return {"epochs": 30, "repeats": repeats, "seconds": seconds, "auto_routes": routes}


def profile_epoch(args: argparse.Namespace) -> str:
    """torch.profiler's table of one ``DBN.pretrain`` CD-1 epoch (after a warm-up one)."""
    x = load_data(args.samples)
    run = public_api_contender(x, args.hidden, args.batch_sizes[0], "cd", args.autocast, "-").run
    run(1)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        run(1)
    return profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=20)


def noise_rates(batch: int, hidden: int, n_visible: int = 784, repeats: int = 100) -> list[dict]:
    """Millions of uniform float32 numbers a second at the step's two sample shapes, from
    torch's generator and from the PCG64 stream, the best of 5 interleaved rounds."""
    rows = []
    for name, shape in {"hidden": (batch, hidden), "visible": (batch, n_visible)}.items():
        out = torch.empty(shape)
        streams = {"torch": new_generator(0), "pcg64": PCG64Stream(0)}
        best = dict.fromkeys(streams, float("inf"))
        for _ in range(5):
            for source, stream in streams.items():
                settle()
                started = time.perf_counter()
                for _ in range(repeats):
                    uniform_(out, stream)
                best[source] = min(best[source], time.perf_counter() - started)
        rates = {
            f"{source}_msamples": out.numel() * repeats / best[source] / 1e6 for source in best
        }
        rows.append({"sample": f"{name} ({shape[0]} x {shape[1]})", **rates})
        print(
            f"{name:8s} {shape}: torch {rates['torch_msamples']:7.1f}  "
            f"pcg64 {rates['pcg64_msamples']:7.1f} million uniform numbers/s"
        )
    return rows


def gemm_rates(batch: int, hidden: int, n_visible: int = 784, repeats: int = 100) -> list[dict]:
    """GFLOP/s of the products in one CD-1 step, float32: torch's default product, its
    oneDNN linear (the route Inductor emits), and numpy (whose BLAS scikit-learn uses)."""
    shapes = {
        "hidden probabilities (batch x visible) @ (visible x hidden)": (batch, n_visible, hidden),
        "visible means (batch x hidden) @ (hidden x visible)": (batch, hidden, n_visible),
        "weight gradient (hidden x 2 batch) @ (2 batch x visible)": (hidden, 2 * batch, n_visible),
    }
    rows = []
    for name, (m, k, n) in shapes.items():
        a = torch.rand(m, k, generator=new_generator(0))
        b = torch.rand(k, n, generator=new_generator(1))
        out = torch.empty(m, n)
        a_np, b_np = a.numpy(), b.numpy()
        weight = b.t().contiguous()  # nn.Linear's layout: (out_features, in_features)
        products = {
            "torch": lambda a=a, b=b, out=out: torch.mm(a, b, out=out),
            "onednn": lambda a=a, w=weight: torch.ops.mkldnn._linear_pointwise(
                a, w, None, "none", [], ""
            ),
            "numpy": lambda a=a_np, b=b_np: np.matmul(a, b),
        }
        best = dict.fromkeys(products, float("inf"))
        for product in products.values():
            for _ in range(10):  # warm-up
                product()
        for _ in range(5):  # the best of 5 interleaved rounds
            for library, product in products.items():
                settle()
                started = time.perf_counter()
                for _ in range(repeats):
                    product()
                best[library] = min(best[library], time.perf_counter() - started)
        rates = {library: 2 * m * k * n * repeats / best[library] / 1e9 for library in best}
        rows.append({"product": name, **{f"{lib}_gflops": rate for lib, rate in rates.items()}})
        print(
            f"{name:62s} torch.mm {rates['torch']:6.1f}  oneDNN linear {rates['onednn']:6.1f}  "
            f"numpy {rates['numpy']:6.1f} GFLOP/s"
        )
    return rows


def main(args: argparse.Namespace) -> dict:
    forced = [name for name in FORCING_BLAS if name in os.environ]
    if forced:
        # numpy chose its kernels at import: start afresh without the forcing variables
        print(f"bench.py: unsetting {', '.join(forced)} and starting again", flush=True)
        command = [sys.executable, "-m", __spec__.name, *sys.argv[1:]]
        os.execve(sys.executable, command, clean_environment(dict(os.environ)))
    kernels = blas_kernels()
    print(f"numpy BLAS: {'; '.join(kernels)}; {', '.join(FORCING_BLAS)} unset", flush=True)
    if args.profile:  # printed, not a run: nothing written
        table = profile_epoch(args)
        print(table)
        return {"profile": table}
    # every option checked by the parser; the folder claimed before the first measurement
    run = RunDirectory(args.out, command=args)
    run.claim(SCRIPT, resume=False)
    measured_on = machine(kernels)
    run.write_config(SCRIPT, {"parts": args.parts, "machine": measured_on})
    reports: dict[str, dict] = {}
    if "gemm" in args.parts:
        reports["gemm"] = {
            "processor": cpu_model(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "numpy_blas": kernels,
            "batch": args.batch_sizes[0],
            "gemm": gemm_rates(args.batch_sizes[0], args.hidden),
        }
        run.write_json("gemm.json", reports["gemm"])
    if "noise" in args.parts:
        reports["noise"] = {
            "processor": cpu_model(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "noise": [row for batch in args.batch_sizes for row in noise_rates(batch, args.hidden)],
        }
        run.write_json("noise.json", reports["noise"])
    if "finetune" in args.parts:
        reports["finetune"] = {"machine": measured_on, **finetune_routes(args.repeats)}
        run.write_json("finetune.json", reports["finetune"])
    if "throughput" in args.parts:
        report = {"machine": measured_on, "settings": vars(args), "rows": benchmark(args)}
        report["matmul_routes"] = chosen_routes()
        report["peak_rss_mib"] = peak_rss_mib()
        if args.full:
            report["full"] = time_full()
            print(json.dumps(report["full"]))
        run.write_json("bench.json", report)
        reports["throughput"] = report
    return reports


def machine(kernels: list[str]) -> dict:
    """The machine a report was measured on: CPU, cores, torch and its BLAS, numpy's."""
    return {
        "platform": platform.platform(),
        "processor": cpu_model(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "numpy_blas": kernels,
        "torch_blas": "MKL" if torch.backends.mkl.is_available() else "other",
    }


if __name__ == "__main__":
    run_cli(main, get_args_parser())
