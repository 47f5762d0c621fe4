"""The RBM with a softmax label group, against exact enumeration on a tiny model."""

import itertools
import math

import pytest
import torch

from dbn.models import LabelRBM


def tiny(seed=0, n_features=3, n_labels=3, n_hidden=2):
    generator = torch.Generator().manual_seed(seed)
    rbm = LabelRBM(n_features, n_labels, n_hidden).double()
    with torch.no_grad():
        for parameter in rbm.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
    return rbm


def states(n):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def exact_free_energy(rbm, v):
    """-log Σ_h exp(-E(v, h)) by summing over every hidden state."""
    h = states(rbm.n_hidden)
    energies = torch.stack([rbm.energy(v.expand(len(h), -1), h) for v in v])
    return -torch.logsumexp(-energies, dim=1)


def test_free_energies_equal_the_sum_over_hidden_states():
    rbm = tiny()
    x = states(rbm.n_features)
    for label in range(rbm.n_labels):
        v = rbm.join(x, torch.full((len(x),), label))
        torch.testing.assert_close(rbm.free_energy(v), exact_free_energy(rbm, v))
        torch.testing.assert_close(rbm.class_free_energies(x)[:, label], exact_free_energy(rbm, v))


def test_predict_proba_is_the_exact_conditional_of_the_label():
    rbm = tiny(1)
    x = states(rbm.n_features)
    joint = torch.stack(
        [-exact_free_energy(rbm, rbm.join(x, torch.full((len(x),), k))) for k in range(3)], dim=1
    )
    torch.testing.assert_close(rbm.predict_proba(x), torch.softmax(joint, dim=1))
    assert torch.equal(rbm.predict(x), joint.argmax(dim=1))


def test_the_label_group_given_h_is_a_softmax_over_its_units():
    rbm = tiny(2)
    h = states(rbm.n_hidden)
    probs = rbm.visible_probs(h)
    labels = probs[:, rbm.n_features :]
    torch.testing.assert_close(labels.sum(dim=1), torch.ones(len(h), dtype=torch.float64))
    exact = torch.softmax(h @ rbm.weight[:, rbm.n_features :] + rbm.visible_bias[3:], dim=1)
    torch.testing.assert_close(labels, exact)


def test_gibbs_samples_have_one_label_and_reach_the_exact_joint_distribution():
    rbm = tiny(3)
    generator = torch.Generator().manual_seed(0)
    start = torch.zeros(20000, 6, dtype=torch.float64)
    start[:, 3] = 1.0
    samples = rbm.gibbs(start, k=50, generator=generator)
    assert torch.equal(samples[:, 3:].sum(dim=1), torch.ones(20000, dtype=torch.float64))
    configs = [rbm.join(x.unsqueeze(0), torch.tensor([k])) for x in states(3) for k in range(3)]
    visible = torch.cat(configs)
    exact = torch.softmax(-exact_free_energy(rbm, visible), dim=0)
    counts = torch.stack([(samples == v).all(dim=1).double().mean() for v in visible])
    # 20,000 chains: each frequency within 4 standard errors of its probability
    tolerance = 4 * torch.sqrt(exact * (1 - exact) / 20000) + 1e-3
    assert torch.all((counts - exact).abs() < tolerance)


def test_the_cd_loss_gradient_with_exact_negatives_is_the_likelihood_gradient():
    rbm = tiny(4)
    data = rbm.join(
        torch.tensor([[1.0, 0, 1], [0, 1, 1]], dtype=torch.float64), torch.tensor([2, 0])
    )
    every = torch.cat([rbm.join(states(3), torch.full((8,), k)) for k in range(3)])
    log_z = torch.logsumexp(-rbm.free_energy(every), dim=0)  # one-hot labels only
    log_likelihood = (-rbm.free_energy(data) - log_z).mean()
    expected = torch.autograd.grad(log_likelihood, rbm.weight)[0]
    with torch.no_grad():
        model_probs = torch.softmax(-rbm.free_energy(every), dim=0)
    loss = rbm.free_energy(data).mean() - (model_probs * rbm.free_energy(every)).sum()
    (gradient,) = torch.autograd.grad(loss, rbm.weight)
    torch.testing.assert_close(-gradient, expected)


def test_clamped_chains_keep_their_labels_and_bad_sizes_are_refused():
    rbm = tiny(5)
    x = torch.zeros(4, 3, dtype=torch.float64)
    out = rbm.gibbs_clamped(x, torch.tensor([0, 1, 2, 0]), k=3)
    assert out.shape == (4, 3) and set(out.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="n_labels must be an integer >= 2"):
        LabelRBM(3, 1, 2)
    assert math.isfinite(rbm.class_free_energies(x).sum().item())
