"""Cheap per-epoch signals of how an RBM is training.

None of these is the likelihood (see :mod:`dbn.ais` for that); they are what Hinton's
practical guide suggests watching while training runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from dbn.models.rbm import RBM

__all__ = [
    "epoch_metrics",
    "layer_reconstruction_errors",
    "pseudo_likelihood",
    "reconstruction_error",
]


@torch.no_grad()
def reconstruction_error(rbm: RBM, v: Tensor) -> Tensor:
    """Squared error of the mean-field reconstruction, summed over units, mean over examples.

    Parameters
    ----------
    rbm : RBM
    v : Tensor of shape (batch, n_visible)

    Returns
    -------
    Tensor of shape ()
    """
    return (rbm.reconstruct(v) - v).pow(2).sum(dim=1).mean()


@torch.no_grad()
def layer_reconstruction_errors(layers: Sequence[RBM], v: Tensor) -> list[float]:
    """:func:`reconstruction_error` of each RBM of a stack on the data passed up to it.

    Parameters
    ----------
    layers : sequence of RBM
        From the data up (``DBN.layers``).
    v : Tensor of shape (batch, layers[0].n_visible)

    Returns
    -------
    list of float
        One value per layer: layer ``i`` reconstructs the hidden probabilities of
        layer ``i - 1`` (the data for ``i = 0``).
    """
    errors = []
    for rbm in layers:
        errors.append(reconstruction_error(rbm, v).item())
        v = rbm.hidden_probs(v)
    return errors


@torch.no_grad()
def pseudo_likelihood(rbm: RBM, v: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Stochastic pseudo-log-likelihood, as scikit-learn's ``BernoulliRBM.score_samples``.

    For each example one randomly chosen unit i is flipped, and the estimate is
    ``n_visible * log sigmoid(F(v with v_i flipped) - F(v))``.

    Parameters
    ----------
    rbm : RBM
        With Bernoulli visible units.
    v : Tensor of shape (batch, n_visible)
    generator : torch.Generator, optional
        Chooses the flipped units.

    Returns
    -------
    Tensor of shape (batch,)
    """
    if rbm.visible != "bernoulli":
        raise ValueError("pseudo-likelihood is defined here for Bernoulli visible units only")
    rows = torch.arange(v.shape[0], device=v.device)
    columns = torch.randint(v.shape[1], (v.shape[0],), generator=generator, device=v.device)
    flipped = v.clone()
    flipped[rows, columns] = 1 - flipped[rows, columns]
    return v.shape[1] * F.logsigmoid(rbm.free_energy(flipped) - rbm.free_energy(v))


@torch.no_grad()
def epoch_metrics(rbm: RBM, train: Tensor, valid: Tensor | None, seed: int) -> dict:
    """Metrics for one epoch on fixed monitoring subsets, read back to the host once.

    Parameters
    ----------
    rbm : RBM
    train : Tensor of shape (n, n_visible)
        A subset of the training data.
    valid : Tensor of shape (m, n_visible), optional
        A subset of held-out data; adds ``free_energy_gap`` = mean F(valid) - mean F(train).
        It grows when the model starts to overfit.
    seed : int
        Seeds a private generator, so monitoring never changes the training's random stream.

    Returns
    -------
    dict of str to float
    """
    generator = torch.Generator(train.device).manual_seed(seed)
    values = {"recon_error": reconstruction_error(rbm, train)}
    if rbm.visible == "bernoulli":
        values["pseudo_likelihood"] = pseudo_likelihood(rbm, train, generator).mean()
    if valid is not None:
        gap = rbm.free_energy(valid).mean() - rbm.free_energy(train[: len(valid)]).mean()
        values["free_energy_gap"] = gap
    stacked = torch.stack(list(values.values())).tolist()
    return dict(zip(values, stacked, strict=True))
