"""DBM pretraining and joint training: the update is the paper's statistic, training
raises the exact likelihood of a model small enough to enumerate, and a checkpointed
trainer continues bit for bit."""

import pytest
import torch

import dbn
from dbn.io import atomic_save, safe_load
from dbn.models import DBM
from dbn.training import (
    DBMConfig,
    DBMTrainer,
    RBMTrainer,
    dbm_loss,
    dbm_trainer,
    label_error,
    pretrain,
)


def patterns(n=400, seed=0) -> torch.Tensor:
    """Two 8-pixel prototypes with 5 % of the pixels flipped."""
    g = torch.Generator().manual_seed(seed)
    prototypes = torch.tensor(
        [[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 1, 1, 0, 1]], dtype=torch.float32
    )
    x = prototypes[torch.randint(0, 2, (n,), generator=g)]
    flip = torch.rand(x.shape, generator=g) < 0.05
    return torch.where(flip, 1 - x, x)


def test_the_update_is_mean_field_minus_chain_statistics():
    dbm = DBM([6, 5, 4], weight_std=0.5, generator=torch.Generator().manual_seed(0))
    v = torch.bernoulli(torch.full((9, 6), 0.5), generator=torch.Generator().manual_seed(1))
    chains = dbm.random_states(7, torch.Generator().manual_seed(2))
    config = DBMConfig(gibbs_steps=2, mean_field_steps=4)
    loss, advanced, _ = dbm_loss(dbm, v, chains, config, torch.Generator().manual_seed(3))
    loss.backward()
    q1, q2 = dbm.mean_field(v, 4)
    with torch.no_grad():
        expected = chains
        g = torch.Generator().manual_seed(3)
        for _ in range(2):
            expected = dbm.sweep(expected, g)
    for got, want in zip(advanced, expected, strict=True):
        assert torch.equal(got, want)
    data_w1 = q2.T @ q1 / len(v)
    model_w1 = advanced[2].T @ advanced[1] / len(advanced[1])
    torch.testing.assert_close(dbm.weights[1].grad, -(data_w1 - model_w1))
    torch.testing.assert_close(dbm.biases[0].grad, -(v.mean(0) - advanced[0].mean(0)))


def test_joint_training_raises_the_exact_likelihood_and_bounds_stay_below_it():
    x = patterns()
    dbm = DBM([8, 6, 4], generator=torch.Generator().manual_seed(0))
    start = dbn.ais.dbm_exact_log_likelihood(dbm, x).mean().item()
    pretrain(dbm, x, epochs=30, lr=0.1, progress=False)
    pretrained = dbn.ais.dbm_exact_log_likelihood(dbm, x).mean().item()
    # 200 epochs of 4 updates, the learning rate falling to 0: the chains settle
    DBMTrainer(dbm, DBMConfig(epochs=200, lr=0.02, n_chains=50), seed=0).fit(x, progress=False)
    log_z = dbn.ais.exact_log_partition(dbm)
    exact = dbn.ais.dbm_exact_log_likelihood(dbm, x, log_z)
    assert start < pretrained - 1.0, (start, pretrained)
    # how far greedy pretraining gets depends on its sampling stream (-2.56 nats with
    # torch's, -2.40 with PCG64's); joint training then gains 0.1-0.2 or 0.02-0.06 over
    # four seeds: the exact likelihood must rise, by more than rounding
    assert exact.mean().item() > pretrained + 0.01, (pretrained, exact.mean().item())
    bound = dbn.ais.variational_bound(dbm, x, log_z)
    assert (bound <= exact + 1e-9).all()
    assert dbn.ais.log_likelihood(dbm, x, log_z=log_z) == pytest.approx(bound.mean().item())


def test_ais_agrees_with_enumeration_on_a_trained_dbm_and_with_itself():
    x = patterns()
    dbm = DBM([8, 6, 4], generator=torch.Generator().manual_seed(0))
    pretrain(dbm, x, epochs=30, lr=0.1, progress=False)
    DBMTrainer(dbm, DBMConfig(epochs=10, lr=0.05, n_chains=50), seed=0).fit(x, progress=False)
    exact = dbn.ais.exact_log_partition(dbm)
    runs = [
        dbn.ais.log_partition(dbm, x, n_betas=3000, generator=torch.Generator().manual_seed(s))
        for s in range(3)
    ]
    for result in runs:
        assert abs(result.log_z - exact) < 0.1, (result.log_z, exact)
        assert result.log_z_low <= result.log_z <= result.log_z_high
    estimates = [result.log_z for result in runs]
    assert max(estimates) - min(estimates) < 0.1


def test_a_one_hidden_layer_dbm_has_its_rbms_partition_function():
    rbm = dbn.RBM(6, 4, weight_std=1.0, generator=torch.Generator().manual_seed(0))
    dbm = DBM.from_rbms([rbm])
    assert dbn.ais.exact_log_partition(dbm) == pytest.approx(dbn.ais.exact_log_partition(rbm))


class Killed(Exception):
    pass


def test_a_checkpointed_trainer_continues_bit_for_bit(tmp_path):
    x = dbn.load_digits()["train"].x[:300]
    config = DBMConfig(epochs=4, n_chains=30, sparsity_target=0.1, sparsity_cost=0.01)

    def fresh(seed=5):
        return DBMTrainer(
            DBM([64, 16, 8], generator=torch.Generator().manual_seed(0)), config, seed
        )

    straight = fresh()
    straight.fit(x, progress=False)

    def checkpoint_then_die_after_two(trainer):
        atomic_save({"trainer": trainer.state_dict()}, tmp_path / "state.pt")
        if trainer.epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        fresh().fit(x, progress=False, callbacks=[checkpoint_then_die_after_two])
    resumed = fresh(seed=99)
    resumed.load_state_dict(safe_load(tmp_path / "state.pt")["trainer"])
    resumed.fit(x, progress=False)
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]


@pytest.mark.parametrize("autocast", ["bfloat16", "float16"])
def test_mixed_precision_training_keeps_the_held_out_likelihood(autocast):
    """Joint training in mixed precision reaches the held-out exact log-likelihood that
    full precision reaches, closer to it than full precision with another seed does,
    and keeps its parameters and chains in float32."""
    generator = torch.Generator().manual_seed(0)
    digits = dbn.load_digits()
    train = torch.bernoulli(digits["train"].x, generator=generator)
    test = torch.bernoulli(digits["test"].x, generator=generator)

    def held_out(precision, seed):
        dbm = DBM([64, 12, 8], generator=torch.Generator().manual_seed(0))
        config = DBMConfig(epochs=20, lr=0.01, n_chains=50, autocast=precision)
        trainer = DBMTrainer(dbm, config, seed=seed)
        trainer.fit(train, progress=False)
        assert all(p.dtype == torch.float32 for p in dbm.parameters())
        assert all(state.dtype == torch.float32 for state in trainer.chains)
        return dbn.ais.dbm_exact_log_likelihood(dbm, test).mean().item()

    untrained = dbn.ais.dbm_exact_log_likelihood(
        DBM([64, 12, 8], generator=torch.Generator().manual_seed(0)), test
    )
    full, mixed, reseeded = held_out(None, 0), held_out(autocast, 0), held_out(None, 1)
    assert full > untrained.mean().item() + 10, (untrained.mean().item(), full)
    assert mixed != full  # the products did run in the reduced dtype
    assert abs(mixed - full) < abs(reseeded - full), (full, mixed, reseeded)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"epochs": 0}, "epochs"),
        ({"lr": -1.0}, "lr"),
        ({"damping": 1.0}, "damping"),
        ({"sparsity_target": 1.5}, "sparsity_target"),
        ({"mean_field_steps": -1}, "mean_field_steps"),
        ({"autocast": "float8"}, "autocast"),
    ],
)
def test_bad_options_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        DBMConfig(**options)


def test_too_many_chains_and_wrong_config_counts_are_refused():
    x = dbn.load_digits()["train"].x[:50]
    with pytest.raises(ValueError, match="n_chains=100 exceeds the 50"):
        DBMTrainer(DBM([64, 8, 4]), DBMConfig(epochs=1)).fit(x, progress=False)
    with pytest.raises(ValueError, match="a list of 2, one per RBM; got 1"):
        pretrain(DBM([64, 8, 4]), x, config=[dbn.TrainConfig()], progress=False)


@pytest.mark.parametrize("crash_after", [2, 4])  # in the first RBM, in the second
def test_greedy_pretraining_interrupted_then_resumed_equals_the_uninterrupted_run(
    tmp_path, monkeypatch, crash_after
):
    from dbn.training.pretraining import PretrainCheckpoint

    x = patterns(200)
    options = dict(epochs=3, lr=0.1, batch_size=20, progress=False, seed=4)
    whole = DBM([8, 6, 4])
    whole_history = pretrain(whole, x, **options)

    path, saves, save = tmp_path / "greedy-state.pt", [], PretrainCheckpoint.save

    def save_then_crash(self, *args):
        save(self, *args)
        saves.append(args[0])
        if len(saves) == crash_after:
            raise KeyboardInterrupt

    monkeypatch.setattr(PretrainCheckpoint, "save", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        pretrain(DBM([8, 6, 4]), x, checkpoint_path=path, **options)
    resumed = DBM([8, 6, 4])
    history = pretrain(resumed, x, checkpoint_path=path, resume=True, **options)
    # 3 epochs of 2 RBMs and the closing save: the resumed run did only what was left
    assert len(saves) == 3 + 3 + 1
    for name, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    assert [[row["recon_error"] for row in layer] for layer in history] == [
        [row["recon_error"] for row in layer] for layer in whole_history
    ]
    other = dict(options, lr=0.05)
    with pytest.raises(dbn.io.CheckpointError, match="other training options"):
        pretrain(DBM([8, 6, 4]), x, checkpoint_path=path, resume=True, **other)


def labelled_patterns(n=400, seed=0) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`patterns` with the prototype each image was drawn from as its label."""
    x = patterns(n, seed)
    labels = (x[:, 4:6].sum(1) > x[:, 0:2].sum(1)).long()
    return x, labels


def test_labels_are_clamped_in_the_data_phase_and_sampled_in_the_chains():
    dbm = DBM([6, 5, 4], weight_std=0.5, generator=torch.Generator().manual_seed(0), n_labels=3)
    v = torch.bernoulli(torch.full((9, 6), 0.5), generator=torch.Generator().manual_seed(1))
    labels = torch.arange(9) % 3
    chains = dbm.random_states(7, torch.Generator().manual_seed(2))
    config = DBMConfig(gibbs_steps=2, mean_field_steps=4)
    loss, advanced, _ = dbm_loss(dbm, v, chains, config, torch.Generator().manual_seed(3), labels)
    loss.backward()
    q1, q2, y = dbm.mean_field(v, 4, labels=labels)
    assert torch.equal(y, torch.nn.functional.one_hot(labels, 3).float())
    assert not torch.equal(advanced[3], chains[3])  # the chains' labels move
    data = y.T @ q2 / len(v)
    model = advanced[3].T @ advanced[2] / len(advanced[2])
    torch.testing.assert_close(dbm.label_weight.grad, -(data - model))
    torch.testing.assert_close(dbm.label_bias.grad, -(y.mean(0) - advanced[3].mean(0)))
    with pytest.raises(ValueError, match="pass labels"):
        dbm_loss(dbm, v, chains, config)


def test_a_labelled_dbm_learns_to_classify_and_its_bound_stays_below_log_p():
    x, labels = labelled_patterns()
    dbm = DBM([8, 6, 4], generator=torch.Generator().manual_seed(0), n_labels=2)
    pretrain(dbm, x, epochs=30, lr=0.1, progress=False, labels=labels)
    config = DBMConfig(epochs=50, lr=0.02, n_chains=50, sparsity_target=[0.2, 0.1])
    DBMTrainer(dbm, config, seed=0).fit(x, labels=labels, progress=False)
    test_x, test_labels = labelled_patterns(200, seed=1)
    assert label_error(dbm, test_x, test_labels, config) < 0.05
    log_z = dbn.ais.exact_log_partition(dbm)
    exact = dbn.ais.dbm_exact_log_likelihood(dbm, test_x, log_z)
    assert (dbn.ais.variational_bound(dbm, test_x, log_z) <= exact + 1e-9).all()
    with pytest.raises(ValueError, match="pass labels"):
        DBMTrainer(dbm, config).fit(x, progress=False)


def test_a_labelled_trainer_on_the_exponential_schedule_continues_bit_for_bit(tmp_path):
    digits = dbn.load_digits()["train"]
    x, labels = digits.x[:300], digits.y[:300]
    config = DBMConfig(
        epochs=4,
        n_chains=30,
        lr=0.01,
        lr_final=0.009,
        lr_schedule="exponential",
        lr_divisor=1.01,
        sparsity_target=[0.2, 0.1],
        sparsity_cost=0.01,
    )

    def fresh(seed=5):
        dbm = DBM([64, 16, 8], generator=torch.Generator().manual_seed(0), n_labels=10)
        return DBMTrainer(dbm, config, seed)

    straight = fresh()
    straight.fit(x, labels=labels, progress=False)

    def checkpoint_then_die_after_two(trainer):
        atomic_save({"trainer": trainer.state_dict()}, tmp_path / "state.pt")
        if trainer.epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        fresh().fit(x, labels=labels, progress=False, callbacks=[checkpoint_then_die_after_two])
    resumed = fresh(seed=99)
    resumed.load_state_dict(safe_load(tmp_path / "state.pt")["trainer"])
    resumed.fit(x, labels=labels, progress=False)
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
    # 3 updates an epoch, each row the epoch's last: the floor from update 11 on
    # (0.01 / 1.01^11 < 0.009 < 0.01 / 1.01^10)
    assert [row["lr"] for row in resumed.history] == pytest.approx(
        [0.01 / 1.01**3, 0.01 / 1.01**6, 0.01 / 1.01**9, 0.009]
    )


def test_binarize_trains_every_stage_on_fresh_binary_samples(monkeypatch):
    x = torch.full((200, 8), 0.5)
    seen = []
    original = dbm_trainer.dbm_loss

    def spy(dbm, v, *args, **kwargs):
        seen.append(v.clone())
        return original(dbm, v, *args, **kwargs)

    monkeypatch.setattr(dbm_trainer, "dbm_loss", spy)
    dbm = DBM([8, 6, 4])
    DBMTrainer(dbm, DBMConfig(epochs=2, n_chains=20, binarize=True)).fit(x, progress=False)
    batches = torch.cat(seen)
    assert set(batches.unique().tolist()) == {0.0, 1.0}
    assert abs(batches.mean().item() - 0.5) < 0.05
    assert not torch.equal(seen[0], seen[2])  # the same images, drawn afresh each epoch

    rbm_batches = []
    trainer = RBMTrainer(dbn.RBM(8, 4), dbn.TrainConfig(epochs=1, binarize=True))
    step = trainer._train_step
    monkeypatch.setattr(trainer, "_train_step", lambda b, k: rbm_batches.append(b) or step(b, k))
    trainer.fit(x, progress=False)
    assert set(torch.cat(rbm_batches).unique().tolist()) == {0.0, 1.0}
    with pytest.raises(ValueError, match="binarize samples Bernoulli"):
        RBMTrainer(dbn.RBM(8, 4, "gaussian"), dbn.TrainConfig(binarize=True))


def test_probability_statistics_follow_dbm_mf_m():
    # dbm_mf.m: h1 = P(h1 | v, h2), then h2 = P(h2 | h1 probabilities, label
    # probabilities); the pixels and the labels enter the products as states
    dbm = DBM([6, 5, 4], weight_std=0.5, generator=torch.Generator().manual_seed(0), n_labels=3)
    v, h1, h2, y = dbm.random_states(7, torch.Generator().manual_seed(1))
    w1, w2, wy = dbm.weights[0], dbm.weights[1], dbm.label_weight
    b1, b2, by = dbm.biases[1], dbm.biases[2], dbm.label_bias
    with torch.no_grad():
        p1 = torch.sigmoid(v @ w1.T + h2 @ w2 + b1)
        py = torch.softmax(h2 @ wy.T + by, dim=1)
        p2 = torch.sigmoid(p1 @ w2.T + py @ wy + b2)
        marginals = dbm.chain_marginals([v, h1, h2, y])
    for got, want in zip(marginals, [v, p1, p2, y], strict=True):
        torch.testing.assert_close(got, want)


def test_probability_statistics_change_the_update_not_its_chains():
    dbm = DBM([6, 5, 4], weight_std=0.5, generator=torch.Generator().manual_seed(0))
    v = torch.bernoulli(torch.full((9, 6), 0.5), generator=torch.Generator().manual_seed(1))
    chains = dbm.random_states(7, torch.Generator().manual_seed(2))
    grads, advanced = [], []
    for statistics in ("states", "probabilities"):
        config = DBMConfig(gibbs_steps=2, negative_statistics=statistics)
        dbm.zero_grad()
        loss, moved, _ = dbm_loss(dbm, v, chains, config, torch.Generator().manual_seed(3))
        loss.backward()
        grads.append(dbm.weights[1].grad.clone())
        advanced.append(moved)
    assert all(torch.equal(a, b) for a, b in zip(*advanced, strict=True))
    assert not torch.equal(*grads)
    model = dbm.chain_marginals(advanced[1])
    q1, q2 = dbm.mean_field(v, 10)
    expected = -(q2.T @ q1 / len(v) - model[2].T @ model[1] / len(model[1]))
    torch.testing.assert_close(grads[1], expected)
    with pytest.raises(ValueError, match="negative_statistics"):
        DBMConfig(negative_statistics="means")
