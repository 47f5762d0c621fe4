"""A refused call leaves the caller's objects as they were: a device that cannot hold
data is refused in one line, by every training entry point, before a model moves."""

import numpy as np
import pytest
import torch

import dbn
from dbn.sklearn import DBNClassifier, RBMTransformer

BAD_DEVICES = [
    ("bogus", "device must name a torch device"),
    ("meta", "device 'meta' holds no data"),
    ("cuda:99", "cuda:99"),
    (-1, "device must name a torch device"),
]


def snapshot(model: torch.nn.Module) -> dict:
    return {name: (value.device, value.clone()) for name, value in model.state_dict().items()}


def unchanged(model: torch.nn.Module, before: dict) -> bool:
    after = model.state_dict()
    return all(
        after[name].device == device and torch.equal(after[name], value)
        for name, (device, value) in before.items()
    )


@pytest.fixture(scope="module")
def digits():
    return dbn.load_digits()["train"]


@pytest.mark.parametrize("device, message", BAD_DEVICES)
def test_train_rbm(digits, device, message):
    rbm = dbn.RBM(64, 8)
    before = snapshot(rbm)
    with pytest.raises(ValueError, match=message):
        dbn.train_rbm(rbm, digits.x, epochs=1, device=device, progress=False)
    assert unchanged(rbm, before)


@pytest.mark.parametrize("device, message", BAD_DEVICES)
def test_dbn_pretrain(digits, device, message):
    stack = dbn.DBN([64, 16, 8])
    before = snapshot(stack)
    with pytest.raises(ValueError, match=message):
        stack.pretrain(digits.x, epochs=1, device=device, progress=False)
    assert unchanged(stack, before)


@pytest.mark.parametrize("device, message", BAD_DEVICES)
def test_finetune(digits, device, message):
    model = dbn.to_mlp(dbn.DBN([64, 16]), num_classes=10)
    before = snapshot(model)
    with pytest.raises(ValueError, match=message):
        dbn.finetune(model, (digits.x, digits.y), device=device, epochs=1, progress=False)
    assert unchanged(model, before)


def test_finetune_refuses_bad_data_before_touching_the_model(digits):
    model = dbn.to_mlp(dbn.DBN([64, 16]), num_classes=10)
    before = snapshot(model)
    with pytest.raises(ValueError, match="train"):
        dbn.finetune(model, (digits.x[:, :10], digits.y), epochs=1, progress=False)
    assert unchanged(model, before)


@pytest.mark.parametrize("estimator", [DBNClassifier, RBMTransformer])
def test_the_estimators(digits, estimator):
    x, y = digits.x.numpy(), digits.y.numpy()
    with pytest.raises(ValueError, match="device 'meta' holds no data"):
        estimator(device="meta").fit(x, y) if estimator is DBNClassifier else estimator(
            device="meta"
        ).fit(x)
    assert np.isfinite(x).all()
