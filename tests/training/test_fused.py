import math

import pytest
import torch
from helpers import binary_digits, random_rbm, without_timings

from dbn import RBM, TrainConfig
from dbn.cli.device import resolve_device
from dbn.training._cudagraph import GraphedCD, RerunRecorder
from dbn.training._fused import FastCD
from dbn.training.objectives import RBMObjective, contrastive_divergence_loss
from dbn.training.rbm_trainer import RBMTrainer, resolve_step


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("pcd", [False, True])
def test_fast_gradient_equals_autograd_of_the_loss(visible, pcd):
    rbm = random_rbm(12, 7, visible=visible, seed=0, scale=0.4)
    v_data = torch.rand(9, 12, dtype=torch.float64)
    if visible == "bernoulli":
        v_data = (v_data > 0.5).double()
    chains = torch.randn(5, 12, dtype=torch.float64).abs().clamp(max=1) if pcd else None
    negatives = FastCD(rbm).step(v_data, chains, k=3, generator=torch.Generator().manual_seed(1))
    fast = [p.grad.clone() for p in rbm.parameters()]

    # the plain path: the same chain from the same seed, then autograd on the loss
    plain_negatives = rbm.gibbs(
        v_data if chains is None else chains, 3, torch.Generator().manual_seed(1)
    )
    torch.testing.assert_close(negatives, plain_negatives.detach())
    rbm.zero_grad()
    plain_loss = contrastive_divergence_loss(rbm, v_data, plain_negatives)
    plain_loss.backward()
    for fast_grad, parameter in zip(fast, rbm.parameters(), strict=True):
        torch.testing.assert_close(fast_grad, parameter.grad)


PRODUCTS = ("hidden", "visible", "gradient")


@pytest.mark.parametrize("rng", ["torch", "pcg64"])
@pytest.mark.parametrize("method, k", [("cd", 1), ("pcd", 1), ("cd", 2)])
def test_fast_and_plain_training_agree_for_the_same_seed(method, k, rng):
    train, valid, _ = binary_digits()
    results = []
    for step in ("fused", "loss"):
        rbm = RBM(64, 16, generator=torch.Generator().manual_seed(0)).double()
        config = TrainConfig(method=method, k=k, epochs=3, lr=0.05, step=step, rng=rng)
        trainer = RBMTrainer(rbm, config, seed=5)
        history = trainer.fit(train.double(), valid.double(), progress=False)
        results.append((rbm.weight.detach().clone(), without_timings(history)))
    (w_fast, h_fast), (w_plain, h_plain) = results
    torch.testing.assert_close(w_fast, w_plain, rtol=1e-9, atol=1e-10)
    for a, b in zip(h_fast, h_plain, strict=True):
        assert a.keys() == b.keys()
        assert (a.pop("step"), b.pop("step")) == ("fused", "loss")
        assert a.pop("rng") == b.pop("rng") == rng
        # digits' products are too small to time: the fused step keeps torch.mm
        assert (a.pop("matmul"), b.pop("matmul")) == (dict.fromkeys(PRODUCTS, "mm"), None)
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-7, abs=1e-9)


def test_fast_path_float32_agrees_with_plain_after_one_epoch():
    train, _, _ = binary_digits()
    weights = []
    for step in ("fused", "loss"):
        rbm = RBM(64, 16, generator=torch.Generator().manual_seed(0))
        RBMTrainer(rbm, TrainConfig(epochs=1, lr=0.05, step=step), seed=2).fit(
            train, progress=False
        )
        weights.append(rbm.weight.detach())
    torch.testing.assert_close(weights[0], weights[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype, tolerance", [(torch.bfloat16, 1e-2), (torch.float16, 2e-3)])
@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_mixed_precision_gradient_matches_the_float64_loss_gradient(dtype, tolerance, visible):
    rbm = random_rbm(64, 32, visible=visible, seed=3, scale=0.3).float()
    v_data = binary_digits()[0][:50]
    if visible == "gaussian":
        v_data = v_data + 0.3 * torch.randn(
            v_data.shape, generator=torch.Generator().manual_seed(4)
        )
    negatives = FastCD(rbm, dtype).step(v_data, None, k=2, generator=torch.Generator())
    assert negatives.dtype == torch.float32
    mixed = [p.grad.clone() for p in rbm.parameters()]
    assert all(grad.dtype == torch.float32 for grad in mixed)

    # the oracle: autograd of the loss in float64 at the negatives the step drew
    reference = rbm.double()
    reference.zero_grad()
    contrastive_divergence_loss(reference, v_data.double(), negatives.double()).backward()
    for grad, parameter in zip(mixed, reference.parameters(), strict=True):
        scale = parameter.grad.abs().max().item()  # errors of a few roundings of this size
        torch.testing.assert_close(grad.double(), parameter.grad, rtol=0, atol=tolerance * scale)


@pytest.mark.parametrize("step", ["fused", "loss"])
@pytest.mark.parametrize("autocast", ["bfloat16", "float16"])
def test_mixed_precision_training_stays_closer_than_a_new_seed(step, autocast):
    """The weight change learned in mixed precision points where the full-precision one
    does, closer than the full-precision run with another sampling seed."""
    train, valid, _ = binary_digits()

    def learned(precision, seed):
        rbm = RBM(64, 32, generator=torch.Generator().manual_seed(0))
        start = rbm.weight.detach().clone()
        config = TrainConfig(method="pcd", epochs=8, lr=0.05, step=step, autocast=precision)
        RBMTrainer(rbm, config, seed=seed).fit(train, valid, progress=False)
        assert rbm.weight.dtype == torch.float32
        return (rbm.weight.detach() - start).flatten()

    reference = learned(None, seed=1)
    mixed, reseeded = learned(autocast, seed=1), learned(None, seed=2)
    similarity = torch.nn.functional.cosine_similarity
    assert similarity(reference, mixed, dim=0) > similarity(reference, reseeded, dim=0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("fast", [True, False])
def test_mixed_precision_samples_rare_units_at_their_probability(dtype, fast):
    """Units with P(on) = 1e-4 must be on about 1e-4 of the time; uniform noise drawn in
    bfloat16 is exactly 0 about 2e-3 of the time and would switch them on that often."""
    rbm = RBM(64, 32)
    p = 1e-4
    with torch.no_grad():
        rbm.weight.zero_()
        rbm.hidden_bias.fill_(math.log(p / (1 - p)))
        rbm.visible_bias.fill_(math.log(p / (1 - p)))
    v = torch.zeros(20000, 64)
    generator = torch.Generator().manual_seed(0)
    if fast:
        negatives = FastCD(rbm, dtype).step(v, None, k=1, generator=generator)
    else:
        with torch.autocast("cpu", dtype=dtype), torch.no_grad():
            negatives = rbm.gibbs(v, 1, generator)
    standard_error = math.sqrt(p / negatives.numel())
    assert abs(negatives.float().mean().item() - p) < 5 * standard_error


def test_autocast_names_the_accepted_dtypes():
    with pytest.raises(ValueError, match="autocast must be one of"):
        TrainConfig(autocast="float8")


@pytest.mark.parametrize(
    "method, persist", [("cd", "visible"), ("pcd", "visible"), ("pcd", "hidden")]
)
def test_graphed_step_plumbing_gives_the_eager_numbers_without_cuda(method, persist):
    """The static buffers of the CUDA-graph step, replayed by re-running on the CPU: a
    partial last batch, momentum switch and learning-rate decay included."""
    train, _, _ = binary_digits()
    weights = []
    for graphed in (True, False):
        rbm = RBM(64, 16, generator=torch.Generator().manual_seed(0))
        config = TrainConfig(
            method=method,
            persist=persist,
            epochs=3,
            lr=0.05,
            batch_size=70,
            lr_decay="linear",
            momentum_switch_epoch=1,
        )
        trainer = RBMTrainer(rbm, config, seed=1)
        if graphed:
            trainer.graphed = GraphedCD(
                trainer.fast_cd, trainer.optimizer, config.k, trainer.generator, RerunRecorder()
            )
        trainer.fit(train, progress=False)
        weights.append(rbm.weight.detach())
    assert len(train) % 70 != 0
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)


def test_cuda_graph_is_refused_clearly_without_cuda():
    with pytest.raises(ValueError, match="step 'cuda_graph' needs a CUDA device, got 'cpu'"):
        RBMTrainer(RBM(8, 4), TrainConfig(step="cuda_graph"), device="cpu")


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["cd", "pcd"])
def test_cuda_graph_gives_the_eager_fast_path_numbers(method):
    train, _, _ = binary_digits()
    weights = []
    for graph in (True, False):
        rbm = RBM(64, 16, generator=torch.Generator().manual_seed(0))
        step = "cuda_graph" if graph else "fused"
        config = TrainConfig(method=method, epochs=3, lr=0.05, batch_size=50, step=step)
        RBMTrainer(rbm, config, seed=1, device="cuda").fit(train, progress=False)
        weights.append(rbm.weight.detach().cpu())
    torch.testing.assert_close(weights[0], weights[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("pcd", [False, True])
def test_fused_penalties_equal_autograd_of_the_penalised_loss(visible, pcd):
    """L1 and the sparsity target in closed form = autograd on RBMObjective."""
    rbm = random_rbm(12, 7, visible=visible, seed=3, scale=0.4)
    v_data = torch.rand(9, 12, dtype=torch.float64)
    chains = torch.rand(5, 12, dtype=torch.float64) if pcd else None
    penalties = dict(l1=0.03, sparsity_target=0.1, sparsity_cost=0.7)
    negatives = FastCD(rbm, **penalties).step(v_data, chains, 2, torch.Generator().manual_seed(4))
    fused = [p.grad.clone() for p in rbm.parameters()]
    rbm.zero_grad()
    RBMObjective(rbm, "pcd" if pcd else "cd", **penalties)(v_data, negatives).backward()
    for fused_grad, parameter in zip(fused, rbm.parameters(), strict=True):
        torch.testing.assert_close(fused_grad, parameter.grad)


@pytest.mark.parametrize("step", ["fused", "loss"])
def test_l1_and_sparsity_have_their_effect_on_every_step(step):
    train, _, _ = binary_digits()

    def trained(**options):
        rbm = RBM(64, 16, generator=torch.Generator().manual_seed(0))
        config = TrainConfig(epochs=5, lr=0.05, step=step, weight_decay=0.0, **options)
        RBMTrainer(rbm, config, seed=1).fit(train, progress=False)
        return rbm

    plain, sparse_weights = trained(), trained(l1=1e-2)
    assert sparse_weights.weight.abs().mean() < 0.5 * plain.weight.abs().mean()
    quiet = trained(sparsity_target=0.02, sparsity_cost=2.0)
    with torch.no_grad():
        assert quiet.hidden_probs(train).mean() < 0.5 * plain.hidden_probs(train).mean()
        assert quiet.hidden_probs(train).mean() < 0.06


def test_the_step_is_chosen_once_recorded_and_a_fallback_is_said():
    train, _, _ = binary_digits()
    cpu = torch.device("cpu")
    assert resolve_step(TrainConfig(), cpu) == "fused"
    assert resolve_step(TrainConfig(method="recon"), cpu) == "loss"
    assert resolve_step(TrainConfig(step="loss"), cpu) == "loss"
    assert resolve_step(TrainConfig(), cpu, world_size=2) == "loss"
    with pytest.warns(UserWarning, match="step 'fused' does not apply .*reconstruction"):
        trainer = RBMTrainer(RBM(64, 8), TrainConfig(method="recon", step="fused", epochs=1))
    assert trainer.step == "loss" and trainer.fast_cd is None
    history = trainer.fit(train, progress=False)
    assert [row["step"] for row in history] == ["loss"]
    with pytest.raises(ValueError, match="step 'cuda_graph' cannot run: under DDP"):
        resolve_step(TrainConfig(step="cuda_graph"), torch.device("cuda"), world_size=2)


@pytest.mark.gpu
def test_cuda_graph_with_adam_gives_the_eager_numbers():
    """Adam's step is captured only with capturable=True, which the trainer sets."""
    train, _, _ = binary_digits()
    weights = []
    for step in ("cuda_graph", "fused"):
        rbm = RBM(64, 16, generator=torch.Generator().manual_seed(0))
        config = TrainConfig(optimizer="adam", lr=1e-3, epochs=2, batch_size=50, step=step)
        RBMTrainer(rbm, config, seed=1, device="cuda").fit(train, progress=False)
        weights.append(rbm.weight.detach().cpu())
    torch.testing.assert_close(weights[0], weights[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "name, message",
    [
        ("gpu", "device must be 'auto', 'cpu' or 'cuda"),
        ("cuda:x", "device must be 'auto', 'cpu' or 'cuda"),
        ("cuda:99", "not available|does not exist"),
    ],
)
def test_device_names_are_checked(name, message):
    with pytest.raises(ValueError, match=message):
        resolve_device(name)
