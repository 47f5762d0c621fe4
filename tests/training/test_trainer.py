"""The base every trainer shares: its checkpoint file, written and read back by kind."""

import pytest
import torch

import dbn
from dbn.io import CheckpointError
from dbn.models import DBM, GenerativeDBN, build_mlp
from dbn.training import (
    DBMConfig,
    DBMTrainer,
    FinetuneConfig,
    FinetuneTrainer,
    UpDownConfig,
    UpDownTrainer,
)

TRAINERS = {
    "dbm": lambda: DBMTrainer(DBM([64, 16, 8]), DBMConfig(epochs=2, n_chains=10)),
    "updown": lambda: UpDownTrainer(GenerativeDBN([64, 16, 16, 32]), UpDownConfig(epochs=2)),
    # its shuffling generator given: without one it draws from the global generator
    "finetune": lambda: FinetuneTrainer(
        build_mlp([64, 16], 10),
        FinetuneConfig(epochs=2),
        generator=torch.Generator().manual_seed(0),
    ),
}


@pytest.mark.parametrize("name", TRAINERS)
def test_a_checkpoint_continues_to_the_uninterrupted_run_and_names_its_kind(name, tmp_path):
    train = dbn.load_digits()["train"]
    labels = None if name == "dbm" else train.y
    torch.manual_seed(0)  # the models' initial weights
    straight = TRAINERS[name]()
    straight.fit(train.x, labels=labels, progress=False)
    torch.manual_seed(0)
    first = TRAINERS[name]()
    first.train_epochs(train.x, 1, labels=labels, progress=False)
    first.save_checkpoint(tmp_path / "state.pt")
    resumed = TRAINERS[name]()
    resumed.load_state_dict(type(resumed).read_checkpoint(tmp_path / "state.pt"))
    resumed.fit(train.x, labels=labels, progress=False)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    others = [type(TRAINERS[other]()) for other in TRAINERS if other != name]
    for other in others:
        with pytest.raises(CheckpointError, match=type(resumed).checkpoint_kind):
            other.read_checkpoint(tmp_path / "state.pt")
