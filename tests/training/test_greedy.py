"""One greedy pretraining for the three models: the same arguments, validation data for
each, and every refused call refused before the model or the data change."""

import copy

import pytest
import torch

import dbn
from dbn.models import DBM, GenerativeDBN
from dbn.training import pretrain

DIGITS = dbn.load_digits()
TRAIN, VALID = DIGITS["train"], DIGITS["valid"]


def labelled_dbm():
    return DBM([64, 16, 8], n_labels=10)


def generative():
    return GenerativeDBN([64, 16, 16, 24], n_labels=10)


@pytest.mark.parametrize(
    "make, labels",
    [
        (lambda: dbn.DBN([64, 16, 8]), False),
        (lambda: DBM([64, 16, 8]), False),
        (labelled_dbm, True),
        (generative, True),
    ],
    ids=["dbn", "dbm", "dbm-labels", "generative"],
)
def test_every_model_pretrains_with_validation_data_and_changes_every_layer(make, labels):
    torch.manual_seed(0)
    model = make()
    before = copy.deepcopy(model.state_dict())
    given = dict(labels=TRAIN.y, valid_labels=VALID.y) if labels else {}
    histories = pretrain(
        model, TRAIN.x, VALID.x, epochs=2, lr=0.05, progress=False, seed=3, **given
    )
    assert all(len(rows) == 2 for rows in histories)
    # the held-out data reached every RBM's monitors
    assert all("free_energy_gap" in row for rows in histories for row in rows)
    moved = [name for name, value in model.state_dict().items() if not value.equal(before[name])]
    weights = [name for name in before if "weight" in name]
    assert set(weights) <= set(moved), sorted(set(weights) - set(moved))


REFUSED = [
    ("dbn with labels", lambda: dbn.DBN([64, 16]), dict(labels=TRAIN.y), "pass labels=None"),
    ("dbm without labels", labelled_dbm, {}, "trains on labelled data"),
    ("dbm labels unasked", lambda: DBM([64, 16, 8]), dict(labels=TRAIN.y), "no label units"),
    ("generative without labels", generative, {}, "trains on labelled images"),
    ("labels of another length", generative, dict(labels=TRAIN.y[:-1]), "labels"),
    (
        "label beyond the classes",
        generative,
        dict(labels=torch.full_like(TRAIN.y, 10)),
        "below n_labels=10",
    ),
    (
        "valid labels without valid data",
        generative,
        dict(labels=TRAIN.y, valid_labels=VALID.y),
        "valid_labels were given without valid data",
    ),
    (
        "valid data without its labels",
        generative,
        dict(labels=TRAIN.y, valid=VALID.x),
        "needs valid_labels",
    ),
    (
        "valid data of another width",
        lambda: DBM([64, 16, 8]),
        dict(valid=VALID.x[:, :10]),
        "valid",
    ),
    ("data out of range", lambda: dbn.DBN([64, 16]), dict(data=TRAIN.x * 3), "data"),
    (
        "one config for three RBMs",
        labelled_dbm,
        dict(labels=TRAIN.y, config=[dbn.TrainConfig()]),
        "one per RBM",
    ),
    ("per-RBM option of wrong length", generative, dict(labels=TRAIN.y, epochs=[1, 2]), "3 RBMs"),
    ("unknown option", lambda: dbn.DBN([64, 16]), dict(epochs=1, gibbs=3), "gibbs"),
    ("bad device", lambda: dbn.DBN([64, 16]), dict(device="tpu"), "device"),
]


@pytest.mark.parametrize(
    "make, arguments, message", [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED]
)
def test_a_refused_call_changes_neither_the_model_nor_the_data(make, arguments, message):
    model = make()
    before = copy.deepcopy(model.state_dict())
    arguments = {"data": TRAIN.x, **arguments}
    given = {name: value.clone() for name, value in arguments.items() if torch.is_tensor(value)}
    with pytest.raises((ValueError, TypeError, RuntimeError), match=message):
        pretrain(model, progress=False, **arguments)
    for name, value in model.state_dict().items():
        assert value.equal(before[name]), name
        assert value.device == before[name].device
    for name, value in given.items():
        assert arguments[name].equal(value), name


def test_a_model_without_a_greedy_stack_is_refused_by_name():
    with pytest.raises(TypeError, match="greedy pretraining takes a DBN, DBM, GenerativeDBN"):
        pretrain(dbn.RBM(64, 16), TRAIN.x)
