"""A DBM with label units against enumeration of every joint state (the labels one-hot),
on models small enough to list: the energy, both free energies, the conditionals, mean
field, Gibbs sampling, exact and AIS log Z, the variational bound, and the parts that
build one (the top LabelRBM, from_rbms, the classifier)."""

import itertools

import pytest
import torch
import torch.nn.functional as F

import dbn
from dbn.models import DBM, DBMClassifier, LabelRBM
from dbn.training import layer_rbms

N_LABELS = 3


def tiny_labelled(sizes=(4, 3, 2), seed=0) -> DBM:
    g = torch.Generator().manual_seed(seed)
    dbm = DBM(list(sizes), weight_std=1.0, generator=g, n_labels=N_LABELS).double()
    with torch.no_grad():
        for bias in [*dbm.biases, dbm.label_bias]:
            bias.normal_(0.0, 0.5, generator=g)
    return dbm


def all_states(dbm: DBM) -> list[torch.Tensor]:
    """Every joint configuration of the layers and one-hot labels, split per entry."""
    bits = sum(dbm.sizes)
    codes = torch.tensor(list(itertools.product([0.0, 1.0], repeat=bits)), dtype=torch.float64)
    codes = codes.repeat_interleave(N_LABELS, dim=0)
    labels = torch.eye(N_LABELS, dtype=torch.float64).repeat(2**bits, 1)
    return [*torch.split(codes, dbm.sizes, dim=1), labels]


def brute_log_z(dbm: DBM) -> float:
    return torch.logsumexp(-dbm.energy(all_states(dbm)), 0).item()


def test_the_energy_is_the_formula_written_out():
    dbm = tiny_labelled()
    states = all_states(dbm)
    v, h1, h2, y = states
    by_hand = -(v @ dbm.biases[0] + h1 @ dbm.biases[1] + h2 @ dbm.biases[2] + y @ dbm.label_bias)
    by_hand = by_hand - torch.einsum("nj,ji,ni->n", h1, dbm.weights[0], v)
    by_hand = by_hand - torch.einsum("nj,ji,ni->n", h2, dbm.weights[1], h1)
    by_hand = by_hand - torch.einsum("nk,kj,nj->n", y, dbm.label_weight, h2)
    torch.testing.assert_close(dbm.energy(states), by_hand)


@pytest.mark.parametrize("sizes", [(4, 3, 2), (3, 2, 2, 2)])
@pytest.mark.parametrize("summed_out", ["odd", "even"])
def test_the_free_energy_sums_the_other_parity_and_the_labels_out(sizes, summed_out):
    dbm = tiny_labelled(sizes)
    states = all_states(dbm)
    kept = range(0 if summed_out == "odd" else 1, dbm.n_groups, 2)
    energies = dbm.energy(states)
    keys = torch.cat([states[i] for i in kept], dim=1)
    unique, index = torch.unique(keys, dim=0, return_inverse=True)
    brute = torch.stack([torch.logsumexp(-energies[index == k], 0) for k in range(len(unique))])
    query: list = [None] * dbm.n_groups
    begin = 0
    for i in kept:
        query[i] = unique[:, begin : begin + dbm.group_sizes()[i]]
        begin += dbm.group_sizes()[i]
    torch.testing.assert_close(-dbm.free_energy(query, summed_out), brute)


def test_the_labels_given_the_top_layer_are_the_enumerated_softmax():
    dbm = tiny_labelled()
    states = all_states(dbm)
    p = torch.softmax(-dbm.energy(states), 0)
    probs = dbm.conditional(3, dbm.layer_input(states, 3))
    unique, index = torch.unique(states[2], dim=0, return_inverse=True)
    for k in range(len(unique)):
        rows = index == k
        enumerated = (p[rows, None] * states[3][rows]).sum(0) / p[rows].sum()
        torch.testing.assert_close(probs[rows][0], enumerated)
    # and the top layer hears the labels
    top = torch.sigmoid(dbm.layer_input(states, 2))
    neighbours = torch.cat([states[1], states[3]], dim=1)
    unique, index = torch.unique(neighbours, dim=0, return_inverse=True)
    for k in range(len(unique)):
        rows = index == k
        enumerated = (p[rows, None] * states[2][rows]).sum(0) / p[rows].sum()
        torch.testing.assert_close(top[rows][0], enumerated)


@pytest.mark.parametrize("sizes", [(4, 3, 2), (3, 2, 2, 2)])
def test_exact_log_z_and_likelihood_match_brute_force(sizes):
    dbm = tiny_labelled(sizes)
    log_z = dbn.ais.exact_log_partition(dbm)
    assert log_z == pytest.approx(brute_log_z(dbm), abs=1e-10)
    visible = torch.tensor(list(itertools.product([0.0, 1.0], repeat=sizes[0])))
    log_p = dbn.ais.dbm_exact_log_likelihood(dbm, visible)
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("sizes", [(4, 3, 2), (3, 2, 2, 2)])
def test_ais_finds_the_exact_log_z_and_the_bound_lies_below_log_p(sizes):
    dbm = tiny_labelled(sizes, seed=1)
    exact = dbn.ais.exact_log_partition(dbm)
    result = dbn.ais.log_partition(
        dbm, n_betas=3000, n_runs=100, generator=torch.Generator().manual_seed(0)
    )
    assert abs(result.log_z - exact) < 0.1
    v = torch.bernoulli(torch.full((6, sizes[0]), 0.5), generator=torch.Generator().manual_seed(2))
    bound = dbn.ais.variational_bound(dbm, v, exact)
    assert (bound <= dbn.ais.dbm_exact_log_likelihood(dbm, v, exact) + 1e-12).all()


def test_mean_field_infers_or_clamps_the_labels():
    dbm = tiny_labelled((6, 5, 4), seed=2)
    v = torch.bernoulli(torch.full((8, 6), 0.5, dtype=torch.float64))
    states = [v, *dbm.mean_field(v, n_steps=300, damping=0.3)]
    for index in (1, 2, 3):
        expected = dbm.conditional(index, dbm.layer_input(states, index))
        torch.testing.assert_close(states[index], expected, atol=1e-8, rtol=0)
    assert torch.allclose(states[3].sum(1), torch.ones(8, dtype=torch.float64))
    labels = torch.arange(8) % N_LABELS
    clamped = [v, *dbm.mean_field(v, n_steps=300, damping=0.3, labels=labels)]
    torch.testing.assert_close(clamped[3], F.one_hot(labels, N_LABELS).double())
    for index in (1, 2):
        expected = torch.sigmoid(dbm.layer_input(clamped, index))
        torch.testing.assert_close(clamped[index], expected, atol=1e-8, rtol=0)


def test_block_gibbs_samples_the_enumerated_label_marginal():
    dbm = tiny_labelled(seed=3).float()
    g = torch.Generator().manual_seed(0)
    states = dbm.random_states(20000, g)
    for _ in range(60):
        states = dbm.sweep(states, g)
    empirical = states[3].double().mean(0)
    joint = all_states(dbm.double())
    p = torch.softmax(-dbm.double().energy(joint), 0)
    exact = (p[:, None] * joint[3]).sum(0)
    assert 0.5 * (empirical - exact).abs().sum().item() < 0.02


def test_clamped_generation_keeps_the_labels_and_the_class_changes_the_images():
    dbm = tiny_labelled((6, 5, 4), seed=4).float()
    with torch.no_grad():
        dbm.label_weight.mul_(4.0)
    images = [
        dbm.generate(4000, 30, torch.Generator().manual_seed(0), torch.full((4000,), k)).mean(0)
        for k in range(N_LABELS)
    ]
    assert (images[0] - images[1]).abs().max() > 0.05


def test_the_top_label_rbm_hears_its_hidden_layer_twice_and_composes_into_the_dbm():
    rbms = layer_rbms(DBM([6, 5, 4], n_labels=N_LABELS), torch.Generator().manual_seed(0))
    bottom, top = rbms
    assert isinstance(top, LabelRBM) and top.hidden_copies == 2
    h = torch.rand(3, 4)
    features = torch.sigmoid(2 * h @ top.weight[:, :5] + top.visible_bias[:5])
    labels = torch.softmax(h @ top.weight[:, 5:] + top.visible_bias[5:], dim=1)
    torch.testing.assert_close(top.visible_probs(h), torch.cat([features, labels], dim=1))
    with torch.no_grad():
        for rbm in rbms:
            for p in rbm.parameters():
                p.normal_(generator=torch.Generator().manual_seed(p.numel()))
    dbm = DBM.from_rbms(rbms)
    assert dbm.n_labels == N_LABELS
    torch.testing.assert_close(dbm.weights[1], top.weight[:, :5])
    torch.testing.assert_close(dbm.label_weight, top.weight[:, 5:].t())
    torch.testing.assert_close(dbm.label_bias, top.visible_bias[5:])
    torch.testing.assert_close(dbm.biases[1], (bottom.hidden_bias + top.visible_bias[:5]) / 2)


def test_the_classifier_runs_mean_field_with_the_labels_off():
    dbm = tiny_labelled((6, 5, 4), seed=5).float()
    classifier = DBMClassifier.from_dbm(dbm, num_classes=N_LABELS)
    x = torch.rand(7, 6)
    off = dbm.mean_field(x, 10, labels=torch.zeros(7, N_LABELS))[1]
    torch.testing.assert_close(classifier.features(x), torch.cat([x, off], dim=1))
    inferred = dbm.top_marginals(x)
    assert not torch.allclose(off, inferred)


def test_labels_are_checked():
    dbm = DBM([6, 5, 4], n_labels=N_LABELS)
    with pytest.raises(ValueError, match="below n_labels"):
        dbm.mean_field(torch.rand(2, 6), labels=torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        dbm.mean_field(torch.rand(2, 6), labels=torch.zeros(2, 4))
    with pytest.raises(ValueError, match="no label units"):
        DBM([6, 5, 4]).mean_field(torch.rand(2, 6), labels=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="at least 2"):
        DBM([6, 5, 4], n_labels=1)


def test_a_labelled_dbm_and_its_classifier_load_back_ready_to_call(tmp_path):
    dbm = tiny_labelled((6, 5, 4), seed=6).float()
    loaded = dbn.load(dbm.save(tmp_path / "dbm.safetensors"))
    assert loaded.n_labels == N_LABELS
    x = torch.rand(5, 6)
    torch.testing.assert_close(loaded.predict_proba(x), dbm.predict_proba(x))
    classifier = DBMClassifier.from_dbm(dbm, num_classes=N_LABELS)
    again = dbn.load(classifier.save(tmp_path / "classifier.safetensors"))
    torch.testing.assert_close(again(x), classifier.eval()(x))
