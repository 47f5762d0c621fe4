"""Training objectives for one RBM, written as losses so any ``torch.optim`` optimiser works.

CD/PCD (Hinton 2002; Tieleman 2008). With negative samples ``v_model`` held fixed,
the gradient of ::

    F(v_data).mean() - F(v_model).mean()

with respect to W is ⟨h vᵀ⟩_model - ⟨h vᵀ⟩_data (h taken as p(h | v)), the negative of
the contrastive-divergence update; a gradient *descent* step is the CD update.

Reconstruction (a tied-weight autoencoder on the same parameters; Bengio et al. 2007,
Vincent et al. 2008 for the denoising variant): encode ``h = sigmoid(W ṽ + b_h)`` from
a possibly corrupted input ``ṽ``, decode ``W ᵀh + b_v``, and score the clean input with
binary cross-entropy (Bernoulli units) or half the squared error (Gaussian units).

Regularisers of Hinton's practical guide (2010), added to either objective:
an L1 weight cost ``l1 · Σ|W|`` (section 10) and a sparsity target (section 11), the
cross-entropy between a target activation ``p`` and each hidden unit's probability
``q`` on the data, whose gradient with respect to the unit's total input is ``q - p``.
The L2 weight cost is the optimiser's ``weight_decay``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dbn._utils.rng import Stream, rand
from dbn.models.rbm import RBM

__all__ = [
    "RBMObjective",
    "contrastive_divergence_loss",
    "mask_corrupt",
    "reconstruction_loss",
    "sparsity_penalty",
    "weight_l1_penalty",
]


def contrastive_divergence_loss(rbm: RBM, v_data: Tensor, v_model: Tensor) -> Tensor:
    """Free-energy difference whose gradient is the (persistent) CD update, negated.

    Parameters
    ----------
    rbm : RBM
    v_data : Tensor of shape (batch, n_visible)
        Training examples (the positive phase).
    v_model : Tensor of shape (n_chains, n_visible)
        Negative samples from Gibbs chains; gradients do not flow into them.

    Returns
    -------
    Tensor of shape ()
    """
    return rbm.free_energy(v_data).mean() - rbm.free_energy(v_model.detach()).mean()


def mask_corrupt(v: Tensor, level: float, generator: Stream | None = None) -> Tensor:
    """Masking noise: set each input to zero with probability ``level`` (Vincent et al. 2008).

    Parameters
    ----------
    v : Tensor of shape (batch, n_visible)
    level : float in [0, 1)
    generator : torch.Generator, optional

    Returns
    -------
    Tensor of shape (batch, n_visible)
    """
    if level == 0:
        return v
    keep = rand(v.shape, generator, v.device, v.dtype) >= level
    return v * keep


def reconstruction_loss(rbm: RBM, v: Tensor, v_input: Tensor | None = None) -> Tensor:
    """Tied-weight autoencoder loss of the RBM's parameters, mean over the batch.

    Parameters
    ----------
    rbm : RBM
    v : Tensor of shape (batch, n_visible)
        Clean targets.
    v_input : Tensor of shape (batch, n_visible), optional
        Encoder input (a corrupted copy of ``v`` for denoising); defaults to ``v``.

    Returns
    -------
    Tensor of shape ()
        Summed over units, averaged over the batch: cross-entropy in nats for
        Bernoulli units, ½‖v - v̂‖² for Gaussian ones.
    """
    hidden = rbm.hidden_probs(v if v_input is None else v_input)
    decoded = hidden @ rbm.weight + rbm.visible_bias
    if rbm.visible == "bernoulli":
        per_unit = F.binary_cross_entropy_with_logits(decoded, v, reduction="none")
    else:
        per_unit = 0.5 * (decoded - v).pow(2)
    return per_unit.sum(dim=1).mean()


def weight_l1_penalty(rbm: RBM) -> Tensor:
    """Σ|W| over the weights (not the biases); its gradient is sign(W).

    Returns
    -------
    Tensor of shape ()
    """
    return rbm.weight.abs().sum()


def sparsity_penalty(rbm: RBM, v: Tensor, target: float) -> Tensor:
    """Cross-entropy between ``target`` and each hidden probability, summed over hidden
    units and averaged over the batch (Hinton 2010, section 11).

    Parameters
    ----------
    rbm : RBM
    v : Tensor of shape (batch, n_visible)
        Training data.
    target : float in (0, 1)
        The desired probability of each hidden unit being on.

    Returns
    -------
    Tensor of shape ()
        Its gradient with respect to the hidden units' total input is
        ``(p(h|v) - target) / batch``.
    """
    logits = rbm.hidden_logits(v)
    targets = torch.full_like(logits, target)
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / v.shape[0]


class RBMObjective(nn.Module):
    """The training loss of one RBM as a module (so that DistributedDataParallel can wrap
    it): CD or reconstruction, plus the configured penalties.

    Parameters
    ----------
    rbm : RBM
    method : {"cd", "pcd", "recon"}
    l1 : float
        Weight of :func:`weight_l1_penalty`.
    sparsity_target : float, optional
        Target of :func:`sparsity_penalty`; no sparsity penalty when None.
    sparsity_cost : float
        Weight of :func:`sparsity_penalty`.

    Examples
    --------
    >>> import torch, dbn
    >>> from dbn.training import RBMObjective
    >>> rbm = dbn.RBM(64, 16)
    >>> objective = RBMObjective(rbm, "cd", l1=1e-4)
    >>> v = dbn.load_digits()["train"].x[:100]
    >>> loss = objective(v, rbm.gibbs(v, k=1).detach())  # its gradient is the CD-1 update
    >>> loss.backward()
    >>> rbm.weight.grad.shape
    torch.Size([16, 64])
    """

    def __init__(
        self,
        rbm: RBM,
        method: str,
        l1: float = 0.0,
        sparsity_target: float | None = None,
        sparsity_cost: float = 0.0,
    ) -> None:
        super().__init__()
        self.rbm = rbm
        self.method = method
        self.l1 = l1
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost

    def forward(self, batch: Tensor, other: Tensor) -> Tensor:
        """The loss of ``batch`` against negatives ``other`` (CD), or of ``batch`` encoded
        from its corrupted copy ``other`` (recon), plus the penalties.

        Parameters
        ----------
        batch : Tensor of shape (batch, n_visible)
        other : Tensor of shape (n_chains, n_visible) or (batch, n_visible)

        Returns
        -------
        Tensor of shape ()
        """
        if self.method == "recon":
            loss = reconstruction_loss(self.rbm, batch, other)
        else:
            loss = contrastive_divergence_loss(self.rbm, batch, other)
        if self.l1 > 0:
            loss = loss + self.l1 * weight_l1_penalty(self.rbm)
        if self.sparsity_target is not None and self.sparsity_cost > 0:
            penalty = sparsity_penalty(self.rbm, batch, self.sparsity_target)
            loss = loss + self.sparsity_cost * penalty
        return loss
