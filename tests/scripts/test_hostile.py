"""Hostile and careless input, table-driven: every case must fail with exit status 2 and
one line on stderr, no traceback, and leave every file already on disk byte-identical."""

import errno
import gc
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from helpers import assert_refused, run_script, script, wait_for_checkpoints
from safetensors import safe_open
from safetensors.torch import save_file

import dbn
from dbn.io import atomic_save

HUGE = "100000000"


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch exploited",))


def flip_inside_largest_tensor(source: Path, target: Path) -> None:
    """Copy ``source`` with one byte flipped in the middle of its largest stored tensor."""
    payload = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        entry = max(
            (info for info in archive.infolist() if "/data/" in info.filename),
            key=lambda info: info.file_size,
        )
    name_length, extra_length = struct.unpack("<HH", payload[entry.header_offset + 26 :][:4])
    start = entry.header_offset + 30 + name_length + extra_length
    payload[start + entry.file_size // 2] ^= 0xFF
    target.write_bytes(bytes(payload))


def craft_nested_and_unsigned_files(good: Path, checkpoints: Path) -> None:
    """Files no dbn writes: metadata or values nested far too deep, and a safetensors
    file without its content checksum."""
    save_file({"x": torch.zeros(1)}, checkpoints / "deep.safetensors", {"dbn": "[" * 100000})
    nested: list = []
    for _ in range(5000):
        nested = [nested]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)  # pickling it recurses; reading it back does not
    try:
        torch.save({"kind": "dbn", "x": nested}, checkpoints / "deep.pt")
    finally:
        sys.setrecursionlimit(limit)
    model = dbn.load(good)
    model.save(checkpoints / "signed.safetensors")
    with safe_open(checkpoints / "signed.safetensors", "pt") as handle:
        metadata = json.loads(handle.metadata()["dbn"])
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    metadata.pop("content_sha256")
    save_file(tensors, checkpoints / "unsigned.safetensors", {"dbn": json.dumps(metadata)})


def edit_configs(root: Path) -> None:
    """Copies of finished runs whose config.json was edited after the run."""
    edits = {
        "finetune-edited-lr": ("finetune", lambda c: c["finetune"].update(lr=0.5)),
        "finetune-edited-momentum": ("finetune", lambda c: c["finetune"].update(momentum=0.0)),
        "finetune-no-finetune": ("finetune", lambda c: c.pop("finetune")),
        "finetune-unknown-key": ("finetune", lambda c: c.update(colour="blue")),
        "pretrain-no-train": ("pretrain", lambda c: c.pop("train")),
        "pretrain-unknown-nested": ("pretrain", lambda c: c["train"].update(speed=2)),
    }
    for name, (source, edit) in edits.items():
        shutil.copytree(root / source, root / name)
        path = root / name / "config.json"
        config = json.loads(path.read_text())
        edit(config)
        path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Finished runs of each script and checkpoints good and bad, made once."""
    root = tmp_path_factory.mktemp("hostile")
    quiet = ["--dataset", "digits", "--no-progress"]
    for name, program, argv in [
        ("pretrain", "pretrain", [*quiet, "--sizes", "64", "16", "--epochs", "1"]),
        (
            "finetune",
            "finetune",
            [*quiet, "--init", "xavier_uniform", "--sizes", "64", "16", "--epochs", "1"],
        ),
        ("finetune-refit", "finetune", [*FINETUNE, "--refit"]),
    ]:
        module = script(program)
        module.main(module.get_args_parser().parse_args([*argv, "--out", str(root / name)]))
        gc.collect()
    good = dbn.DBN([64, 16, 8])
    good.save(root / "good.pt")
    good.layers[0].save(root / "rbm-64.pt")
    blob = torch.load(root / "good.pt", weights_only=True)
    blob.pop("content_sha256")
    checkpoints = root / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / "truncated.pt").write_bytes((root / "good.pt").read_bytes()[:500])
    torch.save({"kind": "dbn", "x": Exploit()}, checkpoints / "payload.pt")
    nan_state = {k: v.clone() for k, v in blob["state"].items()}
    nan_state["layers.0.weight"][0, 0] = float("nan")
    atomic_save({**blob, "state": nan_state}, checkpoints / "nan.pt")
    atomic_save({**blob, "format_version": "one"}, checkpoints / "version.pt")
    atomic_save(
        {**blob, "config": {**blob["config"], "sizes": [64, int(HUGE), 8]}}, checkpoints / "huge.pt"
    )
    flip_inside_largest_tensor(root / "good.pt", checkpoints / "flipped.pt")
    (checkpoints / "a-directory").mkdir()
    os.mkfifo(checkpoints / "fifo.pt")
    (checkpoints / "loop.pt").symlink_to(checkpoints / "loop.pt")
    (checkpoints / "broken.pt").symlink_to(checkpoints / "nowhere.pt")
    (checkpoints / "garbage.pt").write_bytes(b"\x00" * 64)
    craft_nested_and_unsigned_files(root / "good.pt", checkpoints)
    edit_configs(root)
    shutil.copytree(root / "pretrain", root / "pretrain-damaged")
    state = root / "pretrain-damaged" / "train-state.pt"
    flip_inside_largest_tensor(root / "pretrain" / "train-state.pt", state)
    return root


PRETRAIN = ["--dataset", "digits", "--sizes", "64", "16", "--epochs", "1", "--no-progress"]
FINETUNE = ["--dataset", "digits", "--init", "xavier_uniform", "--epochs", "1", "--no-progress"]
FINETUNE_DBN = ["--dataset", "digits", "--init", "dbn", "--epochs", "1", "--no-progress"]
COMPARE = ["--preset", "digits", "--epochs", "1", "--seeds", "0", "--no-progress"]
LOGLIK = ["--epochs", "1", "--hidden", "8", "--no-progress"]

# (script, arguments, the --out it targets, what the one line must say). Targets: "new"
# is a directory that does not exist (and must not be created), "pretrain" / "finetune"
# a copy of a finished run of that script, "none" no --out at all.
CASES = [
    # pretrain: values
    ("pretrain", [*PRETRAIN, "--lr", "nan"], "new", "lr must be a positive finite number"),
    ("pretrain", [*PRETRAIN, "--lr", "inf"], "new", "lr must be a positive finite number"),
    ("pretrain", [*PRETRAIN, "--lr", "-1"], "new", "lr must be a positive finite number"),
    ("pretrain", [*PRETRAIN, "--lr", "0"], "new", "lr must be a positive finite number"),
    ("pretrain", [*PRETRAIN, "--epochs", "0"], "new", "epochs must be an integer >= 1"),
    ("pretrain", [*PRETRAIN, "--epochs", "-3"], "new", "epochs must be an integer >= 0, got -3"),
    ("pretrain", [*PRETRAIN, "--k", "0"], "new", "k must be an integer >= 1"),
    ("pretrain", [*PRETRAIN, "--batch-size", "0"], "new", "batch_size must be an integer >= 1"),
    ("pretrain", [*PRETRAIN, "--sizes", "64", "0"], "new", "layer size must be an integer >= 1"),
    ("pretrain", [*PRETRAIN, "--sizes", "64", "-3"], "new", "layer size must be an integer >= 1"),
    ("pretrain", [*PRETRAIN, "--sizes", "64"], "new", "sizes must be two or more"),
    ("pretrain", [*PRETRAIN, "--sizes", "100", "16"], "new", "digits has 64 features"),
    ("pretrain", [*PRETRAIN, "--sizes", "64", HUGE], "new", "the model is too large for cpu"),
    ("pretrain", [*PRETRAIN, "--corruption", "2"], "new", r"corruption must lie in \[0, 1\)"),
    ("pretrain", [*PRETRAIN, "--corruption", "-0.1"], "new", r"corruption must lie in \[0, 1\)"),
    ("pretrain", [*PRETRAIN, "--weight-decay", "inf"], "new", "weight_decay must be a finite"),
    ("pretrain", [*PRETRAIN, "--weight-decay", "-1"], "new", "weight_decay must be a finite"),
    ("pretrain", [*PRETRAIN, "--l1", "inf"], "new", "l1 must be a finite number >= 0"),
    ("pretrain", [*PRETRAIN, "--l1", "nan"], "new", "l1 must be a finite number >= 0"),
    ("pretrain", [*PRETRAIN, "--sparsity-target", "1.5"], "new", r"sparsity_target must lie"),
    ("pretrain", [*PRETRAIN, "--sparsity-cost", "-1"], "new", "sparsity_cost must be a finite"),
    ("pretrain", [*PRETRAIN, "--step", "cuda_graph"], "new", "needs a CUDA device, got 'cpu'"),
    ("pretrain", [*PRETRAIN, "--device", "tpu"], "new", "device must be 'auto', 'cpu'"),
    ("pretrain", [*PRETRAIN, "--device", "cuda:x"], "new", "device must be 'auto', 'cpu'"),
    ("pretrain", [*PRETRAIN, "--seed", str(10**20)], "new", "seed must lie in 0..2"),
    ("pretrain", [*PRETRAIN, "--seed", "-1"], "new", "seed must lie in 0..2"),
    ("pretrain", [*PRETRAIN, "--seed", "one"], "new", "invalid seed 'one'"),
    ("pretrain", [*PRETRAIN, "--method", "magic"], "new", "invalid choice: 'magic'"),
    ("pretrain", [*PRETRAIN, "--recipe", "nope"], "new", "invalid choice: 'nope'"),
    ("pretrain", [*PRETRAIN, "--autocast", "float8"], "new", "invalid choice: 'float8'"),
    ("pretrain", [*PRETRAIN, "--dataset", "imagenet"], "new", "invalid choice: 'imagenet'"),
    ("pretrain", [*PRETRAIN, "--epochs", "two"], "new", "invalid int value: 'two'"),
    # pretrain: paths and data sources that do not say what they do
    ("pretrain", [*PRETRAIN, "--out", ""], "none", "--out must name a directory, got an empty"),
    ("pretrain", [*PRETRAIN, "--out", "  "], "none", "--out must name a directory, got an empty"),
    ("finetune", [*FINETUNE, "--out", ""], "none", "--out must name a directory, got an empty"),
    ("dbm", ["--quick", "--out", ""], "none", "--out must name a directory, got an empty"),
    (
        "pretrain",
        ["--dataset", "mnist", "--sizes", "784", "16", "--data-dir", "{ckpt}/a-directory"],
        "new",
        r"holds no usable MNIST .*expected torchvision's layout",
    ),
    (
        "evaluate",
        ["{root}/finetune/model.pt", "--dataset", "mnist", "--data-dir", "{ckpt}/nowhere"],
        "none",
        r"holds no usable MNIST",
    ),
    # pretrain: a run directory that holds something
    ("pretrain", [*PRETRAIN, "--lr", "nan"], "pretrain", "lr must be a positive finite"),
    ("pretrain", PRETRAIN, "pretrain", "already holds a run; continue it with --resume"),
    ("pretrain", [*PRETRAIN, "--resume", "--lr", "0.05"], "pretrain", "--lr 0.05 .the run has"),
    ("pretrain", [*PRETRAIN, "--resume", "--sizes", "64", "20"], "pretrain", "--sizes .64, 20."),
    ("pretrain", [*PRETRAIN, "--resume", "--epochs", "9"], "pretrain", "--epochs 9 .the run"),
    ("pretrain", [*PRETRAIN, "--resume", "--seed", "4"], "pretrain", "--seed 4 .the run has 0"),
    ("pretrain", [*PRETRAIN, "--resume"], "finetune", "holds a run of finetune, not of pretrain"),
    ("pretrain", [*PRETRAIN, "--resume"], "pretrain-damaged", "is corrupt: its content does"),
    ("pretrain", [*PRETRAIN, "--out", "{root}/good.pt/run"], "none", "cannot create output"),
    # finetune: values
    ("finetune", [*FINETUNE, "--lr", "nan"], "new", "lr must be a positive finite number"),
    ("finetune", [*FINETUNE, "--epochs", "0"], "new", "epochs must be an integer >= 1"),
    ("finetune", [*FINETUNE, "--momentum", "1.5"], "new", r"momentum must lie in \[0, 1\)"),
    ("finetune", [*FINETUNE, "--dropout", "1.0"], "new", r"dropout must lie in \[0, 1\)"),
    ("finetune", [*FINETUNE, "--input-dropout", "-0.1"], "new", "input_dropout must lie in"),
    ("finetune", [*FINETUNE, "--sizes", "64", "-3"], "new", "layer size must be an integer"),
    ("finetune", [*FINETUNE, "--sizes", "64", "0"], "new", "layer size must be an integer"),
    ("finetune", [*FINETUNE, "--sizes", "64", HUGE], "new", "the model is too large for cpu"),
    ("finetune", [*FINETUNE, "--clip-grad-norm", "0"], "new", "clip_grad_norm must be a pos"),
    ("finetune", [*FINETUNE, "--clip-grad-norm", "inf"], "new", "clip_grad_norm must be a pos"),
    ("finetune", [*FINETUNE, "--weight-decay", "inf"], "new", "weight_decay must be a finite"),
    ("finetune", [*FINETUNE, "--l1", "inf"], "new", "l1 must be a finite number >= 0"),
    ("finetune", [*FINETUNE, "--l1", "-1"], "new", "l1 must be a finite number >= 0"),
    ("finetune", [*FINETUNE, "--patience", "0"], "new", "patience must be an integer >= 1"),
    ("finetune", [*FINETUNE, "--batch-size", "0"], "new", "batch_size must be an integer >= 1"),
    ("finetune", [*FINETUNE, "--train-size", "0"], "new", "train_size must be an integer >= 1"),
    ("finetune", [*FINETUNE, "--train-size", "-5"], "new", "train_size must be an integer >= 1"),
    ("finetune", [*FINETUNE, "--init", "glorot"], "new", "init must be 'dbn' or one of"),
    ("finetune", [*FINETUNE, "--activation", "gelu"], "new", "invalid choice: 'gelu'"),
    ("finetune", [*FINETUNE_DBN], "new", "--init dbn needs --checkpoint PATH"),
    # finetune: checkpoints that are not what they claim
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/missing.pt"], "new", "does not exist"),
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/a-directory"], "new", "is a directory"),
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/fifo.pt"], "new", "not a regular file"),
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/loop.pt"], "new", "broken or looping"),
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/broken.pt"], "new", "broken or looping"),
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/payload.pt"], "new", "could run code"),
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/truncated.pt"], "new", "truncated or"),
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/garbage.pt"], "new", "truncated or"),
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/flipped.pt"], "new", "is corrupt: its"),
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/nan.pt"], "new", "NaN or infinite"),
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/version.pt"], "new", "invalid format"),
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/huge.pt"], "new", "not hold a valid"),
    # crafted files: bounded, one line, whatever reads them
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/deep.pt"], "new", "nest more than 32"),
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{ckpt}/deep.safetensors"], "new", "nests deeper"),
    (
        "finetune",
        [*FINETUNE_DBN, "--checkpoint", "{ckpt}/unsigned.safetensors"],
        "new",
        "no content",
    ),
    ("evaluate", ["{ckpt}/deep.safetensors"], "none", "metadata nests deeper than any dbn"),
    ("evaluate", ["{ckpt}/deep.pt"], "none", "values nest more than 32 levels deep"),
    ("evaluate", ["{ckpt}/unsigned.safetensors"], "none", "carries no content checksum"),
    ("evaluate", ["{ckpt}/signed.safetensors", "--dataset", "digits"], "none", "holds a DBN, not"),
    (
        "finetune",
        [*FINETUNE_DBN, "--checkpoint", "{root}/good.pt", "--sizes", "64", "32", "8"],
        "new",
        r"layer sizes \[64, 16, 8\] differ from \[64, 32, 8\]",
    ),
    # finetune: a run directory that holds something
    ("finetune", FINETUNE, "finetune", "already holds a run; continue it with --resume"),
    # --resume trusts nothing it reads: an edited config.json
    (
        "finetune",
        [*FINETUNE, "--resume"],
        "finetune-edited-lr",
        "was edited after the run wrote it",
    ),
    (
        "finetune",
        [*FINETUNE, "--resume"],
        "finetune-edited-momentum",
        "was edited after the run wrote it",
    ),
    (
        "finetune",
        [*FINETUNE, "--resume"],
        "finetune-no-finetune",
        "was edited after the run wrote it",
    ),
    (
        "finetune",
        [*FINETUNE, "--resume"],
        "finetune-unknown-key",
        "was edited after the run wrote it",
    ),
    ("pretrain", [*PRETRAIN, "--resume"], "pretrain-no-train", "was edited after the run wrote it"),
    (
        "pretrain",
        [*PRETRAIN, "--resume"],
        "pretrain-unknown-nested",
        "was edited after the run wrote it",
    ),
    ("finetune", [*FINETUNE, "--resume", "--lr", "0.2"], "finetune", "--lr 0.2 .the run has"),
    ("finetune", [*FINETUNE, "--resume"], "pretrain", "holds a run of pretrain, not of finetune"),
    ("finetune", [*FINETUNE, "--dropout", "2"], "finetune", r"dropout must lie in \[0, 1\)"),
    ("finetune", [*FINETUNE, "--use-valid", "--refit"], "new", "takes no --refit or --sel"),
    ("finetune", [*FINETUNE, "--use-valid", "--patience", "2"], "new", "no validation images"),
    # finetune: a selection to borrow that is not one
    ("finetune", [*FINETUNE, "--select-from", "{ckpt}/missing"], "new", "not a fine-tuning run"),
    ("finetune", [*FINETUNE, "--select-from", "{root}/pretrain"], "new", "not a fine-tuning run"),
    ("finetune", [*FINETUNE, "--select-from", "{root}/finetune"], "new", "did not select its"),
    (
        "finetune",
        [*FINETUNE, "--select-from", "{root}/finetune-refit", "--lr", "0.2", "--seed", "1"],
        "new",
        r"was run with other options \(lr\); only the seed may differ",
    ),
    # the wrong kind of file where a DBN is read: refused before anything is written
    ("finetune", [*FINETUNE_DBN, "--checkpoint", "{root}/rbm-64.pt"], "new", "holds an RBM, not"),
    (
        "finetune",
        [*FINETUNE_DBN, "--checkpoint", "{root}/finetune/model.pt"],
        "new",
        "holds a classifier, not a DBN",
    ),
    ("compare", [*COMPARE, "--checkpoint", "{root}/rbm-64.pt"], "new", "holds an RBM, not a DBN"),
    (
        "compare",
        [*COMPARE, "--checkpoint", "{root}/finetune/model.pt"],
        "new",
        "holds a classifier, not a DBN",
    ),
    (
        "compare",
        [*COMPARE, "--checkpoint", "{root}/good.pt"],
        "new",
        r"has layer sizes \[64, 16, 8\], the study \[64, 32, 16\]",
    ),
    # compare
    ("compare", [*COMPARE, "--train-size", "0"], "new", "train_size must be an integer >= 1"),
    ("compare", [*COMPARE, "--train-size", "-1200"], "new", "train_size must be an integer"),
    ("compare", [*COMPARE, "--train-size", "999999"], "new", "exceeds the .* training images"),
    ("compare", [*COMPARE, "--inits", "foo:sigmoid"], "new", "unknown initialisation 'foo'"),
    ("compare", [*COMPARE, "--inits", "he_normal"], "new", "must look like NAME:ACTIVATION"),
    ("compare", [*COMPARE, "--lr-grid", "0"], "new", "each --lr-grid value must be a positive"),
    ("compare", [*COMPARE, "--dropout", "1"], "new", r"dropout must lie in \[0, 1\)"),
    ("compare", [*COMPARE, "--epochs", "0"], "new", "epochs must be an integer >= 1"),
    ("compare", [*COMPARE, "--resume"], "pretrain", "holds a run of pretrain, not of compare"),
    ("compare", [*COMPARE, "--labels", "0"], "new", "each --labels value must be an integer"),
    ("compare", [*COMPARE, "--labels", "ten"], "new", "'ten' is neither a count nor 'all'"),
    ("compare", [*COMPARE, "--labels", "5000"], "new", "the label budget 5000 exceeds the"),
    ("compare", [*COMPARE, "--quick"], "new", "preset 'digits' has no quick variant"),
    ("compare", [*COMPARE, "--inits", "logreg:relu"], "new", "logistic regression reads one of"),
    (
        "compare",
        ["--preset", "fidelity-dropout2014", "--quick", "--labels", "50", "--no-progress"],
        "new",
        "refit trains on the validation images too, which a label budget forbids",
    ),
    # loglik and bench
    ("loglik", [*LOGLIK, "--n-betas", "0"], "new", "n_betas must be an integer >= 3"),
    ("loglik", [*LOGLIK, "--n-runs", "1"], "new", "n_runs must be an integer >= 2"),
    ("loglik", [*LOGLIK, "--hidden", "0"], "new", "hidden must be an integer >= 1"),
    ("loglik", [*LOGLIK, "--epochs", "-1"], "new", "epochs must be an integer >= 0"),
    ("loglik", [*LOGLIK, "--hidden", HUGE], "new", "the model is too large for cpu"),
    ("loglik", [*LOGLIK, "--score", "{root}/good.pt"], "new", "holds a DBN, not an RBM"),
    ("loglik", [*LOGLIK, "--score", "{root}/rbm-64.pt"], "new", "64 bernoulli visible units"),
    ("loglik", [*LOGLIK, "--score", "{ckpt}/missing.pt"], "new", "does not exist"),
    ("loglik", [*LOGLIK, "--score", "{root}/good.pt", "--eval-every", "1"], "new", "no --eval"),
    ("loglik", [*LOGLIK, "--score", "{root}/good.pt", "--resume"], "new", "nothing to --resume"),
    ("loglik", [*LOGLIK, "--resume"], "pretrain", "holds a run of pretrain, not of loglik"),
    ("bench", ["--samples", "0"], "new", "argument --samples: must be an integer >= 1"),
    ("bench", ["--batch-sizes", "100", "0"], "new", "argument --batch-sizes: must be an"),
    ("bench", ["--repeats", "-2"], "new", "argument --repeats: must be an integer >= 1"),
    ("bench", ["--hidden", "x"], "new", "invalid integer 'x'"),
]


@pytest.mark.parametrize("script, argv, target, message", CASES)
def test_refused_in_one_line_and_nothing_changes(
    world, tmp_path, monkeypatch, capsys, script, argv, target, message
):
    monkeypatch.chdir(tmp_path)  # a stray relative write would land here and be seen
    if (world / target).is_dir():  # a copy of one of the world's runs
        out = tmp_path / "run"
        shutil.copytree(world / target, out)
    else:
        out = tmp_path / "new-run"
    argv = [arg.format(root=world, ckpt=world / "checkpoints") for arg in argv]
    if target != "none":
        argv = [*argv, "--out", str(out)]
    assert_refused(script, argv, message, [world, tmp_path], monkeypatch, capsys)
    if target == "new":
        assert not out.exists()
    assert not Path("exploited").exists()


def test_there_are_at_least_sixty_cases():
    assert len(CASES) >= 60


def test_values_just_outside_the_unit_interval_are_shown_in_full():
    data = torch.full((4, 64), 0.5)
    data[0, 0] = 1.00001
    with pytest.raises(ValueError, match=r"got values in \[0\.5, 1\.0000100135803\d*\]"):
        dbn.DBN([64, 8]).pretrain(data, epochs=1, progress=False)


def test_a_full_disk_names_the_path_and_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "state.pt"
    atomic_save({"x": torch.ones(2)}, target)
    before = target.read_bytes()

    def full_disk(obj, path):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match=f"cannot write {re.escape(repr(str(target)))}: No space"):
        atomic_save({"x": torch.zeros(2)}, target)
    assert target.read_bytes() == before
    assert [path.name for path in tmp_path.iterdir()] == ["state.pt"]


def test_only_temp_files_of_dead_writers_are_swept(tmp_path):
    live = tmp_path / f".state.pt.{os.getpid()}.abc.tmp.pt"
    dead_pid = 2**22 + 12345  # above the kernel's pid_max default: no such process
    dead = tmp_path / f".state.pt.{dead_pid}.abc.tmp.pt"
    live.write_bytes(b"a writer still at work")
    dead.write_bytes(b"left by a killed writer")
    atomic_save({"x": torch.ones(2)}, tmp_path / "state.pt")
    assert live.exists() and not dead.exists()


def test_a_second_process_on_a_run_directory_is_refused_at_once(tmp_path):
    out = tmp_path / "run"
    command = [
        sys.executable,
        str(Path(__file__).resolve().parents[2] / "scripts" / "pretrain.py"),
        *PRETRAIN[:-3],
        "--epochs",
        "8",
        "--batch-size",
        "5",
        "--no-progress",
        "--out",
        str(out),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_checkpoints(first, 1)
    first.send_signal(signal.SIGSTOP)  # mid-run, holding its lock, for as long as we need
    for stray in out.glob(".*"):  # no file in the folder is the lock: removing them is futile
        stray.unlink()
    for extra in ([], ["--resume"]):
        second = subprocess.run([*command, *extra], env=env, capture_output=True, text=True)
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"pretrain.py: error: {str(out)!r} is in use by another process; wait for it to "
            f"finish or choose another --out"
        ]
    first.send_signal(signal.SIGCONT)
    first.communicate()
    assert first.returncode == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(row["layer"], row["epoch"]) for row in rows] == [(1, epoch) for epoch in range(1, 9)]


def test_running_out_of_memory_is_one_line(tmp_path, monkeypatch, capsys):
    module = script("pretrain")

    def no_memory(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9e12")

    monkeypatch.setattr(module.DBN, "pretrain", no_memory)
    argv = [*PRETRAIN, "--out", str(tmp_path / "run")]
    status, err = run_script("pretrain", argv, monkeypatch, capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "out of memory: the model or the data is too large for the device" in err


def test_fine_tuning_divergence_is_one_line_and_writes_no_model(tmp_path, monkeypatch, capsys):
    argv = [*FINETUNE, "--activation", "relu", "--lr", "1e30", "--out", str(tmp_path / "run")]
    status, err = run_script("finetune", argv, monkeypatch, capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert re.search(
        r"diverged in epoch \d+: the (parameters|loss) became NaN or infinite\. Lower the "
        r"learning rate",
        err,
    )
    assert not (tmp_path / "run" / "model.pt").exists()
