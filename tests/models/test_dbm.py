"""The DBM against enumeration of every joint state on models small enough to list, and
the pretraining RBMs with tied copies against the copies model written out."""

import itertools
import math

import pytest
import torch

import dbn
from dbn.models import DBM, RBM, DBMClassifier, ReplicatedRBM
from dbn.training import layer_rbms, resolve_step

SIZES = [5, 4, 3]


def tiny_dbm(sizes=SIZES, seed=0) -> DBM:
    g = torch.Generator().manual_seed(seed)
    dbm = DBM(sizes, weight_std=1.0, generator=g).double()
    with torch.no_grad():
        for bias in dbm.biases:
            bias.normal_(0.0, 0.5, generator=g)
    return dbm


def all_states(sizes):
    """Every joint configuration, split per layer: list of (2^N, size) tensors."""
    total = sum(sizes)
    codes = torch.tensor(list(itertools.product([0.0, 1.0], repeat=total)), dtype=torch.float64)
    return list(torch.split(codes, sizes, dim=1))


def test_the_energy_is_the_formula_written_out():
    dbm = tiny_dbm()
    states = [torch.bernoulli(torch.full((7, n), 0.5, dtype=torch.float64)) for n in SIZES]
    by_hand = -sum(x @ b for x, b in zip(states, dbm.biases, strict=True))
    for i, weight in enumerate(dbm.weights):
        by_hand = by_hand - torch.einsum("nj,ji,ni->n", states[i + 1], weight, states[i])
    torch.testing.assert_close(dbm.energy(states), by_hand)


@pytest.mark.parametrize("summed_out", ["odd", "even"])
def test_the_free_energy_sums_the_other_parity_out_exactly(summed_out):
    dbm = tiny_dbm([4, 3, 3, 2])
    states = all_states(dbm.sizes)
    kept = range(0 if summed_out == "odd" else 1, 4, 2)
    energies = dbm.energy(states)
    # group the joint states by their kept layers' configuration and sum the rest out
    keys = torch.cat([states[i] for i in kept], dim=1)
    unique, index = torch.unique(keys, dim=0, return_inverse=True)
    brute = torch.stack([torch.logsumexp(-energies[index == k], 0) for k in range(len(unique))])
    query: list = [None] * 4
    begin = 0
    for i in kept:
        query[i] = unique[:, begin : begin + dbm.sizes[i]]
        begin += dbm.sizes[i]
    torch.testing.assert_close(-dbm.free_energy(query, summed_out), brute)


def test_each_layer_given_its_neighbours_is_the_enumerated_conditional():
    dbm = tiny_dbm()
    states = all_states(SIZES)
    p = torch.softmax(-dbm.energy(states), 0)
    layer = 1
    probs = torch.sigmoid(dbm.layer_input(states, layer))
    # p(x_1j = 1 | v, h_2) by enumeration, for every configuration of the neighbours
    neighbours = torch.cat([states[0], states[2]], dim=1)
    unique, index = torch.unique(neighbours, dim=0, return_inverse=True)
    for k in range(len(unique)):
        rows = index == k
        enumerated = (p[rows, None] * states[layer][rows]).sum(0) / p[rows].sum()
        torch.testing.assert_close(probs[rows][0], enumerated)


def test_mean_field_reaches_its_fixed_point():
    dbm = tiny_dbm([6, 5, 4, 3])
    v = torch.bernoulli(torch.full((8, 6), 0.5, dtype=torch.float64))
    marginals = dbm.mean_field(v, n_steps=200, damping=0.3)
    states = [v, *marginals]
    for index in range(1, 4):
        torch.testing.assert_close(
            states[index], torch.sigmoid(dbm.layer_input(states, index)), atol=1e-8, rtol=0
        )


def test_mean_field_of_a_weightless_dbm_is_its_biases():
    dbm = DBM([6, 4, 3], weight_std=0.0)
    with torch.no_grad():
        dbm.biases[1].fill_(1.0)
    marginals = dbm.mean_field(torch.rand(2, 6), n_steps=3)
    torch.testing.assert_close(marginals[0], torch.full((2, 4), torch.sigmoid(torch.tensor(1.0))))
    torch.testing.assert_close(marginals[1], torch.full((2, 3), 0.5))


def test_block_gibbs_samples_the_enumerated_distribution():
    dbm = tiny_dbm([4, 3, 2], seed=3).float()
    g = torch.Generator().manual_seed(0)
    states = dbm.random_states(20000, g)
    for _ in range(60):
        states = dbm.sweep(states, g)
    codes = (states[0] * torch.tensor([1.0, 2.0, 4.0, 8.0])).sum(1).long()
    empirical = torch.bincount(codes, minlength=16).double() / len(codes)
    visible = all_states([4])[0]
    exact = dbn.ais.dbm_exact_log_likelihood(dbm, visible).exp()
    order = (visible * torch.tensor([1.0, 2.0, 4.0, 8.0], dtype=torch.float64)).sum(1).long()
    total_variation = 0.5 * (empirical[order] - exact).abs().sum().item()
    assert total_variation < 0.03, total_variation


def test_sizes_and_states_are_checked():
    with pytest.raises(ValueError, match="sizes"):
        DBM([784])
    dbm = DBM(SIZES)
    with pytest.raises(ValueError, match="layer 1 must have shape"):
        dbm.energy([torch.zeros(2, 5), torch.zeros(2, 5), torch.zeros(2, 3)])
    with pytest.raises(ValueError, match="x has 4 features, the model expects 5"):
        dbm.transform(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="damping"):
        dbm.mean_field(torch.zeros(2, 5), damping=1.0)


def test_composing_rbms_keeps_the_ends_halves_the_middle_and_averages_shared_biases():
    rbms = [RBM(6, 5), RBM(5, 4), RBM(4, 3)]
    with torch.no_grad():
        for rbm in rbms:
            rbm.hidden_bias.normal_()
            rbm.visible_bias.normal_()
    dbm = DBM.from_rbms(rbms)
    assert torch.equal(dbm.weights[0], rbms[0].weight)
    assert torch.equal(dbm.weights[1], rbms[1].weight / 2)
    assert torch.equal(dbm.weights[2], rbms[2].weight)
    assert torch.equal(dbm.biases[0], rbms[0].visible_bias)
    assert torch.equal(dbm.biases[3], rbms[2].hidden_bias)
    torch.testing.assert_close(dbm.biases[2], (rbms[1].hidden_bias + rbms[2].visible_bias) / 2)
    with pytest.raises(ValueError, match="do not stack"):
        DBM.from_rbms([RBM(6, 5), RBM(4, 3)])


def test_the_pretraining_rbms_double_the_bottom_input_and_the_top_output():
    copies = [(r.visible_copies, r.hidden_copies) for r in layer_rbms(DBM([8, 6, 4]))]
    assert copies == [(2, 1), (1, 2)]
    assert [(r.visible_copies, r.hidden_copies) for r in layer_rbms(DBM([8, 6]))] == [(1, 1)]


@pytest.mark.parametrize("visible_copies, hidden_copies", [(2, 1), (1, 2)])
def test_a_replicated_rbm_is_the_copies_model_written_out(visible_copies, hidden_copies):
    g = torch.Generator().manual_seed(0)
    rbm = ReplicatedRBM(4, 3, visible_copies, hidden_copies, weight_std=1.0, generator=g).double()
    with torch.no_grad():
        rbm.visible_bias.normal_(generator=g)
        rbm.hidden_bias.normal_(generator=g)
    v = all_states([4])[0]
    # the copies model: visible copies clamped equal, hidden copies independent given v;
    # enumerate every configuration of all the hidden copies
    energies = []
    for row in all_states([3 * hidden_copies])[0]:
        energy = -visible_copies * (v @ rbm.visible_bias)
        for h in row.view(hidden_copies, 3):
            energy = energy - h @ rbm.hidden_bias - visible_copies * (v @ (rbm.weight.T @ h))
        energies.append(energy)
    torch.testing.assert_close(-rbm.free_energy(v), torch.logsumexp(-torch.stack(energies), 0))
    h = all_states([3])[0]
    torch.testing.assert_close(
        rbm.visible_probs(h), torch.sigmoid(rbm.visible_bias + hidden_copies * h @ rbm.weight)
    )
    torch.testing.assert_close(
        rbm.hidden_probs(v), torch.sigmoid(rbm.hidden_bias + visible_copies * v @ rbm.weight.T)
    )


def test_a_replicated_rbm_trains_by_the_loss_step():
    config = dbn.TrainConfig(epochs=1)
    assert resolve_step(config, torch.device("cpu"), rbm=ReplicatedRBM(4, 3, 2)) == "loss"
    assert resolve_step(config, torch.device("cpu"), rbm=RBM(4, 3)) == "fused"


def test_the_classifier_starts_as_one_mean_field_update_and_round_trips(tmp_path):
    dbm = tiny_dbm([6, 5, 4]).float()
    x = torch.rand(7, 6)
    model = DBMClassifier.from_dbm(dbm, num_classes=3, mean_field_steps=4)
    q2 = dbm.mean_field(x, 4)[1]
    first = model.mlp[0](torch.cat([x, q2], dim=1))
    torch.testing.assert_close(first, dbm.layer_input([x, None, q2], 1))
    path = tmp_path / "classifier.safetensors"
    model.save(path)
    loaded = dbn.load(path, expect=DBMClassifier)
    assert not loaded.training
    torch.testing.assert_close(loaded(x), model(x))
    assert not any(p.requires_grad for p in loaded.dbm.parameters())
    with pytest.raises(dbn.io.CheckpointError, match="a DBM classifier, not a DBM"):
        dbn.load(path, expect=DBM)


def test_generate_returns_pixel_probabilities():
    dbm = tiny_dbm().float()
    images = dbm.generate(4, gibbs_steps=5, generator=torch.Generator().manual_seed(0))
    assert images.shape == (4, 5) and 0 <= images.min() and images.max() <= 1
    assert math.isfinite(images.sum().item())
