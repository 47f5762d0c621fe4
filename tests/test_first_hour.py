"""A user's first hour with their own data: NumPy in, any float dtype, defaults by budget,
fine-tuning from ``import dbn``, names that mean what torch means."""

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

import dbn
from dbn.models import build_mlp
from dbn.training._budget import FINETUNE_BUDGET, PRETRAIN_BUDGET, budget_epochs


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return x / 16.0, y  # float64 and int64 NumPy arrays, as a user has them


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_a_dbn_pretrains_on_numpy_of_any_float_dtype(digits, dtype):
    x = digits[0][:300].astype(dtype)
    stack = dbn.DBN([64, 16, 8], generator=torch.Generator().manual_seed(0))
    history = stack.pretrain(x, epochs=2, progress=False)
    assert [len(layer) for layer in history] == [2, 2]
    features = stack.transform(x)
    assert features.shape == (300, 8) and features.dtype == torch.float32


def test_numpy_and_the_same_tensor_train_the_same_weights(digits):
    x = digits[0][:300]
    first, second = dbn.RBM(64, 8), dbn.RBM(64, 8)
    second.load_state_dict(first.state_dict())
    dbn.train_rbm(first, x, epochs=2, progress=False)
    dbn.train_rbm(second, torch.from_numpy(x).float(), epochs=2, progress=False)
    assert torch.equal(first.weight, second.weight)


def test_finetune_takes_numpy_and_any_integer_labels(digits):
    x, y = digits
    model = build_mlp([64, 16], 10, "relu", init="he_normal")
    result = dbn.finetune(model, (x[:500], y[:500].astype(np.int32)), epochs=3, progress=False)
    assert len(result.history) == 3
    loss, error = dbn.evaluate(model, x[500:700], y[500:700].astype(np.uint8))
    assert math.isfinite(loss) and 0 <= error < 0.9


def test_finetune_without_valid_holds_out_a_fraction_and_keeps_the_best_epoch(digits):
    x, y = digits
    model = build_mlp([64, 16], 10, "relu", init="he_normal")
    result = dbn.finetune(model, (x[:400], y[:400]), epochs=4, progress=False)
    assert all("valid_error" in row for row in result.history)
    assert 1 <= result.best_epoch <= 4


@pytest.mark.parametrize(
    "train, message",
    [
        ((np.full((10, 64), np.nan), np.zeros(10, int)), "train X contains NaN or Inf"),
        ((np.zeros((10, 64)), np.zeros(9, int)), r"train y must have shape \(10,\)"),
        ((np.zeros((10, 64)), np.full(10, 0.5)), "train y must be integer class labels"),
        ((np.zeros((10, 64)), -np.ones(10, int)), "class indices >= 0"),
        ((np.zeros((10, 64), int), np.zeros(10, int)), "train X must be floating point"),
        (([[0.0] * 64] * 10, np.zeros(10, int)), "train X must be a torch.Tensor or a NumPy"),
        (np.zeros((10, 64)), r"train must be an \(X, y\) pair"),
    ],
)
def test_bad_finetuning_data_is_refused_in_one_line_naming_it(train, message):
    model = build_mlp([64, 16], 10)
    with pytest.raises(ValueError, match=message):
        dbn.finetune(model, train, progress=False)


def test_pretraining_data_that_cannot_be_meant_is_refused_before_training():
    stack = dbn.DBN([4, 3])
    with pytest.raises(ValueError, match="data contains NaN or Inf"):
        stack.pretrain(np.array([[0.5, np.inf, 0.5, 0.5]]), epochs=1, progress=False)
    with pytest.raises(ValueError, match="data has 3 features, the model expects 4"):
        stack.pretrain(np.zeros((5, 3)), epochs=1, progress=False)


def test_default_lengths_count_updates_not_epochs(digits):
    x = digits[0][:1000]  # 10 batches of 100 an epoch
    rbm = dbn.RBM(64, 8)
    history = dbn.train_rbm(rbm, x, progress=False, monitor_every=100)
    assert len(history) == budget_epochs(1000, 100, PRETRAIN_BUDGET) == 500
    assert budget_epochs(50_000, 100, PRETRAIN_BUDGET) == 10  # MNIST keeps 10 epochs
    assert budget_epochs(50_000, 100, FINETUNE_BUDGET) == 30
    assert budget_epochs(900, 100, FINETUNE_BUDGET) == 334


def test_options_override_a_config_and_are_validated(digits):
    x, y = digits
    config = dbn.FinetuneConfig(epochs=5, lr=0.1)
    model = build_mlp([64, 16], 10)
    result = dbn.finetune(model, (x[:300], y[:300]), config=config, epochs=2, progress=False)
    assert len(result.history) == 2 and config.epochs == 5
    with pytest.raises(ValueError, match="unknown FinetuneConfig options"):
        dbn.finetune(model, (x[:300], y[:300]), epoch=2, progress=False)


def test_he_normal_reads_the_activation_from_the_model_as_torch_would():
    model = nn.Sequential(nn.Linear(500, 400), nn.ReLU(), nn.Linear(400, 300))
    dbn.init.apply(model, "he_normal", generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    reference = nn.init.kaiming_normal_(torch.empty(400, 500), nonlinearity="relu")
    assert model[0].weight.var().item() == pytest.approx(reference.var().item(), rel=0.03)
    assert model[0].weight.var().item() == pytest.approx(2 / 500, rel=0.03)
    dbn.init.apply(model, "he_normal", activation="sigmoid")  # the sigmoid variant by name
    assert model[0].weight.var().item() == pytest.approx(1 / 500, rel=0.03)


@pytest.mark.parametrize(
    "model, found",
    [
        (nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.Tanh()), "several"),
        (nn.Sequential(nn.Linear(4, 3)), "no activation module"),
    ],
)
def test_a_gain_is_not_guessed_from_mixed_or_absent_activations(model, found):
    with pytest.raises(ValueError, match=f"{found}.*give activation="):
        dbn.init.apply(model, "xavier_uniform")
    dbn.init.apply(model, "normal")  # a scheme without a gain needs no activation


@pytest.mark.parametrize("suffix", [".npz", ".pkl", ""])
def test_a_suffix_that_names_no_format_is_refused_and_nothing_is_written(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    with pytest.raises(ValueError, match="choose the format by the suffix"):
        dbn.DBN([4, 3]).save(path)
    assert list(tmp_path.iterdir()) == []


def test_to_mlp_names_the_file_that_holds_a_classifier(tmp_path):
    from dbn.models import save_classifier

    path = tmp_path / "classifier.safetensors"
    save_classifier(build_mlp([4, 3], 2), path, sizes=[4, 3], num_classes=2)
    with pytest.raises(
        ValueError, match=r"classifier\.safetensors' holds a classifier, not a DBN or an RBM"
    ):
        dbn.to_mlp(path)


def test_the_new_output_layer_draws_from_the_given_generator():
    stack = dbn.DBN([4, 3])
    first = dbn.to_mlp(stack, 2, generator=torch.Generator().manual_seed(1))
    second = dbn.to_mlp(stack, 2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first[-1].weight, second[-1].weight)
