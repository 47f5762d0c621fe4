import itertools
import math

import pytest
import torch
from helpers import binary_digits, random_rbm

from dbn import RBM, ais, train_rbm


def test_enumerating_hidden_equals_enumerating_visible():
    rbm = random_rbm(9, 7, seed=0)
    by_hidden = ais.exact_log_partition(rbm, "hidden")
    by_visible = ais.exact_log_partition(rbm, "visible")
    assert by_hidden == pytest.approx(by_visible, abs=1e-9)


def test_exact_log_partition_by_brute_force_over_both_layers():
    rbm = random_rbm(4, 3, seed=1)
    states_v = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)), dtype=torch.float64)
    states_h = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)), dtype=torch.float64)
    v = states_v.repeat_interleave(8, 0)
    h = states_h.repeat(16, 1)
    brute = torch.logsumexp(-rbm.energy(v, h), 0).item()
    assert ais.exact_log_partition(rbm) == pytest.approx(brute, abs=1e-10)


def test_gaussian_exact_log_partition_matches_numerical_integration():
    rbm = random_rbm(2, 3, visible="gaussian", seed=2, scale=0.7)
    grid = torch.linspace(-12, 12, 1201, dtype=torch.float64)
    step = (grid[1] - grid[0]).item()
    v = torch.cartesian_prod(grid, grid)
    numeric = (torch.logsumexp(-rbm.free_energy(v), 0) + 2 * math.log(step)).item()
    assert ais.exact_log_partition(rbm) == pytest.approx(numeric, abs=1e-6)


def test_enumeration_is_refused_for_large_layers():
    with pytest.raises(ValueError, match="limited to 25 units"):
        ais.exact_log_partition(RBM(784, 30))


@pytest.fixture(scope="module")
def trained_digits_rbm():
    train, _, test = binary_digits()
    rbm = RBM(64, 18, generator=torch.Generator().manual_seed(0))
    train_rbm(rbm, train, method="pcd", epochs=20, lr=0.05, progress=False)
    return rbm, train, test


def test_ais_is_within_a_tenth_of_a_nat_of_exact(trained_digits_rbm):
    rbm, train, _ = trained_digits_rbm
    exact = ais.exact_log_partition(rbm)
    result = ais.log_partition(
        rbm, train, n_betas=5000, n_runs=200, generator=torch.Generator().manual_seed(0)
    )
    assert abs(result.log_z - exact) < 0.1, (result.log_z, exact)
    assert result.log_z_low <= result.log_z <= result.log_z_high


def test_ais_for_gaussian_units_matches_exact():
    from dbn.datasets._loading import load_digits

    x = load_digits()["train"].x
    x = (x - x.mean(0)) / (x.std(0) + 1e-3)
    rbm = RBM(64, 12, visible="gaussian", generator=torch.Generator().manual_seed(0))
    train_rbm(rbm, x, epochs=5, lr=0.01, progress=False)
    exact = ais.exact_log_partition(rbm)
    result = ais.log_partition(
        rbm, x, n_betas=3000, n_runs=200, generator=torch.Generator().manual_seed(0)
    )
    assert abs(result.log_z - exact) < 0.1, (result.log_z, exact)


def test_log_likelihood_is_normalised_on_a_tiny_model():
    # Σ_v p(v) = 1: the likelihood of every state, weighted, sums to one
    rbm = random_rbm(5, 4, seed=3)
    states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=5)), dtype=torch.float64)
    log_z = ais.exact_log_partition(rbm)
    total = sum(math.exp(ais.log_likelihood(rbm, s[None], log_z=log_z)) for s in states)
    assert total == pytest.approx(1.0, abs=1e-9)


def test_beta_schedule_shape_and_ends():
    betas = ais.beta_schedule(15000)
    assert len(betas) == 15000 and betas[0] == 0 and betas[-1] == 1
    assert (betas.diff() > 0).all()
    assert ((betas >= 0.9).sum() / 15000).item() == pytest.approx(2 / 3, abs=0.01)


def test_an_ais_result_prints_its_estimate_not_its_weights():
    result = ais.log_partition(
        RBM(8, 4), n_betas=50, n_runs=100, generator=torch.Generator().manual_seed(0)
    )
    text = repr(result)
    assert text.startswith("AISResult(log_z=") and "n_runs=100" in text
    assert len(text) < 120
