"""The scripts' behaviour on bad input: one line on stderr, exit status 2, nothing damaged."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import demo_argv, load_script, wait_for_checkpoints

import dbn
from dbn.cli.args import run_cli
from dbn.recipes import PRETRAIN_RECIPES, recipe_train_config

ROOT = Path(__file__).resolve().parents[2]


def run_script(name, argv, monkeypatch, capsys):
    """Run a script's CLI in-process; return (exit status, stderr)."""
    module = load_script(name)
    monkeypatch.setattr(sys, "argv", [f"{name}.py", *argv])
    with pytest.raises(SystemExit) as exit_info:
        run_cli(module.main, module.get_args_parser())
    return exit_info.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "dbn.pt"
    model = dbn.DBN([64, 16, 8])
    model.save(path)
    return path


PRETRAIN = ["--dataset", "digits", "--sizes", "64", "16", "--epochs", "1", "--no-progress"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "0"], "epochs must be an integer >= 1, got 0"),
        (["--sizes", "64", "0"], "each layer size must be an integer >= 1, got 0"),
        (["--sizes", "64"], "sizes must be two or more positive integers"),
        (["--sizes", "100", "16"], "sizes start with 100 but digits has 64 features"),
        (["--lr", "-1"], "lr must be a positive finite number"),
        (["--k", "0"], "k must be an integer >= 1, got 0"),
        (["--persist", "hidden"], "persist 'hidden' applies to method 'pcd', not 'cd'"),
        (["--corruption", "2"], r"corruption must lie in \[0, 1\)"),
        (["--weight-std", "-0.1"], "weight_std must be a finite number >= 0, got -0.1"),
        (["--device", "tpu"], "device must be 'auto', 'cpu' or 'cuda"),
    ],
)
def test_pretrain_bad_options(argv, message, tmp_path, monkeypatch, capsys):
    status, err = run_script(
        "pretrain", [*PRETRAIN, "--out", str(tmp_path), *argv], monkeypatch, capsys
    )
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pretrain.py: error: "), err
    assert re.search(message, lines[0])


def test_unwritable_output_is_refused(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    status, err = run_script(
        "pretrain", [*PRETRAIN, "--out", str(blocker / "run")], monkeypatch, capsys
    )
    assert status == 2 and "cannot create output directory" in err
    assert blocker.read_text() == "keep me"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--init", "glorot"], "init must be 'dbn' or one of"),
        (["--init", "dbn"], "--init dbn needs --checkpoint PATH"),
        (["--init", "dbn", "--checkpoint", "missing.pt"], "does not exist"),
        (["--optimizer", "sgd", "--momentum", "1.5"], r"momentum must lie in \[0, 1\)"),
        (["--dropout", "1.0"], r"dropout must lie in \[0, 1\)"),
        (
            ["--sizes", "64", "16", "--clip-grad-norm", "0"],
            "clip_grad_norm must be a positive finite number",
        ),
    ],
)
def test_finetune_bad_options(argv, message, tmp_path, monkeypatch, capsys):
    base = [
        "--dataset",
        "digits",
        "--init",
        "xavier_uniform",
        "--epochs",
        "1",
        "--no-progress",
        "--out",
        str(tmp_path),
    ]
    status, err = run_script("finetune", [*base, *argv], monkeypatch, capsys)
    assert status == 2 and re.search(message, err), err
    assert len(err.strip().splitlines()) == 1


def test_checkpoint_of_another_architecture_is_refused(
    small_checkpoint, tmp_path, monkeypatch, capsys
):
    argv = [
        "--dataset",
        "digits",
        "--init",
        "dbn",
        "--checkpoint",
        str(small_checkpoint),
        "--sizes",
        "64",
        "32",
        "8",
        "--epochs",
        "1",
        "--no-progress",
        "--out",
        str(tmp_path),
    ]
    status, err = run_script("finetune", argv, monkeypatch, capsys)
    assert status == 2 and "differ from [64, 32, 8]" in err


@pytest.mark.parametrize("damage", ["truncated", "payload"])
def test_damaged_checkpoints_fail_in_one_line_and_stay_untouched(
    damage, small_checkpoint, tmp_path, monkeypatch, capsys
):
    path = tmp_path / "bad.pt"
    if damage == "truncated":
        path.write_bytes(small_checkpoint.read_bytes()[:500])
    else:
        torch.save({"kind": "dbn", "x": Exploit()}, path)
    before = path.read_bytes()
    argv = [
        "--dataset",
        "digits",
        "--init",
        "dbn",
        "--checkpoint",
        str(path),
        "--epochs",
        "1",
        "--no-progress",
        "--out",
        str(tmp_path / "run"),
    ]
    status, err = run_script("finetune", argv, monkeypatch, capsys)
    assert status == 2 and ("truncated or corrupt" in err or "could run code" in err), err
    assert path.read_bytes() == before
    assert not (tmp_path / "exploited").exists()


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch exploited",))


def test_debug_flag_shows_the_traceback(tmp_path, monkeypatch, capsys):
    module = load_script("pretrain")
    monkeypatch.setattr(
        sys, "argv", ["pretrain.py", *PRETRAIN, "--epochs", "0", "--debug", "--out", str(tmp_path)]
    )
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        run_cli(module.main, module.get_args_parser())


def test_divergence_names_layer_and_epoch_and_keeps_the_checkpoint(tmp_path, monkeypatch, capsys):
    from dbn.datasets._loading import load_digits

    x = load_digits()["train"].x
    model = dbn.DBN([64, 16], visible="gaussian")
    checkpoint = tmp_path / "state.pt"

    def poison_after_epoch_2(trainer):
        if trainer.epoch == 2:  # the checkpoint of epoch 2 is already written
            trainer.rbm.weight.data.fill_(float("nan"))

    with pytest.raises(
        dbn.training.TrainingDivergedError,
        match=r"layer 1/1 \(64-16\) diverged in epoch 3.*Lower the learning rate",
    ):
        model.pretrain(
            x - 0.5,
            epochs=5,
            progress=False,
            checkpoint_path=checkpoint,
            callbacks=[poison_after_epoch_2],
        )
    state = dbn.io.safe_load(checkpoint, kind="dbn-training")
    assert state["trainer"]["epoch"] == 2
    assert all(torch.isfinite(t).all() for t in state["state"].values())


def test_sigint_exits_cleanly_and_the_run_resumes(tmp_path):
    out = tmp_path / "run"
    command = [
        sys.executable,
        str(ROOT / "scripts" / "pretrain.py"),
        "--dataset",
        "digits",
        "--sizes",
        "64",
        "40",
        "--epochs",
        "12",
        "--batch-size",
        "2",
        "--no-progress",
        "--out",
        str(out),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # a shell's background job ignores SIGINT, and children inherit that: restore it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for_checkpoints(process, 1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate()
    err = err.decode()
    assert process.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    state = dbn.io.safe_load(out / "train-state.pt", kind="dbn-training")
    assert 1 <= state["trainer"]["epoch"] < 12 and not (out / "dbn.pt").exists()
    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    assert dbn.load(out / "dbn.pt").sizes == [64, 40]
    epochs = [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").open()]
    assert epochs == list(range(1, 13))


def test_make_demo_pretrains_with_the_recipe_its_preset_names():
    compare = load_script("compare")
    config = compare.build_config(compare.get_args_parser().parse_args(demo_argv()))
    recipe = PRETRAIN_RECIPES[config.pretrain_recipe]
    assert config.preset == "demo" and config.pretrain_recipe == "quick"
    resolved = config.to_dict()
    assert resolved["sizes"] == recipe["sizes"] and resolved["dataset"] == recipe["dataset"]
    assert resolved["pretraining"] == recipe_train_config("quick").to_dict()
    assert resolved["pretraining"]["epochs"] == recipe["epochs"]


def test_pretrain_in_mixed_precision_records_it_and_keeps_float32_weights(tmp_path):
    module = load_script("pretrain")
    argv = [*PRETRAIN, "--autocast", "bfloat16", "--out", str(tmp_path)]
    model = module.main(module.get_args_parser().parse_args(argv))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["train"]["autocast"] == "bfloat16" and config["step"] == "fused"
    assert all(layer.weight.dtype == torch.float32 for layer in model.layers)
    assert dbn.load(tmp_path / "dbn.pt").layers[0].weight.dtype == torch.float32


def test_pretrain_records_the_initial_weights_scale_and_resume_keeps_it(
    tmp_path, monkeypatch, capsys
):
    module = load_script("pretrain")
    argv = [*PRETRAIN, "--weight-std", "0.1", "--no-init-visible-bias", "--out", str(tmp_path)]
    module.main(module.get_args_parser().parse_args(argv))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["weight_std"] == 0.1 and config["train"]["init_visible_bias"] is False
    before = (tmp_path / "config.json").read_bytes()
    argv = [*PRETRAIN, "--weight-std", "0.2", "--resume", "--out", str(tmp_path)]
    status, err = run_script("pretrain", argv, monkeypatch, capsys)
    assert status == 2 and "--weight-std 0.2 (the run has 0.1)" in err
    assert (tmp_path / "config.json").read_bytes() == before


def test_pretrain_recipe_sets_the_stacks_initial_weights(tmp_path):
    module = load_script("pretrain")
    argv = ["--recipe", "hinton2006", *PRETRAIN, "--out", str(tmp_path)]
    module.main(module.get_args_parser().parse_args(argv))
    config = json.loads((tmp_path / "config.json").read_text())
    recipe = PRETRAIN_RECIPES["hinton2006"]
    assert config["weight_std"] == recipe["weight_std"] != PRETRAIN_RECIPES["quick"]["weight_std"]
    assert config["train"]["init_visible_bias"] is recipe["init_visible_bias"]
