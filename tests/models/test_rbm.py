import itertools

import numpy as np
import pytest
import torch
from helpers import random_rbm
from sklearn.neural_network import BernoulliRBM

from dbn import RBM


def all_binary(n):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_free_energy_is_log_sum_over_hidden_states(visible):
    rbm = random_rbm(6, 5, visible=visible, seed=1)
    v = torch.randn(7, 6, dtype=torch.float64)
    if visible == "bernoulli":
        v = (v > 0).double()
    hidden_states = all_binary(5)
    # -log Σ_h exp(-E(v, h)), evaluated term by term from the energy
    energies = torch.stack(
        [rbm.energy(v[i : i + 1].expand(32, -1), hidden_states) for i in range(len(v))]
    )
    brute = -torch.logsumexp(-energies, dim=1)
    torch.testing.assert_close(rbm.free_energy(v), brute)


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_energy_matches_written_formula(visible):
    rbm = random_rbm(4, 3, visible=visible, seed=2)
    v, h = torch.rand(5, 4, dtype=torch.float64), (torch.rand(5, 3) > 0.5).double()
    w, bh, bv = (p.detach() for p in (rbm.weight, rbm.hidden_bias, rbm.visible_bias))
    for i in range(5):
        if visible == "bernoulli":
            visible_term = -float(v[i] @ bv)
        else:
            visible_term = 0.5 * float(((v[i] - bv) ** 2).sum())
        expected = visible_term - float(h[i] @ bh) - float(h[i] @ w @ v[i])
        assert rbm.energy(v, h)[i].item() == pytest.approx(expected, rel=1e-12)


def test_conditionals_are_ratios_of_joint_probabilities():
    # p(h_j = 1 | v) from the energy: exp(-E(v, h with h_j=1)) / Σ over h_j
    rbm = random_rbm(5, 4, seed=3)
    v = (torch.rand(3, 5) > 0.5).double()
    probs = rbm.hidden_probs(v)
    for j in range(4):
        h_on, h_off = torch.zeros(3, 4, dtype=torch.float64), torch.zeros(3, 4, dtype=torch.float64)
        h_on[:, j] = 1
        ratio = torch.sigmoid(rbm.energy(v, h_off) - rbm.energy(v, h_on))
        torch.testing.assert_close(probs[:, j], ratio)


def test_sample_means_approach_probabilities():
    rbm = random_rbm(10, 8, seed=4, dtype=torch.float32)
    v = torch.rand(4, 10)
    generator = torch.Generator().manual_seed(0)
    n = 20000
    batch = v.repeat(n, 1)
    hidden_mean = rbm.sample_hidden(batch, generator).reshape(n, 4, 8).mean(0)
    probs = rbm.hidden_probs(v)
    # five binomial standard errors
    tolerance = 5 * torch.sqrt(probs * (1 - probs) / n) + 1e-4
    assert ((hidden_mean - probs).abs() <= tolerance).all()
    h = (torch.rand(4, 8) > 0.5).float()
    visible_mean = rbm.sample_visible(h.repeat(n, 1), generator).reshape(n, 4, 10).mean(0)
    vprobs = rbm.visible_probs(h)
    assert ((visible_mean - vprobs).abs() <= 5 * torch.sqrt(vprobs * (1 - vprobs) / n) + 1e-4).all()


def test_gaussian_samples_have_unit_variance_around_the_mean():
    rbm = random_rbm(6, 4, visible="gaussian", seed=5, dtype=torch.float32)
    h = (torch.rand(1, 4) > 0.5).float().repeat(50000, 1)
    samples = rbm.sample_visible(h, torch.Generator().manual_seed(1))
    torch.testing.assert_close(samples.mean(0), rbm.visible_probs(h[:1])[0], atol=0.03, rtol=0)
    torch.testing.assert_close(samples.var(0), torch.ones(6), atol=0.03, rtol=0)


def test_gibbs_with_the_same_generator_seed_is_reproducible():
    rbm = random_rbm(10, 8, seed=6, dtype=torch.float32)
    v = (torch.rand(5, 10) > 0.5).float()
    first = rbm.gibbs(v, k=3, generator=torch.Generator().manual_seed(7))
    second = rbm.gibbs(v, k=3, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first, second)
    assert set(first.unique().tolist()) <= {0.0, 1.0}


def test_float32_and_float64_agree():
    rbm64 = random_rbm(20, 10, seed=8, scale=0.3)
    rbm32 = random_rbm(20, 10, seed=8, scale=0.3, dtype=torch.float32)
    v = torch.rand(6, 20, dtype=torch.float64)
    torch.testing.assert_close(
        rbm32.free_energy(v.float()).double(), rbm64.free_energy(v), atol=1e-4, rtol=1e-5
    )
    torch.testing.assert_close(
        rbm32.reconstruct(v.float()).double(), rbm64.reconstruct(v), atol=1e-5, rtol=1e-5
    )


def test_hidden_probs_equal_sklearn_transform_with_copied_weights():
    rng = np.random.RandomState(0)
    data = (rng.rand(200, 16) > 0.6).astype(np.float64)
    reference = BernoulliRBM(n_components=7, n_iter=5, random_state=0).fit(data)
    rbm = RBM(16, 7).double()
    with torch.no_grad():
        rbm.weight.copy_(torch.from_numpy(reference.components_))
        rbm.hidden_bias.copy_(torch.from_numpy(reference.intercept_hidden_))
        rbm.visible_bias.copy_(torch.from_numpy(reference.intercept_visible_))
    ours = rbm.hidden_probs(torch.from_numpy(data)).detach().numpy()
    np.testing.assert_allclose(ours, reference.transform(data), rtol=1e-12, atol=1e-12)
    # and the same free energy as scikit-learn's own
    free = rbm.free_energy(torch.from_numpy(data)).detach().numpy()
    np.testing.assert_allclose(free, reference._free_energy(data), rtol=1e-12)


def test_initial_weights_are_small_gaussian():
    rbm = RBM(784, 500, generator=torch.Generator().manual_seed(0))
    assert rbm.weight.shape == (500, 784)
    assert rbm.weight.std().item() == pytest.approx(0.01, rel=0.01)
    assert abs(rbm.weight.mean().item()) < 1e-3
    assert torch.count_nonzero(rbm.hidden_bias) == 0


@pytest.mark.parametrize(
    "arguments, message",
    [
        ((0, 5), "n_visible must be an integer >= 1"),
        ((5, -1), "n_hidden must be an integer >= 1"),
        ((5, 5, "poisson"), "visible must be one of"),
    ],
)
def test_bad_construction_is_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        RBM(*arguments)


def test_bad_shapes_and_k_are_refused():
    rbm = RBM(6, 3)
    with pytest.raises(ValueError, match=r"v must have shape \(batch, 6\), got \(4, 5\)"):
        rbm.free_energy(torch.rand(4, 5))
    with pytest.raises(ValueError, match=r"h must have shape"):
        rbm.visible_probs(torch.rand(4))
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        rbm.gibbs(torch.rand(2, 6), k=0)


def test_round_off_from_scaling_is_clipped_and_more_is_refused():
    from sklearn.preprocessing import MinMaxScaler

    from dbn.models.rbm import check_visible_data

    rng = np.random.default_rng(0)
    scaled = MinMaxScaler().fit_transform(rng.normal(size=(500, 40)) * 3 + 1.7)
    checked = check_visible_data(scaled, 40, "bernoulli")
    assert 0 <= checked.min().item() and checked.max().item() <= 1
    assert torch.allclose(checked, torch.from_numpy(scaled), atol=1e-15, rtol=0)
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
        check_visible_data(np.full((2, 3), 1 + 1e-9), 3, "bernoulli")
