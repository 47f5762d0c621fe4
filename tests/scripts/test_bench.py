"""The benchmark's fairness, checked cheaply: not its timings."""

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_refused, load_script
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from dbn.utils import PCG64Stream

ROOT = Path(__file__).resolve().parents[2]


def test_every_contender_gets_float32_data_unless_its_name_says_otherwise():
    bench = load_script("bench")
    x = torch.bernoulli(torch.full((40, 16), 0.3), generator=torch.Generator().manual_seed(0))
    rows = bench.contenders(
        x, hidden=4, batch=10, devices=[torch.device("cpu")], autocast="bfloat16"
    )
    names = [row.name for row in rows]
    assert "scikit-learn BernoulliRBM PCD-1" in names
    assert any(name.startswith("dbn DBN.pretrain CD-1") for name in names)
    for row in rows:
        dtype = row.data.dtype
        if "float64" in row.name:
            assert dtype == np.float64
        else:
            assert dtype in (np.float32, torch.float32), row.name
        if row.reference is not None:
            reference = next(r for r in rows if r.name == row.reference)
            # a mixed-precision row and the old stream's and route's rows are compared
            # with dbn's own float32 row only
            if any(mark in row.name for mark in ("mixed precision", "torch stream", "mm route")):
                assert reference.name.startswith("dbn") and "mixed" not in reference.name
            else:
                assert reference.data.dtype == np.float32 and reference.method == "pcd"
        row.run(1)  # every contender really trains


def test_the_public_api_row_pays_for_monitoring(monkeypatch):
    bench = load_script("bench")
    calls = []
    import dbn.training.rbm_trainer

    original = dbn.training.rbm_trainer.epoch_metrics
    monkeypatch.setattr(
        dbn.training.rbm_trainer, "epoch_metrics", lambda *a: calls.append(1) or original(*a)
    )
    x = torch.bernoulli(torch.full((40, 16), 0.3), generator=torch.Generator().manual_seed(0))
    public = bench.public_api_contender(x, 4, 10, "cd", None, "reference")
    bare = bench.bare_step_contender(x, 4, 10, "cd", "fused", "reference")
    bare.run(3)
    assert calls == []
    public.run(3)
    assert len(calls) == 3


def test_numpy_contenders_never_run_on_forced_blas_kernels(tmp_path):
    bench = load_script("bench")
    environ = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "1", "PATH": "/bin"}
    assert bench.clean_environment(environ) == {"PATH": "/bin"}
    forced = dict(os.environ, OPENBLAS_CORETYPE="Haswell", OPENBLAS_L2_SIZE="1000000")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "studies.bench",
            "--parts",
            "gemm",
            "--batch-sizes",
            "8",
            "--hidden",
            "16",
            "--out",
            str(tmp_path / "bench"),
        ],  # fmt: skip
        env=forced,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "unsetting OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE and starting again" in done.stdout
    assert "numpy BLAS: openblas" in done.stdout and "GFLOP/s" in done.stdout


class _Draws(TorchDispatchMode):
    """Counts the uniform numbers drawn under it, from torch's generator or PCG64's."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __enter__(self):
        draw = self._pcg64_uniform = PCG64Stream.uniform_

        def counted(stream, out):
            self.count += out.numel()
            return draw(stream, out)

        PCG64Stream.uniform_ = counted
        return super().__enter__()

    def __exit__(self, *exc):
        PCG64Stream.uniform_ = self._pcg64_uniform
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket in (torch.ops.aten.uniform_, torch.ops.aten.uniform):
            self.count += args[0].numel()
        return func(*args, **(kwargs or {}))


def _work_per_epoch(contender) -> tuple[int, int]:
    """Product flops and uniform numbers of one epoch: two epochs' minus one's, so that
    the set-up (PCD's first chains) cancels as in the benchmark."""
    work = []
    for epochs in (1, 2):
        with FlopCounterMode(display=False) as flops, _Draws() as draws:
            contender.run(epochs)
        work.append((flops.get_total_flops(), draws.count))
    return work[1][0] - work[0][0], work[1][1] - work[0][1]


@pytest.mark.parametrize("method", ["cd", "pcd"])
def test_the_floor_does_the_steps_products_and_draws_its_noise(method):
    bench = load_script("bench")
    # 45 rows: the last batch is short, as 10,000 images are not at every batch size
    x = torch.bernoulli(torch.full((45, 16), 0.3), generator=torch.Generator().manual_seed(0))
    step = bench.bare_step_contender(x, 4, 10, method, "fused", "reference")
    floor = bench.floor_contender(x, 4, 10, method, "reference")
    assert _work_per_epoch(floor) == _work_per_epoch(step)


def test_a_bench_run_is_a_run_directory_and_never_writes_over_another(
    tmp_path, monkeypatch, capsys
):
    bench = load_script("bench")
    for name in bench.FORCING_BLAS:  # else main() restarts the process
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "bench"
    tiny = ["--batch-sizes", "8", "--hidden", "16", "--out", str(out)]
    bench.main(bench.get_args_parser().parse_args(["--parts", "gemm", "noise", *tiny]))
    gc.collect()  # release the run directory's lock
    assert sorted(path.name for path in out.iterdir()) == ["config.json", "gemm.json", "noise.json"]
    assert json.loads((out / "config.json").read_text())["parts"] == ["gemm", "noise"]
    again = ["--parts", "gemm", *tiny]
    assert_refused("bench", again, "already holds a run", [tmp_path], monkeypatch, capsys)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("a user's file")
    mine = [*again[:-1], str(tmp_path / "mine")]
    assert_refused("bench", mine, "not empty and holds no run", [tmp_path], monkeypatch, capsys)
