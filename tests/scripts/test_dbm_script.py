"""scripts/dbm.py, dbm_report.py and dbm_finetune.py: the DBM recipe end to end on the
digits, a run killed mid-way resumes to the uninterrupted run's weights, and the
report and the fine-tuned classifier are what dbn.load and the error say."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import load_script, wait_for_checkpoints

import dbn
from dbn.models import DBM, DBMClassifier

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, str(ROOT / "scripts" / "dbm.py"), "--quick", "--no-progress"]
ENV = dict(os.environ, OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dbm") / "run"
    done = subprocess.run([*COMMAND, "--out", str(out)], env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


def test_the_quick_recipe_pretrains_trains_and_draws(quick_run):
    model = dbn.load(quick_run / "model.safetensors", expect=DBM)
    assert model.sizes == [64, 100, 200]
    rows = [json.loads(line) for line in (quick_run / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == list(range(1, 31))
    assert rows[-1]["lr"] < rows[0]["lr"] and "valid_reconstruction" in rows[-1]
    # joint training improves the mean-field reconstruction of held-out digits
    greedy = dbn.load(quick_run / "greedy.safetensors", expect=DBM)
    # the greedy stage's checkpoint, done: it holds the same RBMs the model was made of
    state = dbn.io.safe_load(quick_run / "greedy-state.pt", kind="dbm-pretraining")
    assert state["layer"] == 2 and state["trainer"] is None
    config = dbn.training.DBMConfig()
    valid = dbn.load_digits()["valid"].x
    before = dbn.training.dbm_reconstruction_error(greedy, valid, config)
    assert rows[-1]["valid_reconstruction"] < before


# slow: in process, test_a_checkpointed_trainer_continues_bit_for_bit
# (tests/training/test_dbm_trainer.py); the kill path is the shared run layer's
@pytest.mark.slow
def test_a_killed_run_resumes_to_the_uninterrupted_weights(quick_run, tmp_path):
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [*COMMAND, "--out", str(killed)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    wait_for_checkpoints(process, 7)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert not (killed / "model.safetensors").exists()
    resumed = subprocess.run(
        [*COMMAND, "--out", str(killed), "--resume"], env=ENV, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    first = dbn.load(quick_run / "model.safetensors").state_dict()
    second = dbn.load(killed / "model.safetensors").state_dict()
    for name, value in first.items():
        assert torch.equal(value, second[name]), name


def test_the_classifier_fine_tunes_per_seed_and_loads_ready_to_call(quick_run, tmp_path):
    script = load_script("dbm_finetune")
    out = tmp_path / "finetune"
    argv = [str(quick_run / "model.safetensors"), "--out", str(out), "--epochs", "4"]
    summary = script.main(script.get_args_parser().parse_args([*argv, "--seeds", "0", "1"]))
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [row["seed"] for row in rows] == [0, 1]
    classifier = dbn.load(out / "seed0.safetensors", expect=DBMClassifier)
    test = dbn.load_digits()["test"]
    _, error = dbn.evaluate(classifier, test.x, test.y)
    assert error == pytest.approx(rows[0]["test_error"])
    assert error < 0.2
    evaluate = load_script("evaluate")
    argv = [str(out / "seed0.safetensors"), "--dataset", "digits"]
    report = evaluate.main(evaluate.get_args_parser().parse_args(argv))
    assert report["test_error"] == pytest.approx(error)
    assert summary["test_error_mean"] == pytest.approx(
        (rows[0]["test_error"] + rows[1]["test_error"]) / 2
    )


def test_use_valid_trains_on_every_labelled_image_and_keeps_the_last_epoch(quick_run, tmp_path):
    script = load_script("dbm_finetune")
    out = tmp_path / "finetune"
    argv = [str(quick_run / "model.safetensors"), "--out", str(out), "--epochs", "3"]
    script.main(script.get_args_parser().parse_args([*argv, "--seeds", "0", "--use-valid"]))
    (row,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert row["best_epoch"] is None and row["valid_error"] is None
    # the same training by hand: features of training and validation images together
    dbm = dbn.load(quick_run / "model.safetensors", expect=DBM)
    digits = dbn.load_digits()
    features = DBMClassifier.from_dbm(dbm)
    x = torch.cat([features.features(digits["train"].x), features.features(digits["valid"].x)])
    y = torch.cat([digits["train"].y, digits["valid"].y])
    by_hand = DBMClassifier.from_dbm(dbm, generator=torch.Generator().manual_seed(0))
    config = json.loads((out / "config.json").read_text())["finetune"]
    dbn.finetune(
        by_hand.mlp,
        (x, y),
        config=dbn.FinetuneConfig(**config),
        generator=torch.Generator().manual_seed(0),
        progress=False,
        validation_fraction=0.0,
    )
    saved = dbn.load(out / "seed0.safetensors", expect=DBMClassifier)
    for name, value in by_hand.mlp.state_dict().items():
        assert torch.equal(value, saved.mlp.state_dict()[name]), name


def test_the_report_brackets_log_z_and_bounds_the_likelihood(tmp_path, mnist):
    path = tmp_path / "dbm.safetensors"
    DBM([784, 12, 10], generator=torch.Generator().manual_seed(0)).save(path)
    script = load_script("dbm_report")
    argv = [str(path), "--out", str(tmp_path / "r"), "--betas", "200", "--runs", "10"]
    report = script.main(script.get_args_parser().parse_args([*argv, "--mean-field-steps", "5"]))
    assert report["log_z_low"] <= report["log_z"] <= report["log_z_high"]
    # a near-zero DBM gives every binary image about 784 log(1/2) nats
    assert report["test_bound"] < 0 and report["train_bound"] < 0
    assert (tmp_path / "r" / "samples.png").stat().st_size > 0


def test_a_file_of_the_wrong_kind_is_refused_in_one_line(tmp_path):
    path = tmp_path / "rbm.safetensors"
    dbn.RBM(64, 8).save(path)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "dbm_finetune.py"),
            str(path),
            "--out",
            str(tmp_path / "o"),
        ],
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "holds an RBM, not a DBM" in done.stderr
    assert not (tmp_path / "o").exists()


def test_a_run_can_start_from_another_runs_greedy_model(quick_run, tmp_path):
    out = tmp_path / "second"
    start = ["--start-from", str(quick_run / "greedy.safetensors"), "--epochs", "2"]
    done = subprocess.run(
        [*COMMAND, "--out", str(out), *start], env=ENV, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (out / "greedy.safetensors").read_bytes() == (
        quick_run / "greedy.safetensors"
    ).read_bytes()
    config = json.loads((out / "config.json").read_text())
    assert config["start_from"] == str(quick_run / "greedy.safetensors")
    refused = subprocess.run(
        [
            *COMMAND,
            "--out",
            str(tmp_path / "third"),
            "--start-from",
            str(quick_run / "result.json"),
        ],
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and not (tmp_path / "third").exists()


# slow: the whole labelled recipe; bfloat16 DBM training is
# test_mixed_precision_training_keeps_the_held_out_likelihood (tests/training/test_dbm_trainer.py)
@pytest.mark.slow
def test_the_quick_labelled_recipe_binarised_in_bfloat16_trains_classifies_and_fine_tunes(
    tmp_path,
):
    out = tmp_path / "labelled"
    recipe = ["--recipe", "salakhutdinov-hinton2009-labels", "--binarize", "--autocast", "bfloat16"]
    done = subprocess.run(
        [*COMMAND, *recipe, "--out", str(out)], env=ENV, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["n_labels"] == 10 and config["joint"]["binarize"]
    assert all(layer["binarize"] for layer in config["pretrain"])
    assert config["joint"]["autocast"] == "bfloat16"
    assert all(layer["autocast"] == "bfloat16" for layer in config["pretrain"])
    assert config["pretrain"][1]["k_final"] == 5  # the quick recipe's k schedule
    model = dbn.load(out / "model.safetensors", expect=DBM)
    assert model.n_labels == 10 and model.weights[0].dtype == torch.float32
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["valid_label_error"] < 0.25  # the DBM classifying by itself; chance 0.9
    script = load_script("dbm_finetune")
    argv = [str(out / "model.safetensors"), "--out", str(tmp_path / "ft"), "--epochs", "3"]
    script.main(script.get_args_parser().parse_args([*argv, "--seeds", "0"]))
    classifier = dbn.load(tmp_path / "ft" / "seed0.safetensors", expect=DBMClassifier)
    assert classifier.dbm.n_labels == 10
