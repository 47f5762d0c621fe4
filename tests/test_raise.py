"""RAISE, the conservative side of the likelihood bracket, against exact enumeration."""

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import binary_digits, wait_for_checkpoints

from dbn import RBM, ais, train_rbm
from dbn.datasets._loading import load_digits
from dbn.io import safe_load


@pytest.fixture(scope="module")
def digits_rbm():
    train, _, test = binary_digits()
    train, test = train.double(), test[:200].double()
    rbm = RBM(64, 12, generator=torch.Generator().manual_seed(0)).double()
    train_rbm(rbm, train, method="pcd", epochs=30, lr=0.05, weight_decay=0.0, progress=False)
    exact = -rbm.free_energy(test) - ais.exact_log_partition(rbm)  # log p(v) per example
    return rbm, train, test, exact


def test_raise_converges_to_the_exact_log_likelihood_of_each_example(digits_rbm):
    rbm, train, test, exact = digits_rbm
    result = ais.reverse_log_likelihood(
        rbm, test, train, n_betas=1000, n_runs=5, generator=torch.Generator().manual_seed(0)
    )
    assert abs(result.log_likelihood - exact.mean().item()) < 0.02
    assert (result.per_example - exact).abs().mean() < 0.1
    assert result.standard_error == pytest.approx(exact.std().item() / 200**0.5, rel=0.05)


def test_with_few_temperatures_raise_errs_low(digits_rbm):
    # its log weight is a stochastic lower bound: short annealing underestimates
    rbm, train, test, exact = digits_rbm
    generator = torch.Generator().manual_seed(0)
    short = ais.reverse_log_likelihood(rbm, test, train, n_betas=10, generator=generator)
    assert short.log_likelihood < exact.mean().item() - 0.03
    assert (short.per_example < exact).float().mean() > 0.5


def test_raise_for_gaussian_units_matches_exact():
    x = load_digits()["train"].x.double()
    x = (x - x.mean(0)) / (x.std(0) + 1e-3)
    rbm = RBM(64, 10, visible="gaussian", generator=torch.Generator().manual_seed(0)).double()
    train_rbm(rbm, x, epochs=5, lr=0.01, progress=False)
    exact = (-rbm.free_energy(x[:100]) - ais.exact_log_partition(rbm)).mean().item()
    result = ais.reverse_log_likelihood(
        rbm, x[:100], x, n_betas=1000, n_runs=3, generator=torch.Generator().manual_seed(0)
    )
    assert abs(result.log_likelihood - exact) < 0.05, (result.log_likelihood, exact)


def test_raise_refuses_bad_input():
    rbm = RBM(4, 3)
    with pytest.raises(ValueError, match="n_runs must be an integer >= 1"):
        ais.reverse_log_likelihood(rbm, torch.zeros(2, 4), n_runs=0)
    with pytest.raises(ValueError, match="4"):
        ais.reverse_log_likelihood(rbm, torch.zeros(2, 5))


def test_loglik_draws_a_held_out_curve_and_brackets_the_test_likelihood(mnist, tmp_path):
    from helpers import load_script

    loglik = load_script("loglik")
    argv = [
        *("--hidden", "8", "--epochs", "2", "--eval-every", "1", "--eval-betas", "50"),
        *("--n-betas", "100", "--n-runs", "10", "--raise-examples", "50", "--method", "pt"),
        *("--n-temperatures", "3", "--out", str(tmp_path), "--no-progress"),
    ]
    result = loglik.main(loglik.get_args_parser().parse_args(argv))
    lines = (tmp_path / "curve.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,held_out_log_likelihood") and len(lines) == 3
    assert (tmp_path / "curve.png").is_file()
    assert result["training_images"] == 50000  # the curve's 10,000 are held out
    assert result["raise_examples"] == 50
    assert -784 * math.log(2) < result["raise_log_likelihood"] < 0  # better than coin flips
    assert result["method"] == "pt-1"
    assert -784 * math.log(2) < result["held_out_log_likelihood"] < 0
    curves = load_script("loglik_curves")
    assert curves.read_loglik_run(tmp_path)[0] == "pt-1, lr 0.01, 2 epochs"
    picture = tmp_path / "curves.png"
    curves.main(curves.get_args_parser().parse_args([str(tmp_path), "--out", str(picture)]))
    assert picture.stat().st_size > 0
    with pytest.raises(ValueError, match="holds no finished"):
        curves.main(curves.get_args_parser().parse_args([str(tmp_path / "x"), "--out", "y"]))


def test_loglik_score_reproduces_the_training_run_from_its_saved_rbm(mnist, tmp_path):
    from helpers import load_script

    loglik = load_script("loglik")
    scoring = ["--n-betas", "100", "--n-runs", "10", "--raise-examples", "20", "--no-progress"]
    trained = loglik.main(
        loglik.get_args_parser().parse_args(
            ["--hidden", "8", "--epochs", "1", *scoring, "--out", str(tmp_path / "train")]
        )
    )
    rbm_path = str(tmp_path / "train" / "rbm.pt")
    scored = loglik.main(
        loglik.get_args_parser().parse_args(
            ["--score", rbm_path, *scoring, "--out", str(tmp_path / "score")]
        )
    )
    # the same RBM, data, base rates and generator seed: the same numbers, bit for bit
    for key in ("log_z", "test_log_likelihood", "train_log_likelihood", "raise_log_likelihood"):
        assert scored[key] == trained[key], key
    assert scored["scored"] == rbm_path and scored["hidden"] == 8
    assert not (tmp_path / "score" / "rbm.pt").exists()
    # --seed 1: an independent AIS of the same binarised images (one fixed draw)
    reseeded = loglik.main(
        loglik.get_args_parser().parse_args(
            ["--score", rbm_path, *scoring, "--seed", "1", "--out", str(tmp_path / "seed1")]
        )
    )
    assert reseeded["log_z"] != scored["log_z"]
    for key in ("test_log_likelihood", "train_log_likelihood"):
        # the mean -F(v) of the images, the same whatever AIS drew
        assert reseeded[key] + reseeded["log_z"] == pytest.approx(scored[key] + scored["log_z"])


def loglik_command(out, *extra):
    return [
        sys.executable,
        str(Path(__file__).resolve().parent.parent / "scripts" / "loglik.py"),
        *("--hidden", "8", "--epochs", "4", "--eval-every", "1", "--eval-betas", "20"),
        *("--n-betas", "50", "--n-runs", "4", "--raise-examples", "10", "--method", "pcd"),
        *("--no-progress", "--out", str(out), *extra),
    ]


# slow: in process, test_restored_trainer_continues_bit_for_bit (tests/training/
# test_rbm_trainer.py); the kill path is the shared run layer's (tests/models/test_dbn.py)
@pytest.mark.slow
def test_loglik_killed_and_resumed_gives_the_uninterrupted_rbm_and_curve(mnist, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(loglik_command(tmp_path / "straight"), check=True, env=env, capture_output=True)
    out = tmp_path / "killed"
    process = subprocess.Popen(
        loglik_command(out), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    wait_for_checkpoints(process, 2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "rbm.pt").exists()
    done = safe_load(out / "train-state.pt")["trainer"]["epoch"]
    assert 2 <= done < 4, "the kill should land mid-run"
    resumed = subprocess.run(
        loglik_command(out, "--resume"), env=env, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    # it continued from the checkpoint: only the remaining epochs ran
    assert resumed.stdout.count("checkpoint written") == 4 - done
    straight, again = safe_load(tmp_path / "straight" / "rbm.pt"), safe_load(out / "rbm.pt")
    for key, value in straight["state"].items():
        assert torch.equal(again["state"][key], value), key
    for name in ("curve.jsonl", "metrics.jsonl"):
        rows = [json.loads(line) for line in (out / name).read_text().splitlines()]
        expected = [
            json.loads(line) for line in (tmp_path / "straight" / name).read_text().splitlines()
        ]
        assert [row["epoch"] for row in rows] == [row["epoch"] for row in expected] == [1, 2, 3, 4]
        if name == "curve.jsonl":  # scores, not timings, must agree
            assert [r["held_out_log_likelihood"] for r in rows] == [
                r["held_out_log_likelihood"] for r in expected
            ]
    results = [json.loads((d / "result.json").read_text()) for d in (tmp_path / "straight", out)]
    assert results[0]["test_log_likelihood"] == results[1]["test_log_likelihood"]
    refused = subprocess.run(
        loglik_command(out, "--resume", "--epochs", "5"), env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "--epochs 5 (the run has 4)" in refused.stderr
