"""The run contract, table-driven, for every program that writes a run directory.

Each refused command must exit with status 2 and one line naming the problem, with no
traceback, and leave every byte on disk as it was. The tables cover the mechanisms, one
class each: ``--resume`` compares every option it is given with the run's own, and
every input file's SHA-256; files read back are checked (the config's own checksum, a
model's shape against the config, a state's epoch and model, JSON lines and CSV cells);
a checkpoint's place that holds something else is refused; a new run writes only into
an empty folder; nothing is written before every option and input is checked; and
files are replaced by rename, never written through a symbolic link.
"""

import gc
import json
import re
import shutil

import pytest
import torch
from helpers import assert_refused, script

import dbn
from dbn.io import atomic_save, safe_load
from dbn.models import DBM, DBMClassifier, GenerativeDBN

PRETRAIN = ["--dataset", "digits", "--sizes", "64", "16", "--epochs", "1", "--no-progress"]
FINETUNE = [
    *("--dataset", "digits", "--init", "xavier_uniform", "--sizes", "64", "16"),
    *("--epochs", "1", "--no-progress"),
]
# a state's epoch counts its history rows; these states hold one
ROWS = r"epoch must be the number of its history rows \(1\), got "
DBM_RUN = ["--quick", "--epochs", "1", "--pretrain-epochs", "1", "1", "--no-progress"]
# from an untrained model of the quick recipe's shape: its greedy stage takes minutes
UPDOWN = ["--quick", "--epochs", "1", "--start-from", "{root}/updown-start.safetensors"]
UPDOWN = [*UPDOWN, "--no-progress"]
DBM_FINETUNE = ["--epochs", "1", "--seeds", "0", "--no-progress"]


def make_run(root, name, program, argv):
    module = script(program)
    module.main(module.get_args_parser().parse_args([*argv, "--out", str(root / name)]))
    gc.collect()  # release the run directory's lock


def edit_json(path, edit):
    value = json.loads(path.read_text())
    edit(value)
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def copy_run(root, source, name, damage):
    shutil.copytree(root / source, root / name)
    damage(root / name)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Finished runs of each program, and copies of them damaged one way each."""
    root = tmp_path_factory.mktemp("contract")
    make_run(root, "pretrain", "pretrain", PRETRAIN)
    make_run(root, "finetune", "finetune", FINETUNE)
    make_run(root, "dbm", "dbm", DBM_RUN)
    GenerativeDBN([64, 100, 100, 200], n_labels=10).save(root / "updown-start.safetensors")
    make_run(root, "updown", "updown", [arg.format(root=root) for arg in UPDOWN])
    # inputs that change after a run started from them
    shutil.copy(root / "dbm" / "model.safetensors", root / "dbm-input.safetensors")
    make_run(
        root, "dbm-finetune", "dbm_finetune", [str(root / "dbm-input.safetensors"), *DBM_FINETUNE]
    )
    shutil.copy(root / "dbm" / "greedy.safetensors", root / "start.safetensors")
    make_run(
        root, "dbm-started", "dbm", [*DBM_RUN, "--start-from", str(root / "start.safetensors")]
    )
    other = DBM([64, 100, 200], generator=torch.Generator().manual_seed(9))
    for changed in ("dbm-input.safetensors", "start.safetensors"):
        other.save(root / changed)
    # files read back that do not agree with the run
    copy_run(root, "dbm", "dbm-edited", lambda run: edit_json(run / "config.json", edit_joint_lr))
    copy_run(root, "dbm", "dbm-state-dir", replace_with_directory("dbm-state.pt"))
    copy_run(root, "updown", "updown-state-dir", replace_with_directory("updown-state.pt"))
    copy_run(root, "pretrain", "pretrain-state-dir", replace_with_directory("train-state.pt"))
    copy_run(root, "finetune", "finetune-state-dir", replace_with_directory("train-state.pt"))
    copy_run(root, "dbm", "dbm-greedy-swapped", swap_greedy_model)
    copy_run(root, "dbm", "dbm-epoch-negative", edit_state(lambda state: state.update(epoch=-4)))
    copy_run(root, "dbm", "dbm-epoch-beyond", edit_state(lambda state: state.update(epoch=9)))
    copy_run(root, "dbm", "dbm-epoch-text", edit_state(lambda state: state.update(epoch="1")))
    copy_run(root, "dbm", "dbm-state-other-model", edit_state(other_model))
    copy_run(root, "dbm", "dbm-state-no-config", edit_state(lambda state: state.pop("config")))
    make_run(
        root,
        "dbm-finetune-kept",
        "dbm_finetune",
        [str(root / "dbm" / "model.safetensors"), *DBM_FINETUNE],
    )
    copy_run(root, "dbm-finetune-kept", "dbm-finetune-cut", cut_last_line("results.jsonl"))
    copy_run(root, "dbm-finetune-kept", "dbm-finetune-not-object", append("results.jsonl", "[1]\n"))
    for program in ("pretrain", "finetune"):
        copy_run(root, program, f"{program}-no-checksum", drop_checksum)
        copy_run(
            root,
            program,
            f"{program}-no-command",
            lambda run: edit_json(
                run / "config.json", lambda c: [c.pop("command"), c.update(config_sha256=digest(c))]
            ),
        )
    # a folder that holds a user's files and no run
    (root / "users-folder").mkdir()
    (root / "users-folder" / "model.pt").write_bytes(b"the user's own model")
    return root


def edit_joint_lr(config):
    config["joint"]["lr"] = 0.5


def digest(record):
    from dbn.cli.runs import _config_digest

    return _config_digest(record)


def drop_checksum(run):
    edit_json(run / "config.json", lambda config: config.pop("config_sha256"))


def replace_with_directory(name):
    def damage(run):
        (run / name).unlink()
        (run / name).mkdir()

    return damage


def swap_greedy_model(run):
    (run / "dbm-state.pt").unlink()  # so that the run starts again from its greedy model
    DBM([64, 50, 200]).save(run / "greedy.safetensors")


def edit_state(edit):
    def damage(run):
        blob = safe_load(run / "dbm-state.pt", kind="dbm-training")
        edit(blob["trainer"])
        atomic_save(blob, run / "dbm-state.pt")

    return damage


def other_model(state):
    state["model_config"] = {"sizes": [64, 100, 300], "n_labels": 0}


def cut_last_line(name):
    def damage(run):
        text = (run / name).read_text()
        (run / name).write_text(text[: len(text) - 5])

    return damage


def append(name, text):
    def damage(run):
        with open(run / name, "a") as handle:
            handle.write(text)

    return damage


# --resume with an option that differs from the run's: (script, base arguments, the run
# it targets, the changed option and its value)
RESUMED_OPTIONS = [
    *(
        ("pretrain", PRETRAIN, "pretrain", option)
        for option in [
            ["--recipe", "quick"],
            ["--sizes", "64", "20"],
            ["--method", "pcd"],
            ["--k", "2"],
            ["--persist", "hidden"],
            ["--epochs", "2"],
            ["--lr", "0.05"],
            ["--batch-size", "50"],
            ["--weight-decay", "0.001"],
            ["--l1", "0.001"],
            ["--sparsity-target", "0.1"],
            ["--sparsity-cost", "0.1"],
            ["--corruption", "0.1"],
            ["--weight-std", "0.1"],
            ["--no-init-visible-bias"],
            ["--step", "loss"],
            ["--monitor-every", "2"],
            ["--autocast", "bfloat16"],
            ["--rng", "torch"],
            ["--matmul", "mm"],
            ["--dataset", "mnist"],
            ["--use-valid"],
            ["--seed", "3"],
        ]
    ),
    *(
        ("finetune", FINETUNE, "finetune", option)
        for option in [
            ["--init", "he_normal"],
            ["--checkpoint", "{root}/pretrain/dbn.pt"],
            ["--select-from", "{root}/finetune"],
            ["--sizes", "64", "20"],
            ["--activation", "relu"],
            ["--dropout", "0.1"],
            ["--input-dropout", "0.1"],
            ["--norm", "batch"],
            ["--recipe", "hinton2006"],
            ["--refit"],
            ["--use-valid"],
            ["--optimizer", "adam"],
            ["--lr", "0.2"],
            ["--momentum", "0.1"],
            ["--final-momentum", "0.5"],
            ["--momentum-epochs", "3"],
            ["--dampened-momentum"],
            ["--lr-gamma", "0.5"],
            ["--head-epochs", "2"],
            ["--max-norm", "2"],
            ["--lbfgs-iterations", "5"],
            ["--cg-line-searches", "2"],
            ["--schedule", "cosine"],
            ["--epochs", "2"],
            ["--batch-size", "50"],
            ["--weight-decay", "0.001"],
            ["--l1", "0.001"],
            ["--clip-grad-norm", "1"],
            ["--patience", "2"],
            ["--matmul", "mm"],
            ["--autocast", "bfloat16"],
            ["--dataset", "mnist"],
            ["--train-size", "100"],
            ["--seed", "3"],
        ]
    ),
    *(
        ("dbm", DBM_RUN, "dbm", option)
        for option in [
            ["--recipe", "salakhutdinov-hinton2009-labels"],
            ["--pretrain-epochs", "2", "1"],
            ["--pretrain-k", "2", "2"],
            ["--epochs", "10"],
            ["--binarize"],
            ["--autocast", "bfloat16"],
            ["--rng", "torch"],
            ["--matmul", "mm"],
            ["--start-from", "{root}/dbm/greedy.safetensors"],
            ["--eval-every", "2"],
            ["--seed", "3"],
        ]
    ),
    *(
        ("updown", UPDOWN, "updown", option)
        for option in [
            ["--epochs", "9"],
            ["--lr", "0.5"],
            ["--momentum", "0.1"],
            ["--weight-decay", "0.001"],
            ["--recipe", "hinton-osindero-teh2006-paper"],
            ["--cd-steps", "2"],
            ["--rng", "torch"],
            ["--matmul", "mm"],
            ["--start-from", "{root}/updown/greedy.safetensors"],
            ["--use-valid"],
            ["--eval-every", "2"],
            ["--seed", "3"],
        ]
    ),
    *(
        ("dbm_finetune", ["{root}/dbm-input.safetensors", *DBM_FINETUNE], "dbm-finetune", option)
        for option in [
            ["--recipe", "dropout2014"],
            ["--epochs", "2"],
            ["--seeds", "0", "1"],
            ["--use-valid"],
            ["--mean-field-steps", "50"],
            ["--output-std", "0.1"],
            ["--matmul", "mm"],
        ]
    ),
]

RESUMED = [
    (
        name,
        [*base, "--resume", *option],
        target,
        # the option by its destination's name: --no-x sets x
        rf"--{re.escape(option[0].removeprefix('--').removeprefix('no-'))} .*\(the run has",
    )
    for name, base, target, option in RESUMED_OPTIONS
]

# (script, arguments, the run it targets or "new", what the one line must say)
CASES = [
    *RESUMED,
    # inputs that changed since the run started
    ("dbm", [*DBM_RUN, "--resume"], "dbm-started", "input start_from .* changed since the run"),
    (
        "dbm_finetune",
        ["{root}/dbm-input.safetensors", *DBM_FINETUNE, "--resume"],
        "dbm-finetune",
        "changed since the run started",
    ),
    # files read back that disagree with each other or with the config
    ("dbm", [*DBM_RUN, "--resume"], "dbm-edited", "was edited after the run wrote it"),
    ("pretrain", [*PRETRAIN, "--resume"], "pretrain-no-checksum", "was edited after the run"),
    ("finetune", [*FINETUNE, "--resume"], "finetune-no-checksum", "was edited after the run"),
    ("pretrain", [*PRETRAIN, "--resume"], "pretrain-no-command", "records no command line"),
    ("finetune", [*FINETUNE, "--resume"], "finetune-no-command", "records no command line"),
    ("dbm", [*DBM_RUN, "--resume"], "dbm-greedy-swapped", r"holds a model of \{'sizes': \[64, 50"),
    ("dbm", [*DBM_RUN, "--resume"], "dbm-epoch-negative", ROWS + "-4"),
    ("dbm", [*DBM_RUN, "--resume"], "dbm-epoch-beyond", ROWS + "9"),
    ("dbm", [*DBM_RUN, "--resume"], "dbm-epoch-text", ROWS + "'1'"),
    ("dbm", [*DBM_RUN, "--resume"], "dbm-state-other-model", r"is of a model .*64, 100, 300"),
    ("dbm", [*DBM_RUN, "--resume"], "dbm-state-no-config", "holds no DBMConfig options"),
    (
        "dbm_finetune",
        ["{root}/dbm/model.safetensors", *DBM_FINETUNE, "--resume"],
        "dbm-finetune-cut",
        "results.jsonl' line 1 is not a JSON object: cut or edited",
    ),
    (
        "dbm_finetune",
        ["{root}/dbm/model.safetensors", *DBM_FINETUNE, "--resume"],
        "dbm-finetune-not-object",
        "results.jsonl' line 2 is not a JSON object",
    ),
    # a checkpoint's place that holds a directory
    ("dbm", [*DBM_RUN, "--resume"], "dbm-state-dir", "dbm-state.pt' is not a regular file"),
    ("updown", [*UPDOWN, "--resume"], "updown-state-dir", "updown-state.pt' is not a regular"),
    ("pretrain", [*PRETRAIN, "--resume"], "pretrain-state-dir", "train-state.pt' is not a reg"),
    ("finetune", [*FINETUNE, "--resume"], "finetune-state-dir", "train-state.pt' is not a reg"),
    # a new run into a folder of someone else's files
    ("finetune", FINETUNE, "users-folder", "is not empty and holds no run"),
    ("pretrain", PRETRAIN, "users-folder", "is not empty and holds no run"),
    ("dbm", DBM_RUN, "users-folder", "is not empty and holds no run"),
    ("updown", UPDOWN, "users-folder", "is not empty and holds no run"),
    (
        "dbm_finetune",
        ["{root}/dbm/model.safetensors", *DBM_FINETUNE],
        "users-folder",
        "is not empty and holds no run",
    ),
    # values refused before anything is written
    ("dbm", [*DBM_RUN, "--eval-every", "0"], "new", "--eval-every: must be an integer >= 1"),
    ("dbm", [*DBM_RUN, "--eval-every", "-2"], "new", "--eval-every: must be an integer >= 1"),
    ("updown", [*UPDOWN, "--eval-every", "0"], "new", "--eval-every: must be an integer >= 1"),
    ("updown", [*UPDOWN, "--momentum", "1.5"], "new", r"momentum must lie in \[0, 1\)"),
    ("updown", ["--quick", "--out", ""], "none", "--out must name a directory, got an empty"),
    ("dbm_finetune", ["{root}/dbm/model.safetensors", "--seeds", "-1"], "new", "seed must lie"),
    ("dbm_finetune", ["{root}/dbm/model.safetensors", "--epochs", "0"], "new", "epochs must be"),
    ("dbm_finetune", ["{root}/dbm/model.safetensors", "--out", ""], "none", "--out must name"),
    ("dbm_finetune", ["{root}/pretrain/dbn.pt"], "new", "holds a DBN, not a DBM"),
    ("dbm_finetune", ["{root}/nowhere.safetensors"], "new", "does not exist"),
    # the reports read their model from the file alone, and write nothing when refused
    ("dbm_report", ["{root}/dbm/dbm-state.pt"], "new", "models 64 pixels, not MNIST's 784"),
    ("dbm_report", ["{root}/dbm/model.safetensors"], "new", "models 64 pixels, not MNIST's 784"),
    ("dbm_report", ["{root}/updown/model.safetensors"], "new", "holds a generative DBN, not a DBM"),
    ("updown_report", ["{root}/dbm/model.safetensors"], "new", "holds a DBM, not a generative"),
    ("updown_report", ["{root}/dbm/dbm-state.pt"], "new", "holds a DBM, not a generative DBN"),
    # a model that classifies otherwise is sent where it is scored
    ("evaluate", ["{root}/updown/model.safetensors"], "none", "score it with dbn-updown-report"),
    ("evaluate", ["{root}/dbm/model.safetensors"], "none", "score it with dbn-dbm-report"),
    ("evaluate", ["{root}/pretrain/dbn.pt"], "none", "holds a DBN, not a classifier"),
]


@pytest.mark.parametrize("name, argv, target, message", CASES)
def test_refused_in_one_line_and_nothing_changes(
    world, tmp_path, monkeypatch, capsys, name, argv, target, message
):
    monkeypatch.chdir(tmp_path)  # a stray relative write would land here and be seen
    if target in ("new", "none"):
        out = tmp_path / "new-run"
    else:
        out = tmp_path / "run"
        shutil.copytree(world / target, out, symlinks=True)
    argv = [arg.format(root=world) for arg in argv]
    if target != "none":
        argv = [*argv, "--out", str(out)]
    assert_refused(name, argv, message, [world, tmp_path], monkeypatch, capsys)
    if target == "new":
        assert not out.exists()


def test_the_tables_hold_a_hundred_cases_and_every_resumable_option():
    assert len(CASES) >= 100
    for name in ("pretrain", "finetune", "dbm", "updown", "dbm_finetune"):
        parser = script(name).get_args_parser()
        options = {
            action.dest
            for action in parser._actions
            if action.option_strings
            and action.dest not in ("help", "out", "resume", "device", "data_dir")
            and action.dest not in ("no_progress", "debug", "tensorboard", "quick")
        }
        by_flag = parser._option_string_actions
        changed = {by_flag[option[0]].dest for n, _, _, option in RESUMED_OPTIONS if n == name}
        assert options <= changed, (name, sorted(options - changed))


def test_a_resume_with_the_run_options_retyped_goes_on(world, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(world / "dbm", out)
    (out / "model.safetensors").unlink()
    module = script("dbm")
    argv = [*DBM_RUN, "--seed", "0", "--eval-every", "10", "--resume", "--out", str(out)]
    module.main(module.get_args_parser().parse_args(argv))
    gc.collect()
    assert dbn.load(out / "model.safetensors", expect=DBM).sizes == [64, 100, 200]


def test_a_symlink_in_a_run_is_replaced_not_written_through(world, tmp_path, monkeypatch, capsys):
    out, outside = tmp_path / "run", tmp_path / "outside.png"
    shutil.copytree(world / "dbm", out)
    (out / "model.safetensors").unlink()  # so that the resumed run writes its outputs again
    outside.write_bytes(b"someone else's picture")
    (out / "samples.png").unlink()
    (out / "samples.png").symlink_to(outside)
    module = script("dbm")
    module.main(module.get_args_parser().parse_args([*DBM_RUN, "--resume", "--out", str(out)]))
    gc.collect()
    assert outside.read_bytes() == b"someone else's picture"
    assert not (out / "samples.png").is_symlink() and (out / "samples.png").stat().st_size > 0


def test_a_run_records_its_command_and_inputs(world):
    config = json.loads((world / "dbm-started" / "config.json").read_text())
    assert config["command"]["epochs"] == 1 and config["command"]["quick"] is True
    assert set(config["inputs"]) == {"start_from"}
    assert "typed" not in config["command"] and "out" not in config["command"]
    model = dbn.load(world / "dbm" / "dbm-state.pt", expect=DBM)  # a state holds its model
    assert model.sizes == [64, 100, 200]


def test_the_dbm_codes_fine_tuning_protocol_runs_and_draws_its_output_layer(world, tmp_path):
    out = tmp_path / "code"
    argv = [
        *(str(world / "dbm" / "model.safetensors"), "--recipe", "salakhutdinov-hinton2009-code"),
        *("--epochs", "1", "--seeds", "0", "--mean-field-steps", "50", "--output-std", "0.1"),
        *("--use-valid", "--no-progress", "--out", str(out)),
    ]
    module = script("dbm_finetune")
    summary = module.main(module.get_args_parser().parse_args(argv))
    gc.collect()
    assert summary["seeds"] == [0] and 0 <= summary["test_error_mean"] <= 1
    classifier = dbn.load(out / "seed0.safetensors", expect=DBMClassifier)
    assert classifier.mean_field_steps == 50
    config = json.loads((out / "config.json").read_text())
    assert config["finetune"]["batch_size"] == 10000 and config["output_std"] == 0.1
    start = DBMClassifier.from_dbm(
        dbn.load(world / "dbm" / "model.safetensors", expect=DBM),
        generator=torch.Generator().manual_seed(0),
        output_std=0.1,
        output_bias_std=0.1,
    )
    bias = start.mlp[-1].bias
    assert 0.02 < bias.std().item() < 0.3  # drawn, as backprop.m's topbiases, not zero
