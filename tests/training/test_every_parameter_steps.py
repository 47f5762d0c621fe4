"""Every trainer steps every parameter of its model.

A trainer that builds its optimiser from a hand-picked list can leave a parameter out:
it then gets a gradient and is never updated (the labelled DBM's label weights were,
for every joint epoch). These tests check the effect, the parameters' values after a
few updates, not that a gradient exists.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import dbn
from dbn.models import DBM, GenerativeDBN, build_mlp
from dbn.training import (
    DBMConfig,
    DBMTrainer,
    FinetuneTrainer,
    RBMTrainer,
    TrainConfig,
    UpDownConfig,
    UpDownTrainer,
)


@pytest.fixture(scope="module")
def digits():
    return dbn.load_digits()["train"]


def unmoved(before: nn.Module, after: nn.Module) -> list[str]:
    """Names of the trainable parameters that equal their starting values exactly."""
    start = dict(before.named_parameters())
    return [
        name
        for name, p in after.named_parameters()
        if p.requires_grad and torch.equal(p.detach(), start[name].detach())
    ]


def train_rbm(x, y):
    model = dbn.RBM(64, 12)
    start = copy.deepcopy(model)
    RBMTrainer(model, TrainConfig(epochs=1, batch_size=100)).fit(x, progress=False)
    return start, model


def train_mlp(x, y):
    model = build_mlp([64, 16], num_classes=10)
    start = copy.deepcopy(model)
    config = dbn.FinetuneConfig(epochs=1, optimizer="sgd", lr=0.1, batch_size=100)
    FinetuneTrainer(model, config).fit(x, labels=y, progress=False)
    return start, model


def train_dbm(x, y):
    model = DBM([64, 16, 8], n_labels=10)
    start = copy.deepcopy(model)
    config = DBMConfig(epochs=1, n_chains=20, lr=0.01)
    DBMTrainer(model, config).fit(x, labels=y, progress=False)
    return start, model


def train_updown(x, y):
    model = GenerativeDBN([64, 16, 16, 24], n_labels=10)
    start = copy.deepcopy(model)
    UpDownTrainer(model, UpDownConfig(epochs=1, lr=0.01)).fit(x, labels=y, progress=False)
    return start, model


@pytest.mark.parametrize("train", [train_rbm, train_mlp, train_dbm, train_updown])
def test_an_epoch_changes_every_trainable_parameter(train, digits):
    before, after = train(digits.x, digits.y)
    assert unmoved(before, after) == []


def test_the_labelled_dbm_trains_its_label_weights_and_biases(digits):
    before, after = train_dbm(digits.x, digits.y)
    assert {"label_weight", "label_bias"} <= {name for name, _ in after.named_parameters()}
    assert not torch.equal(before.label_weight, after.label_weight)
    assert not torch.equal(before.label_bias, after.label_bias)
