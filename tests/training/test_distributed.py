"""Two CPU processes under torchrun (gloo) against one process with the same global batch."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from helpers import binary_digits, wait_for_checkpoints

import dbn
from dbn import RBM, TrainConfig
from dbn.training.objectives import contrastive_divergence_loss
from dbn.training.rbm_trainer import RBMTrainer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(),
    reason="torch.distributed with gloo is not available",
)


def torchrun(*arguments, **options):
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        *map(str, arguments),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return command, env


def run_to_completion(command, env):
    """Run a torchrun command; on failure, fail the test with what the workers printed."""
    finished = subprocess.run(command, env=env, capture_output=True, text=True)
    if finished.returncode != 0:
        pytest.fail(
            f"exit status {finished.returncode} from {' '.join(command)}\n"
            f"--- stdout ---\n{finished.stdout[-4000:]}\n--- stderr ---\n{finished.stderr[-8000:]}"
        )


def test_two_processes_match_one_process_with_the_global_batch(tmp_path):
    command, env = torchrun(ROOT / "tests" / "ddp_worker.py", tmp_path / "ddp.pt", 10)
    run_to_completion(command, env)
    distributed = torch.load(tmp_path / "ddp.pt", weights_only=True)
    data = binary_digits()[0][:200]

    rbm = RBM(64, 16, generator=torch.Generator().manual_seed(0))
    RBMTrainer(rbm, TrainConfig(method="recon", epochs=2, batch_size=20, lr=0.1), seed=0).fit(
        data, progress=False
    )
    torch.testing.assert_close(
        distributed["recon_weight"], rbm.weight.detach(), rtol=1e-5, atol=1e-6
    )

    cd_rbm = RBM(64, 16, generator=torch.Generator().manual_seed(1))
    batch = data[:20]
    negatives = torch.bernoulli(
        torch.full_like(batch, 0.3), generator=torch.Generator().manual_seed(2)
    )
    contrastive_divergence_loss(cd_rbm, batch, negatives).backward()
    for ddp_grad, parameter in zip(distributed["cd_grads"], cd_rbm.parameters(), strict=True):
        torch.testing.assert_close(ddp_grad, parameter.grad, rtol=1e-5, atol=1e-7)


def kill_everything_mentioning(text):
    """SIGKILL every process whose command line contains ``text`` (torchrun's workers run
    in sessions of their own, so killing the launcher's process group is not enough)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in command_line:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def pretrain(out, *extra):
    return torchrun(
        ROOT / "scripts" / "pretrain.py",
        "--dataset",
        "digits",
        "--sizes",
        "64",
        "32",
        "16",
        "--epochs",
        "10",
        "--batch-size",
        "2",
        "--method",
        "pcd",
        "--lr",
        "0.02",
        "--no-progress",
        "--out",
        out,
        *extra,
    )


# slow: three torchrun launches; one-writer rank logic stays in the default suite through
# test_finetune_runs_under_torchrun_and_rank_zero_alone_writes
@pytest.mark.slow
def test_distributed_run_killed_and_resumed_finishes_with_one_writer(tmp_path):
    command, env = pretrain(tmp_path / "straight")
    run_to_completion(command, env)

    killed = tmp_path / "killed"
    command, env = pretrain(killed)
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    metrics = killed / "metrics.jsonl"
    wait_for_checkpoints(process, 3)
    kill_everything_mentioning(str(killed))  # the agent and its workers, like a power cut
    process.wait()
    assert not (killed / "dbn.pt").exists()
    dbn.io.safe_load(killed / "train-state.pt", kind="dbn-training")

    command, env = pretrain(killed, "--resume")
    run_to_completion(command, env)
    straight, resumed = dbn.load(tmp_path / "straight" / "dbn.pt"), dbn.load(killed / "dbn.pt")
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value)
    # one writer: each epoch of each layer logged exactly once, no stray files
    assert len(metrics.read_text().splitlines()) == 20
    expected = {
        "config.json",
        "metrics.jsonl",
        "train-state.pt",
        "dbn.pt",
        "quality.json",
        "filters.png",
        "reconstructions.png",
        "samples.png",
        "curves.png",
    }
    assert {path.name for path in killed.iterdir()} == expected


def test_finetune_runs_under_torchrun_and_rank_zero_alone_writes(tmp_path):
    out = tmp_path / "finetune"
    command, env = torchrun(
        ROOT / "scripts" / "finetune.py",
        "--dataset",
        "digits",
        "--init",
        "xavier_uniform",
        "--sizes",
        "64",
        "32",
        "--epochs",
        "3",
        "--batch-size",
        "10",
        "--no-progress",
        "--out",
        out,
    )
    run_to_completion(command, env)
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3
    assert {path.name for path in out.iterdir()} == {
        "config.json",
        "metrics.jsonl",
        "train-state.pt",
        "model.pt",
        "result.json",
        "loss.png",
        "valid_error.png",
    }
    assert '"world_size": 2' in (out / "result.json").read_text()
