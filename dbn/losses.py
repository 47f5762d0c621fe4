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
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from dbn.rbm import RBM

__all__ = ["contrastive_divergence_loss", "reconstruction_loss", "mask_corrupt"]


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


def mask_corrupt(v: Tensor, level: float, generator: torch.Generator | None = None) -> Tensor:
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
    keep = torch.rand(v.shape, generator=generator, device=v.device, dtype=v.dtype) >= level
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
