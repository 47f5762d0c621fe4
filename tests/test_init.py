import math

import pytest
import torch
from torch import nn

from dbn import init


def mlp():
    return nn.Sequential(nn.Linear(400, 300), nn.Sigmoid(), nn.Linear(300, 200))


def weights(model):
    return [m.weight.detach() for m in model if isinstance(m, nn.Linear)]


def biases(model):
    return [m.bias.detach() for m in model if isinstance(m, nn.Linear)]


@pytest.mark.parametrize(
    "activation, gain", [("sigmoid", 1.0), ("relu", math.sqrt(2)), ("tanh", 5 / 3)]
)
def test_xavier_uniform_bound_and_spread(activation, gain):
    torch.manual_seed(0)
    model = init.apply(mlp(), "xavier_uniform", activation)
    for w in weights(model):
        bound = gain * math.sqrt(6 / sum(w.shape))
        assert w.abs().max() <= bound
        assert w.abs().max() > 0.99 * bound
        assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert all(torch.count_nonzero(b) == 0 for b in biases(model))


def test_xavier_normal_and_he_standard_deviations():
    torch.manual_seed(0)
    for w in weights(init.apply(mlp(), "xavier_normal")):
        assert w.std().item() == pytest.approx(math.sqrt(2 / sum(w.shape)), rel=0.02)
    for w in weights(init.apply(mlp(), "he_normal", "relu")):
        assert w.std().item() == pytest.approx(math.sqrt(2 / w.shape[1]), rel=0.02)
    for w in weights(init.apply(mlp(), "he_uniform", "relu")):
        bound = math.sqrt(2) * math.sqrt(3 / w.shape[1])
        assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound


def test_orthogonal_rows_are_orthonormal_times_gain():
    torch.manual_seed(0)
    for w in weights(init.apply(mlp(), "orthogonal", "relu")):
        torch.testing.assert_close(w @ w.T, 2.0 * torch.eye(w.shape[0]), atol=1e-4, rtol=0)


def test_small_constant_sparse_and_default_schemes():
    torch.manual_seed(0)
    for w in weights(init.apply(mlp(), "normal")):
        assert w.std().item() == pytest.approx(0.01, rel=0.02)
    for w in weights(init.apply(mlp(), "zeros")):
        assert torch.count_nonzero(w) == 0
    for w in weights(init.apply(mlp(), "constant")):
        assert torch.all(w == 0.01)
    for w in weights(init.apply(mlp(), "uniform")):
        assert w.abs().max() <= 1 / math.sqrt(w.shape[1])
    for w in weights(init.apply(mlp(), "sparse")):
        zero_fraction = (w == 0).float().mean(0)  # per column, as torch.nn.init.sparse_
        assert torch.allclose(zero_fraction, torch.full_like(zero_fraction, 0.9), atol=0.01)
    model = init.apply(mlp(), "default")
    for w, b in zip(weights(model), biases(model), strict=True):
        bound = 1 / math.sqrt(w.shape[1])  # Linear.reset_parameters
        assert w.abs().max() <= bound and b.abs().max() <= bound and torch.count_nonzero(b) > 0


def test_every_documented_name_is_accepted():
    assert set(init.names()) == {
        "zeros",
        "constant",
        "normal",
        "trunc_normal",
        "uniform",
        "xavier_uniform",
        "xavier_normal",
        "he_uniform",
        "he_normal",
        "orthogonal",
        "sparse",
        "default",
    }
    for name in init.names():
        init.apply(mlp(), name)


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="initialisation must be one of .*, got 'glorot'"):
        init.apply(mlp(), "glorot")
    with pytest.raises(ValueError, match="activation must be one of"):
        init.apply(mlp(), "he_normal", "gelu")
    with pytest.raises(ValueError, match="no nn.Linear"):
        init.apply(nn.Sigmoid(), "zeros")


RANDOM_SCHEMES = [name for name in init.names() if name not in ("zeros", "constant")]


@pytest.mark.parametrize("name", RANDOM_SCHEMES)
def test_same_generator_state_gives_the_same_weights_and_leaves_the_global_rng(name):
    first, second, other = mlp(), mlp(), mlp()  # building draws from the global RNG
    before = torch.random.get_rng_state()
    init.apply(first, name, generator=torch.Generator().manual_seed(5))
    init.apply(second, name, generator=torch.Generator().manual_seed(5))
    init.apply(other, name, generator=torch.Generator().manual_seed(6))
    assert torch.equal(torch.random.get_rng_state(), before)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(first[0].weight, other[0].weight)


def test_initializer_for_model_apply_equals_apply():
    by_apply = init.apply(
        mlp(), "xavier_uniform", "tanh", generator=torch.Generator().manual_seed(0)
    )
    model = mlp()
    model.apply(
        init.initializer("xavier_uniform", "tanh", generator=torch.Generator().manual_seed(0))
    )
    for a, b in zip(by_apply.parameters(), model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_he_mode_and_gain_set_the_standard_deviation():
    generator = torch.Generator().manual_seed(0)
    layer = nn.Linear(400, 1000)
    init.apply(layer, "he_normal", "relu", mode="fan_out", generator=generator)
    assert layer.weight.std().item() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)
    init.apply(layer, "he_normal", gain=3.0, generator=generator)
    assert layer.weight.std().item() == pytest.approx(3.0 / math.sqrt(400), rel=0.02)
    init.apply(layer, "trunc_normal", "relu", generator=generator)
    bound = 2 * math.sqrt(2 / 400)
    assert layer.weight.abs().max().item() <= bound
    init.apply(layer, "constant", value=0.5)
    assert torch.all(layer.weight == 0.5)


def test_default_scheme_matches_pytorch_reset_parameters_distribution():
    layer = nn.Linear(300, 200)
    init.apply(layer, "default", generator=torch.Generator().manual_seed(0))
    bound = 1 / math.sqrt(300)
    assert layer.weight.abs().max().item() <= bound
    assert layer.weight.abs().max().item() > 0.98 * bound
    assert layer.bias.abs().max().item() <= bound
