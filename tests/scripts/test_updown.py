"""scripts/updown.py: the generative DBN's recipe end to end on the digits, and a run
killed mid-way resumes to the uninterrupted run's weights."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import wait_for_checkpoints

import dbn
from dbn.models import GenerativeDBN

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, str(ROOT / "scripts" / "updown.py"), "--quick", "--no-progress"]
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def test_the_quick_recipe_trains_classifies_and_draws_digits(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([*COMMAND, "--out", str(out)], env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "result.json").read_text())
    assert 0 <= result["test_error"] < 0.5 and 0 <= result["start_test_error"] < 0.5
    model = dbn.load(out / "model.safetensors")
    assert isinstance(model, GenerativeDBN)
    assert (out / "samples.png").stat().st_size > 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == list(range(1, 13))
    assert [row["k"] for row in rows] == [3] * 4 + [6] * 4 + [10] * 4


# slow: the same resume in process is
# test_up_down_resumed_from_its_state_equals_the_uninterrupted_run
# (tests/models/test_generative_dbn.py); the script's kill and resume path is the shared
# run layer's (tests/models/test_dbn.py, tests/scripts/test_cli.py)
@pytest.mark.slow
def test_a_killed_run_resumes_to_the_uninterrupted_weights(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run([*COMMAND, "--out", str(straight)], env=ENV, check=True, capture_output=True)
    process = subprocess.Popen(
        [*COMMAND, "--out", str(killed)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    wait_for_checkpoints(process, 5)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert not (killed / "model.safetensors").exists()
    resumed = subprocess.run(
        [*COMMAND, "--out", str(killed), "--resume"], env=ENV, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    first = dbn.load(straight / "model.safetensors").state_dict()
    second = dbn.load(killed / "model.safetensors").state_dict()
    for name, value in first.items():
        assert torch.equal(value, second[name]), name


# slow: a whole quick run first; the refusal is the run layer's (tests/scripts/test_run_contract.py)
@pytest.mark.slow
def test_a_second_run_in_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "run"
    subprocess.run([*COMMAND, "--out", str(out)], env=ENV, check=True, capture_output=True)
    again = subprocess.run([*COMMAND, "--out", str(out)], env=ENV, capture_output=True, text=True)
    assert again.returncode == 2 and "error:" in again.stderr


def test_the_report_scores_a_model_and_draws_its_digits(tmp_path, mnist):
    from helpers import load_script

    path = tmp_path / "model.safetensors"
    GenerativeDBN([784, 16, 16, 32], generator=torch.Generator().manual_seed(0)).save(path)
    report_script = load_script("updown_report")
    args = report_script.get_args_parser().parse_args([str(path), "--out", str(tmp_path / "r")])
    report = report_script.main(args)
    assert 0 <= report["samples_recognised"] <= 1
    mnist_parts = dbn.load_mnist("hinton")
    for part in ("train", "valid", "test"):  # each part's own images, not another's
        expected = dbn.load(path).error_rate(mnist_parts[part].x, mnist_parts[part].y)
        assert report[f"{part}_error"] == expected
    for name in ("samples.png", "minds-eye.png", "report.json"):
        assert (tmp_path / "r" / name).stat().st_size > 0


# slow: --start-from is one mechanism for dbm.py and updown.py (start_entries); dbm.py's
# twin stays in the default suite (tests/scripts/test_dbm_script.py)
@pytest.mark.slow
def test_a_run_can_start_from_another_runs_greedy_model(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    subprocess.run([*COMMAND, "--out", str(first)], env=ENV, check=True, capture_output=True)
    start = ["--start-from", str(first / "greedy.safetensors"), "--lr", "0.001"]
    done = subprocess.run(
        [*COMMAND, "--out", str(second), *start], env=ENV, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (second / "greedy.safetensors").read_bytes() == (
        first / "greedy.safetensors"
    ).read_bytes()
    results = [json.loads((run / "result.json").read_text()) for run in (first, second)]
    assert results[0]["start_test_error"] == results[1]["start_test_error"]
    assert json.loads((second / "config.json").read_text())["updown"]["lr"] == 0.001
    refused = subprocess.run(
        [*COMMAND, "--out", str(tmp_path / "third"), "--start-from", str(first / "result.json")],
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and not (tmp_path / "third").exists()


# slow: two quick runs in sequence
@pytest.mark.slow
def test_a_trained_model_goes_on_training_on_all_images_at_a_fixed_k(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    subprocess.run([*COMMAND, "--out", str(first)], env=ENV, check=True, capture_output=True)
    more = ["--start-from", str(first / "model.safetensors"), "--use-valid", "--epochs", "2"]
    done = subprocess.run(
        [*COMMAND, "--out", str(second), *more, "--cd-steps", "10"],
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    results = [json.loads((run / "result.json").read_text()) for run in (first, second)]
    assert results[1]["start_test_error"] == results[0]["test_error"]
    assert results[1]["training_images"] > results[0]["training_images"]
    rows = [json.loads(line) for line in (second / "metrics.jsonl").read_text().splitlines()]
    assert [row["k"] for row in rows] == [10, 10]


def test_the_paper_recipe_balances_batches_and_trains_the_greedy_start_as_rbm_m():
    from helpers import load_script

    updown = load_script("updown")
    argv = ["--recipe", "hinton-osindero-teh2006-paper", "--weight-decay", "0"]
    args = updown.get_args_parser().parse_args([*argv, "--out", "unused"])
    config = updown.build_config(args, None)
    assert config.updown.balanced_batches and config.updown.weight_decay == 0
    assert config.weight_std == 0.1 and not config.greedy.init_visible_bias
    assert config.greedy.epochs == 30 and config.greedy.lr == 0.1
    quick = updown.get_args_parser().parse_args([*argv, "--quick", "--out", "unused"])
    with pytest.raises(ValueError, match="has no quick variant"):
        updown.build_config(quick, None)
