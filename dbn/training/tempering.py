"""Parallel tempering: persistent chains at several temperatures that trade states.

Desjardins, Courville, Bengio, Vincent & Delalleau (2010), "Tempered Markov chain Monte
Carlo for training of restricted Boltzmann machines"; Cho, Raiko & Ilin (2010),
"Parallel tempering is efficient for learning restricted Boltzmann machines". The chain
at inverse temperature β samples p_β(v, h) ∝ exp(-β E(v, h)); hot chains (small β) move
freely between modes, and Metropolis swaps between neighbouring temperatures carry
their states down to the β = 1 chain, whose states are the negative phase.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dbn._utils.checks import check_int
from dbn._utils.rng import Stream, bernoulli, normal_, rand
from dbn.models.rbm import RBM

__all__ = ["ParallelTempering", "tempered_free_energy"]


def tempered_free_energy(rbm: RBM, v: Tensor, beta: Tensor) -> Tensor:
    """Free energy of ``v`` under p_β(v) = Σ_h exp(-β E(v, h)) / Z_β.

    Parameters
    ----------
    rbm : RBM
    v : Tensor of shape (..., n_visible)
    beta : Tensor broadcastable to ``v.shape[:-1]``

    Returns
    -------
    Tensor of shape ``v.shape[:-1]``
        ``-β bᵀv - Σ_j softplus(β (c_j + W_j v))`` for Bernoulli visible units, with
        ``β ‖v - b‖² / 2`` in place of ``-β bᵀv`` for Gaussian ones.
    """
    hidden = F.softplus(beta.unsqueeze(-1) * F.linear(v, rbm.weight, rbm.hidden_bias)).sum(-1)
    if rbm.visible == "gaussian":
        return beta * 0.5 * (v - rbm.visible_bias).pow(2).sum(-1) - hidden
    return -beta * (v @ rbm.visible_bias) - hidden


class ParallelTempering:
    """Persistent chains at ``n_temperatures`` inverse temperatures from 1 down to
    ``min_beta`` (evenly spaced), with Metropolis swaps between neighbours.

    Each temperature runs ``n_chains`` chains; chain ``i`` at one temperature may swap
    its state with chain ``i`` at the next. Swaps alternate between the even pairs
    (β_0, β_1), (β_2, β_3), ... and the odd ones, so that each pair is proposed every
    other step and no two proposals share a chain.

    Parameters
    ----------
    rbm : RBM
    start : Tensor of shape (n_chains, n_visible)
        Every temperature's chains begin here (e.g. training examples).
    n_temperatures : int
        At least 2; index 0 is β = 1.
    min_beta : float
        The hottest inverse temperature, in [0, 1); Gaussian visible units need it
        above 0 (their conditional variance is 1/β).

    Examples
    --------
    >>> import torch, dbn
    >>> from dbn.training import ParallelTempering
    >>> rbm = dbn.RBM(64, 16)
    >>> chains = ParallelTempering(rbm, torch.rand(10, 64).round(), n_temperatures=5)
    >>> chains.betas.tolist()
    [1.0, 0.75, 0.5, 0.25, 0.0]
    """

    def __init__(self, rbm: RBM, start: Tensor, n_temperatures: int, min_beta: float = 0.0) -> None:
        check_int("n_temperatures", n_temperatures, minimum=2)
        if not 0.0 <= min_beta < 1.0:
            raise ValueError(f"min_beta must lie in [0, 1), got {min_beta!r}")
        if rbm.visible == "gaussian" and min_beta <= 0:
            raise ValueError("parallel tempering with Gaussian visible units needs min_beta > 0")
        self.rbm = rbm
        self.betas = torch.linspace(
            1.0, min_beta, n_temperatures, device=start.device, dtype=start.dtype
        )
        self.visible = start.unsqueeze(0).repeat(n_temperatures, 1, 1)
        self.parity = 0
        self.proposed = 0
        self.accepted = 0

    @torch.no_grad()
    def _gibbs(self, generator: Stream | None) -> None:
        """One Gibbs sweep (h given v, then v given h) at every temperature at once."""
        rbm, beta = self.rbm, self.betas.view(-1, 1, 1)
        hidden_probs = torch.sigmoid(beta * F.linear(self.visible, rbm.weight, rbm.hidden_bias))
        hidden = bernoulli(hidden_probs, generator)
        mean = hidden @ rbm.weight + rbm.visible_bias
        if rbm.visible == "gaussian":
            noise = normal_(torch.empty_like(mean), generator)
            self.visible = mean + noise / beta.sqrt()
        else:
            self.visible = bernoulli(torch.sigmoid(beta * mean), generator)

    def log_swap_ratio(self, pair: int) -> Tensor:
        """log of the Metropolis ratio for exchanging the states of temperatures
        ``pair`` and ``pair + 1``, per chain.

        Returns
        -------
        Tensor of shape (n_chains,)
            ``log p_βa(v_b) + log p_βb(v_a) - log p_βa(v_a) - log p_βb(v_b)``; the
            partition functions cancel.
        """
        cold, hot = self.visible[pair], self.visible[pair + 1]
        beta_cold, beta_hot = self.betas[pair], self.betas[pair + 1]
        kept = tempered_free_energy(self.rbm, cold, beta_cold) + tempered_free_energy(
            self.rbm, hot, beta_hot
        )
        exchanged = tempered_free_energy(self.rbm, hot, beta_cold) + tempered_free_energy(
            self.rbm, cold, beta_hot
        )
        return kept - exchanged

    @torch.no_grad()
    def _swap(self, generator: Stream | None) -> None:
        for pair in range(self.parity, len(self.betas) - 1, 2):
            log_ratio = self.log_swap_ratio(pair)
            uniform = rand(log_ratio.shape, generator, log_ratio.device, torch.float32).to(
                log_ratio.dtype
            )
            accept = (uniform.log() < log_ratio).unsqueeze(-1)
            cold, hot = self.visible[pair].clone(), self.visible[pair + 1].clone()
            self.visible[pair] = torch.where(accept, hot, cold)
            self.visible[pair + 1] = torch.where(accept, cold, hot)
            self.proposed += accept.numel()
            self.accepted += int(accept.sum())
        self.parity = 1 - self.parity

    def sample(self, k: int, generator: Stream | None = None) -> Tensor:
        """``k`` Gibbs sweeps at every temperature, then one round of swaps.

        Returns
        -------
        Tensor of shape (n_chains, n_visible)
            The β = 1 chains' visible states (a copy).
        """
        for _ in range(k):
            self._gibbs(generator)
        self._swap(generator)
        return self.visible[0].clone()

    def swap_rate(self) -> float:
        """Share of the swaps accepted since the last call (NaN before any)."""
        rate = self.accepted / self.proposed if self.proposed else float("nan")
        self.proposed = self.accepted = 0
        return rate

    def state_dict(self) -> dict[str, Any]:
        """The chains' states and the swap parity, to checkpoint."""
        return {"visible": self.visible.cpu(), "parity": self.parity}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from what :meth:`state_dict` returned."""
        self.visible = state["visible"].to(self.betas.device, self.betas.dtype)
        self.parity = int(state["parity"])
