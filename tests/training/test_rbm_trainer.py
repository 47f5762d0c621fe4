import pytest
import torch
from helpers import binary_digits, random_rbm, without_timings

from dbn import RBM, TrainConfig, ais, train_rbm
from dbn.training import RBMTrainer, TrainingDivergedError
from dbn.training.monitors import reconstruction_error
from dbn.training.objectives import contrastive_divergence_loss, reconstruction_loss


def test_cd_loss_gradient_is_textbook_cd_statistics():
    rbm = random_rbm(7, 5, seed=0, scale=0.5)
    v_data = (torch.rand(11, 7, dtype=torch.float64) > 0.5).double()
    v_model = rbm.gibbs(v_data, k=2, generator=torch.Generator().manual_seed(0)).detach()
    contrastive_divergence_loss(rbm, v_data, v_model).backward()
    with torch.no_grad():
        h_data, h_model = rbm.hidden_probs(v_data), rbm.hidden_probs(v_model)
        # Hinton (2002): ΔW ∝ ⟨h vᵀ⟩_data - ⟨h vᵀ⟩_model; the loss gradient is its negative
        delta_w = h_data.T @ v_data / 11 - h_model.T @ v_model / 11
        delta_bh = h_data.mean(0) - h_model.mean(0)
        delta_bv = v_data.mean(0) - v_model.mean(0)
    torch.testing.assert_close(rbm.weight.grad, -delta_w)
    torch.testing.assert_close(rbm.hidden_bias.grad, -delta_bh)
    torch.testing.assert_close(rbm.visible_bias.grad, -delta_bv)


def test_cd_loss_gradient_for_gaussian_units():
    rbm = random_rbm(4, 3, visible="gaussian", seed=1, scale=0.3)
    v_data, v_model = torch.randn(9, 4, dtype=torch.float64), torch.randn(9, 4, dtype=torch.float64)
    contrastive_divergence_loss(rbm, v_data, v_model).backward()
    with torch.no_grad():
        delta_bv = (v_data - rbm.visible_bias).mean(0) - (v_model - rbm.visible_bias).mean(0)
    torch.testing.assert_close(rbm.visible_bias.grad, -delta_bv)


@pytest.mark.parametrize("method, k", [("cd", 1), ("pcd", 1), ("cd", 3)])
def test_training_raises_exact_held_out_log_likelihood(method, k):
    train, _, test = binary_digits()
    rbm = RBM(64, 12, generator=torch.Generator().manual_seed(0))
    before = ais.log_likelihood(rbm, test, log_z=ais.exact_log_partition(rbm))
    train_rbm(rbm, train, method=method, k=k, epochs=15, lr=0.05, progress=False)
    after = ais.log_likelihood(rbm, test, log_z=ais.exact_log_partition(rbm))
    # a digits RBM this size reaches about -26 nats; the initial model sits near -44
    assert after > before + 10, (before, after)


def test_reconstruction_training_lowers_reconstruction_loss():
    train, _, test = binary_digits()
    rbm = RBM(64, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        initial = reconstruction_loss(rbm, test).item()
    history = train_rbm(rbm, train, method="recon", corruption=0.2, epochs=20, progress=False)
    with torch.no_grad():
        final = reconstruction_loss(rbm, test).item()
    assert final < 0.6 * initial
    assert history[-1]["recon_error"] < history[0]["recon_error"]


def test_gaussian_rbm_trains_on_standardised_data():
    from dbn.datasets._loading import load_digits

    x = load_digits()["train"].x
    x = (x - x.mean(0)) / (x.std(0) + 1e-3)
    rbm = RBM(64, 32, visible="gaussian", generator=torch.Generator().manual_seed(0))
    history = train_rbm(rbm, x, epochs=10, lr=0.01, progress=False)
    assert history[-1]["recon_error"] < 0.8 * history[0]["recon_error"]
    assert "pseudo_likelihood" not in history[-1]


def test_same_seed_gives_identical_weights_and_other_seeds_do_not():
    train, valid, _ = binary_digits()

    def run(seed):
        rbm = RBM(64, 16, generator=torch.Generator().manual_seed(0))
        history = train_rbm(
            rbm, train, valid=valid, method="pcd", epochs=3, seed=seed, progress=False
        )
        return rbm.weight.detach().clone(), history

    (w1, h1), (w2, h2), (w3, _) = run(0), run(0), run(1)
    assert torch.equal(w1, w2) and without_timings(h1) == without_timings(h2)
    assert not torch.equal(w1, w3)


@pytest.mark.parametrize("persist", ["visible", "hidden"])
def test_restored_trainer_continues_bit_for_bit(persist):
    train, valid, _ = binary_digits()
    config = TrainConfig(method="pcd", persist=persist, epochs=6, lr=0.05)

    straight = RBMTrainer(RBM(64, 16, generator=torch.Generator().manual_seed(0)), config, seed=3)
    straight.fit(train, valid, progress=False)

    first = RBMTrainer(RBM(64, 16, generator=torch.Generator().manual_seed(0)), config, seed=3)
    first.train_epochs(train, 3, valid, progress=False)
    state = first.state_dict()
    resumed = RBMTrainer(RBM(64, 16), config, seed=99)
    resumed.load_state_dict(state)
    resumed.fit(train, valid, progress=False)
    assert torch.equal(resumed.rbm.weight, straight.rbm.weight)
    assert torch.equal(resumed.chains, straight.chains)
    assert without_timings(resumed.history) == without_timings(straight.history)
    # the restored epochs keep the wall time they took; the new ones record theirs
    assert resumed.history[:3] == first.history
    assert all(row["seconds"] > 0 for row in resumed.history)


def test_momentum_switches_after_five_epochs():
    train, _, _ = binary_digits()
    trainer = RBMTrainer(RBM(64, 8), TrainConfig(epochs=7))
    seen = []
    trainer.fit(
        train,
        progress=False,
        callbacks=[lambda t: seen.append(t.optimizer.param_groups[0]["momentum"])],
    )
    assert seen == [0.5] * 5 + [0.9] * 2
    assert trainer.optimizer.param_groups[0]["weight_decay"] == 2e-4
    assert trainer.optimizer.param_groups[1]["weight_decay"] == 0.0


def test_visible_bias_starts_at_data_log_odds():
    train, _, _ = binary_digits()
    rbm = RBM(64, 8)
    train_rbm(rbm, train, epochs=0, progress=False)
    p = train.mean(0).clamp(1e-3, 1 - 1e-3)
    torch.testing.assert_close(rbm.visible_bias.detach(), torch.log(p / (1 - p)))


@pytest.mark.parametrize(
    "data, message",
    [
        (torch.rand(10, 5), "data has 5 features, the model expects 6"),
        (torch.rand(10), r"data must have shape \(n_samples, 6\)"),
        (torch.full((10, 6), float("nan")), "data contains NaN or Inf"),
        (torch.rand(10, 6) * 3, r"must lie in \[0, 1\] for Bernoulli"),
        (torch.rand(0, 6), "data is empty"),
    ],
)
def test_bad_training_data_is_refused(data, message):
    with pytest.raises(ValueError, match=message):
        train_rbm(RBM(6, 3), data, epochs=1, progress=False)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"method": "magic"}, "method must be one of"),
        ({"k": 0}, "k must be an integer >= 1, got 0"),
        ({"lr": -1.0}, "lr must be a positive finite number"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"corruption": 1.5}, r"corruption must lie in \[0, 1\)"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**options)


def test_divergence_stops_with_a_clear_error():
    x = torch.randn(200, 10) * 50
    rbm = RBM(10, 5, visible="gaussian")
    with pytest.raises(
        TrainingDivergedError, match=r"diverged in epoch \d+.*Lower the learning rate"
    ):
        train_rbm(rbm, x, lr=1e4, momentum=0.0, epochs=20, progress=False)


def test_linear_lr_decay_lowers_the_rate_each_epoch_towards_zero():
    train, _, _ = binary_digits()
    trainer = RBMTrainer(RBM(64, 8), TrainConfig(epochs=4, lr=0.2, lr_decay="linear"))
    seen = []
    trainer.fit(
        train,
        progress=False,
        callbacks=[lambda t: seen.append(t.optimizer.param_groups[0]["lr"])],
    )
    assert seen == pytest.approx([0.2, 0.15, 0.1, 0.05], rel=1e-12)


@pytest.mark.parametrize("step", ["fused", "loss"])
def test_persistent_chains_may_outnumber_the_batch(step):
    train, _, _ = binary_digits()
    config = TrainConfig(method="pcd", epochs=2, batch_size=20, n_chains=7, step=step)
    trainer = RBMTrainer(RBM(64, 8), config, seed=3)
    trainer.fit(train, progress=False)
    assert trainer.chains.shape == (7, 64)
    assert set(trainer.chains.unique().tolist()) <= {0.0, 1.0}


def test_adam_trains_an_rbm():
    train, _, _ = binary_digits()
    rbm = RBM(64, 16)
    untrained = reconstruction_error(rbm, train).item()
    trainer = RBMTrainer(
        rbm, TrainConfig(optimizer="adam", lr=1e-2, epochs=5, init_visible_bias=False)
    )
    history = trainer.fit(train, progress=False)
    assert isinstance(trainer.optimizer, torch.optim.Adam)
    assert history[-1]["recon_error"] < 0.7 * untrained


def test_a_checkpoint_of_another_world_size_is_refused():
    train, _, _ = binary_digits()
    trainer = RBMTrainer(RBM(64, 8), TrainConfig(epochs=1))
    trainer.fit(train, progress=False)
    state = trainer.state_dict()
    state["ranks"] = state["ranks"] * 2  # as if written by two processes
    with pytest.raises(ValueError, match=r"written by 2 process\(es\); resume it with the same"):
        RBMTrainer(RBM(64, 8), TrainConfig(epochs=1)).load_state_dict(state)


def test_train_epochs_continues_past_the_configured_epochs():
    train, _, _ = binary_digits()
    trainer = RBMTrainer(RBM(64, 8), TrainConfig(epochs=1))
    trainer.fit(train, progress=False)
    trainer.train_epochs(train, 2, progress=False)
    assert trainer.epoch == 3 and [row["epoch"] for row in trainer.history] == [1, 2, 3]


def test_rbm_l2_schedule_grows_k_every_n_epochs_and_divides_the_lr_by_it():
    # rbm_l2.m: CD = ceil(epoch / 20), epsilon = 0.05 / CD (here every 2 epochs)
    config = TrainConfig(epochs=6, lr=0.05, k=1, k_every=2, lr_decay="inverse_k")
    history = train_rbm(RBM(64, 8), binary_digits()[0][:200], config, progress=False)
    assert [row["k"] for row in history] == [1, 1, 2, 2, 3, 3]
    assert [row["lr"] for row in history] == [0.05 / k for k in (1, 1, 2, 2, 3, 3)]
    with pytest.raises(ValueError, match="k_final and k_every"):
        TrainConfig(k_final=10, k_every=20)


@pytest.mark.parametrize(
    "other, expected",
    [
        (lambda: RBMTrainer(RBM(64, 8), TrainConfig(epochs=1, lr=0.2)), r"options: lr \(0.1"),
        (lambda: RBMTrainer(RBM(64, 9), TrainConfig(epochs=1)), r"of a model .*'n_hidden': 8"),
        (lambda: RBMTrainer(RBM(64, 8), TrainConfig(epochs=1, rng="torch")), r"rng \('auto'"),
        (lambda: RBMTrainer(RBM(64, 8), TrainConfig(epochs=1, matmul="mm")), r"matmul \('auto'"),
    ],
)
def test_a_state_of_another_config_or_shape_is_refused_before_anything_changes(other, expected):
    train, _, _ = binary_digits()
    trainer = RBMTrainer(RBM(64, 8), TrainConfig(epochs=1))
    trainer.fit(train, progress=False)
    receiver = other()
    before = {k: v.clone() for k, v in receiver.model.state_dict().items()}
    with pytest.raises(ValueError, match=expected):
        receiver.load_state_dict(trainer.state_dict())
    assert receiver.epoch == 0 and receiver.history == []
    assert all(torch.equal(v, receiver.model.state_dict()[k]) for k, v in before.items())
