"""What the RBM's and the DBM's partition-function estimators share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor
from tqdm.auto import tqdm

from dbn._utils.checks import check_int

__all__ = [
    "AISResult",
    "MAX_ENUMERATED_UNITS",
    "anneal",
    "base_visible_bias",
    "beta_schedule",
    "binary_states",
    "summarise_log_weights",
]

MAX_ENUMERATED_UNITS = 25


def binary_states(
    n_units: int, begin: int, end: int, device: torch.device, dtype: torch.dtype
) -> Tensor:
    """Rows ``begin..end-1`` of the table of all 2^n_units binary vectors: (end-begin, n)."""
    codes = torch.arange(begin, end, device=device)
    bits = torch.arange(n_units, device=device)
    return ((codes.unsqueeze(1) >> bits) & 1).to(dtype)


@dataclass(frozen=True)
class AISResult:
    """An AIS estimate of log Z with the interval log(Ẑ ± 3σ̂) of Salakhutdinov & Murray.

    Attributes
    ----------
    log_z : float
    log_z_low, log_z_high : float
        ``log_z_low`` is ``-inf`` when Ẑ - 3σ̂ <= 0 (too few runs to bound it below).
    log_weights : Tensor of shape (n_runs,)
        The log importance weights, for diagnostics.

    Examples
    --------
    >>> import torch, dbn
    >>> g = torch.Generator().manual_seed(0)
    >>> result = dbn.ais.log_partition(dbn.RBM(8, 4), n_betas=100, generator=g)
    >>> result.log_z_low <= result.log_z <= result.log_z_high
    True
    >>> repr(result).startswith("AISResult(log_z=")
    True
    """

    log_z: float
    log_z_low: float
    log_z_high: float
    log_weights: Tensor

    def __repr__(self) -> str:
        # the weights themselves are for diagnostics: a count, not a hundred numbers
        return (
            f"AISResult(log_z={self.log_z:.4f}, log_z_low={self.log_z_low:.4f}, "
            f"log_z_high={self.log_z_high:.4f}, n_runs={len(self.log_weights)})"
        )


def summarise_log_weights(log_w: Tensor, log_z_base: float) -> AISResult:
    """log Z from AIS log importance weights (n_runs,), with the log(Ẑ ± 3σ̂) interval."""
    n_runs = len(log_w)
    log_mean_w = (torch.logsumexp(log_w, 0) - math.log(n_runs)).item()
    shift = log_w.max()
    scaled = torch.exp(log_w - shift)
    std_of_mean = (scaled.std() / math.sqrt(n_runs)).item()
    mean_scaled = scaled.mean().item()

    def log_shifted(value: float) -> float:
        return math.log(value) + shift.item() + log_z_base if value > 0 else -math.inf

    return AISResult(
        log_z=log_mean_w + log_z_base,
        log_z_low=log_shifted(mean_scaled - 3 * std_of_mean),
        log_z_high=log_shifted(mean_scaled + 3 * std_of_mean),
        log_weights=log_w.cpu(),
    )


def beta_schedule(n_betas: int) -> Tensor:
    """Inverse temperatures from 0 to 1, dense near 1 where the distributions change most.

    The proportions follow Salakhutdinov & Murray (2008): 1/15 of the steps on [0, 0.5),
    4/15 on [0.5, 0.9) and 10/15 on [0.9, 1] (their 1,000 / 4,000 / 10,000).

    Parameters
    ----------
    n_betas : int
        Number of inverse temperatures including both ends, at least 3.

    Returns
    -------
    Tensor of shape (n_betas,), float64

    Examples
    --------
    >>> from dbn.ais import beta_schedule
    >>> betas = beta_schedule(100)
    >>> betas.shape, betas[0].item(), betas[-1].item()
    (torch.Size([100]), 0.0, 1.0)
    """
    check_int("n_betas", n_betas, minimum=3)
    first = max(1, round(n_betas / 15))
    second = max(1, round(4 * n_betas / 15))
    third = n_betas - first - second
    return torch.cat(
        [
            torch.linspace(0.0, 0.5, first + 1, dtype=torch.float64)[:-1],
            torch.linspace(0.5, 0.9, second + 1, dtype=torch.float64)[:-1],
            torch.linspace(0.9, 1.0, third, dtype=torch.float64),
        ]
    )


def base_visible_bias(visible_bias: Tensor, data: Tensor | None, visible: str) -> Tensor:
    """Visible biases of the base-rate model: fitted to the data's means, else zeros."""
    if data is None:
        return torch.zeros_like(visible_bias)
    mean = data.to(visible_bias).mean(dim=0)
    if visible == "gaussian":
        return mean
    # Smoothed as in Salakhutdinov's code so that constant pixels give finite biases.
    p = (mean * len(data) + 0.05) / (len(data) + 0.1)
    return torch.log(p) - torch.log1p(-p)


class AnnealingPath(Protocol):
    """Intermediate distributions from a base model with known log Z to a model, and a
    transition that leaves each invariant."""

    log_z_base: float

    def sample_base(self, n: int, generator: torch.Generator | None) -> Any:
        """n exact samples of the base model."""

    def step(
        self, state: Any, beta: float, previous: float, generator: torch.Generator | None
    ) -> tuple[Tensor, Any]:
        """log p*_β - log p*_previous at ``state`` (n,), and the state after one
        transition at β."""


def anneal(
    path: AnnealingPath,
    n_betas: int,
    n_runs: int,
    generator: torch.Generator | None,
    device: torch.device,
    progress: bool = False,
) -> AISResult:
    """Annealed importance sampling along ``path``: ``n_runs`` runs through
    ``beta_schedule(n_betas)``, summarised as log Z and its interval; ``progress``
    shows a bar over the temperatures."""
    check_int("n_runs", n_runs, minimum=2)
    betas = beta_schedule(n_betas).tolist()
    state = path.sample_base(n_runs, generator)
    log_w = torch.zeros(n_runs, dtype=torch.float64, device=device)
    steps = zip(betas[:-1], betas[1:], strict=True)
    bar = tqdm(steps, total=len(betas) - 1, desc="AIS", unit="β", disable=not progress)
    for previous, beta in bar:
        increment, state = path.step(state, beta, previous, generator)
        log_w += increment
    return summarise_log_weights(log_w, path.log_z_base)
