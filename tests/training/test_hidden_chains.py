"""PCD with chains kept as hidden states (``TrainConfig(persist="hidden")``): the fused
step against autograd and against scikit-learn's ``BernoulliRBM``, which runs this
algorithm; the trainer's plumbing (resuming: test_rbm_trainer.py; CUDA-graph buffers:
test_fused.py)."""

import numpy as np
import pytest
import torch
from helpers import binary_digits, random_rbm
from sklearn.neural_network import BernoulliRBM

from dbn import RBM, TrainConfig
from dbn.training._fused import FastCD
from dbn.training.objectives import contrastive_divergence_loss
from dbn.training.rbm_trainer import RBMTrainer


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("k", [1, 3])
def test_the_fused_step_equals_autograd_from_the_same_hidden_states(visible, k):
    rbm = random_rbm(12, 7, visible=visible, seed=0, scale=0.4)
    v_data = (torch.rand(9, 12, dtype=torch.float64) > 0.5).double()
    hidden = (torch.rand(5, 7, dtype=torch.float64) > 0.5).double()
    kept = FastCD(rbm, persist="hidden").step(v_data, hidden, k, torch.Generator().manual_seed(1))
    fast = [p.grad.clone() for p in rbm.parameters()]

    # the plain path: down from the kept states, k - 1 full steps, the next hidden states
    generator = torch.Generator().manual_seed(1)
    negatives = rbm.sample_visible(hidden, generator)
    if k > 1:
        negatives = rbm.gibbs(negatives, k - 1, generator)
    torch.testing.assert_close(kept, rbm.sample_hidden(negatives, generator).detach())
    rbm.zero_grad()
    contrastive_divergence_loss(rbm, v_data, negatives.detach()).backward()
    for fast_grad, parameter in zip(fast, rbm.parameters(), strict=True):
        torch.testing.assert_close(fast_grad, parameter.grad)


class _TorchUniforms:
    """A stand-in for scikit-learn's RandomState whose ``uniform`` hands out the numbers
    a torch generator draws, so that both implementations sample alike."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def uniform(self, size):
        return torch.rand(size, generator=self.generator, dtype=torch.float64).numpy()


def test_three_steps_equal_scikit_learns_bernoulli_rbm_given_the_same_uniforms():
    n_batch, lr = 10, 0.1
    rbm = random_rbm(64, 16, seed=2, scale=0.3)
    chains = (torch.rand(n_batch, 16, generator=torch.Generator().manual_seed(3)) > 0.5).double()
    reference = BernoulliRBM(n_components=16, learning_rate=lr, batch_size=n_batch)
    reference.components_ = rbm.weight.detach().numpy().copy()
    reference.intercept_hidden_ = rbm.hidden_bias.detach().numpy().copy()
    reference.intercept_visible_ = rbm.visible_bias.detach().numpy().copy()
    reference.h_samples_ = chains.numpy().copy()
    fast, optimizer = FastCD(rbm, persist="hidden"), torch.optim.SGD(rbm.parameters(), lr=lr)
    ours, theirs = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    train = binary_digits()[0].double()
    for step in range(3):
        batch = train[step * n_batch : (step + 1) * n_batch]
        chains = fast.step(batch, chains, 1, ours)
        optimizer.step()
        reference._fit(batch.numpy(), _TorchUniforms(theirs))
        np.testing.assert_array_equal(chains.numpy(), reference.h_samples_)
        np.testing.assert_allclose(rbm.weight.detach().numpy(), reference.components_, rtol=1e-12)
        np.testing.assert_allclose(
            rbm.visible_bias.detach().numpy(), reference.intercept_visible_, rtol=1e-12
        )
        np.testing.assert_allclose(
            rbm.hidden_bias.detach().numpy(), reference.intercept_hidden_, rtol=1e-12
        )


@pytest.mark.parametrize("k", [1, 2])
def test_fused_and_loss_training_agree_for_the_same_seed(k):
    train, valid, _ = binary_digits()
    weights = []
    for step in ("fused", "loss"):
        rbm = RBM(64, 16, generator=torch.Generator().manual_seed(0)).double()
        config = TrainConfig(method="pcd", persist="hidden", k=k, epochs=3, lr=0.05, step=step)
        trainer = RBMTrainer(rbm, config, seed=5)
        trainer.fit(train.double(), valid.double(), progress=False)
        assert trainer.chains.shape == (config.batch_size, 16)
        assert set(trainer.chains.unique().tolist()) <= {0.0, 1.0}
        weights.append(rbm.weight.detach().clone())
    torch.testing.assert_close(weights[0], weights[1], rtol=1e-9, atol=1e-10)


def test_hidden_chains_are_refused_for_methods_without_chains_to_keep():
    with pytest.raises(ValueError, match="persist 'hidden' applies to method 'pcd', not 'cd'"):
        TrainConfig(method="cd", persist="hidden")
    with pytest.raises(ValueError, match="persist must be one of"):
        TrainConfig(method="pcd", persist="both")
