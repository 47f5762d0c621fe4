"""Bad input to every trainer and model entry point, table-driven: one ValueError naming
the problem, raised before anything changed, so the caller's model is as it was."""

import copy

import pytest
import torch
from torch import nn

import dbn
from dbn.models import DBM, DBMClassifier, GenerativeDBN, build_mlp
from dbn.training import (
    DBMConfig,
    DBMTrainer,
    FinetuneConfig,
    RBMTrainer,
    TrainConfig,
    UpDownConfig,
    UpDownTrainer,
)

DIGITS = dbn.load_digits()["train"]
X, Y = DIGITS.x[:200], DIGITS.y[:200]


def fit_dbm(model, x, y=None):
    DBMTrainer(model, DBMConfig(epochs=1, n_chains=10)).fit(x, labels=y, progress=False)


def fit_updown(model, x, y):
    UpDownTrainer(model, UpDownConfig(epochs=1)).fit(x, labels=y, progress=False)


def fit_mlp(model, train, valid=None, **options):
    config = FinetuneConfig(epochs=1, optimizer="sgd", lr=0.1)
    dbn.finetune(model, train, valid, config, progress=False, **options)


def on_meta(build):
    return build().to("meta")


def dbm():
    return DBM([64, 16, 8])


def labelled_dbm():
    return DBM([64, 16, 8], n_labels=10)


def generative():
    return GenerativeDBN([64, 16, 16, 24], n_labels=10)


def mlp():
    return build_mlp([64, 16], num_classes=10)


# (what builds the model, what is called on it, what the error must say)
CASES = [
    (dbm, lambda m: fit_dbm(m, X * 16), r"x must lie in \[0, 1\]"),
    (dbm, lambda m: fit_dbm(m, -X), r"x must lie in \[0, 1\]"),
    (dbm, lambda m: fit_dbm(m, X[:, :63]), "x has 63 features, the model expects 64"),
    (dbm, lambda m: fit_dbm(m, X[:0]), r"x is empty \(0 samples\)"),
    (dbm, lambda m: fit_dbm(m, X.clone().fill_(float("nan"))), "x contains NaN or Inf"),
    (dbm, lambda m: fit_dbm(m, X.long()), "x must be floating point"),
    (dbm, lambda m: fit_dbm(m, X, Y), "has no label units"),
    (labelled_dbm, lambda m: fit_dbm(m, X), "pass labels"),
    (labelled_dbm, lambda m: fit_dbm(m, X, Y + 1), "labels"),
    (labelled_dbm, lambda m: fit_dbm(m, X, Y[:10]), "labels"),
    (dbm, lambda m: m.mean_field(X[:, :63]), r"v must have shape \(n, 64\), got \(200, 63\)"),
    (dbm, lambda m: DBMClassifier.from_dbm(m)(X[:, :63]), r"v must have shape \(n, 64\)"),
    (dbm, lambda m: DBMClassifier.from_dbm(m).features(X * 16), r"x must lie in \[0, 1\]"),
    (dbm, lambda m: dbn.ais.log_likelihood(m, X * 16), r"x must lie in \[0, 1\]"),
    (generative, lambda m: fit_updown(m, X * 16, Y), r"x must lie in \[0, 1\]"),
    (generative, lambda m: fit_updown(m, -X, Y), r"x must lie in \[0, 1\]"),
    (generative, lambda m: fit_updown(m, X[:, :63], Y), "x has 63 features, the model expects"),
    (generative, lambda m: fit_updown(m, X[:0], Y[:0]), r"x is empty"),
    (generative, lambda m: fit_updown(m, X, Y + 1), "labels must be below n_labels=10"),
    (generative, lambda m: fit_updown(m, X, Y[:10]), "labels"),
    (generative, lambda m: m.error_rate(X[:, :63], Y), "x has 63 features"),
    (mlp, lambda m: fit_mlp(m, (X, Y + 1)), "train has label 10; the model scores 10 classes"),
    (mlp, lambda m: fit_mlp(m, (X, Y), (X[:5], Y[:5] + 9)), "valid has label 1[0-9]"),
    (mlp, lambda m: fit_mlp(m, (X, Y), (X[:0], Y[:0])), "the valid split is empty"),
    (mlp, lambda m: fit_mlp(m, (X[:0], Y[:0])), "the train split is empty"),
    (mlp, lambda m: fit_mlp(m, (X[:, :63], Y)), "train has 63 features a row; the model takes"),
    (mlp, lambda m: fit_mlp(m, (X, Y), checkpoint_path="/"), "checkpoint_path '/' is not a"),
    (lambda: on_meta(dbm), lambda m: fit_dbm(m, X), "on the meta device"),
    (lambda: on_meta(generative), lambda m: fit_updown(m, X, Y), "on the meta device"),
    (lambda: on_meta(mlp), lambda m: fit_mlp(m, (X, Y)), "on the meta device"),
    (
        lambda: on_meta(lambda: dbn.RBM(64, 8)),
        lambda m: RBMTrainer(m, TrainConfig(epochs=1)),
        "on the meta device",
    ),
    (lambda: dbn.RBM(64, 8), lambda m: dbn.train_rbm(m, X[:, :63]), "has 63 features"),
    (lambda: dbn.RBM(64, 8), lambda m: dbn.train_rbm(m, X * 16), r"must lie in \[0, 1\]"),
    (lambda: dbn.DBN([64, 8]), lambda m: m.pretrain(X[:0], epochs=1), "is empty"),
]


def state_of(model: nn.Module) -> dict:
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


@pytest.mark.parametrize("build, call, message", CASES)
def test_refused_before_the_model_changes(build, call, message):
    model = build()
    before = None if any(p.is_meta for p in model.parameters()) else state_of(model)
    reference = copy.deepcopy(model)
    with pytest.raises(ValueError, match=message):
        call(model)
    if before is not None:
        after = model.state_dict()
        assert all(torch.equal(before[name], after[name]) for name in before)
    assert [p.device for p in model.parameters()] == [p.device for p in reference.parameters()]
