"""The shipped models' commands still reproduce them with the old sampling stream and
product route: the quick runs of the commit before ``TrainConfig.rng`` existed, rerun
with ``--rng torch --matmul mm``, against their fingerprints (``tests/fingerprints.py``)."""

import json
from pathlib import Path

import pytest
from fingerprints import fingerprint, this_machine
from helpers import script

FINGERPRINTS = json.loads((Path(__file__).parents[1] / "data/stream-torch.json").read_text())

RUNS = {
    "pretrain-digits": ("pretrain", ["--recipe", "digits"], "dbn.pt"),
    "dbm-quick": ("dbm", ["--quick"], "model.safetensors"),
    "updown-quick": ("updown", ["--quick"], "model.safetensors"),
}


@pytest.mark.parametrize(
    "name",
    [
        "pretrain-digits",
        pytest.param("dbm-quick", marks=pytest.mark.slow),
        pytest.param("updown-quick", marks=pytest.mark.slow),
    ],
)
def test_the_torch_stream_reproduces_the_runs_made_before_the_choice(name, tmp_path):
    # bit for bit is what the project promises on the same CPU, torch and thread count
    # (docs: reproducibility); elsewhere a product rounds differently, one sample in
    # millions flips and the chain goes its own way, as under another stream
    if this_machine() != FINGERPRINTS["machine"]:
        pytest.skip(f"the fingerprints were taken on {FINGERPRINTS['machine']}")
    program, argv, model = RUNS[name]
    module = script(program)
    command = [*argv, "--rng", "torch", "--matmul", "mm", "--out", str(tmp_path)]
    command.append("--no-progress")
    module.main(module.get_args_parser().parse_args(command))
    now, then = fingerprint(tmp_path / model), FINGERPRINTS["runs"][name]
    assert {k: v["sha256"] for k, v in now.items()} == {k: v["sha256"] for k, v in then.items()}
