"""The partition function of an RBM: exactly by enumeration, or by annealed importance sampling.

AIS follows Salakhutdinov & Murray (2008), "On the Quantitative Analysis of Deep Belief
Networks". It anneals from a base-rate model A (no weights; visible biases fitted to the
data, so its samples look like the data's average) to the RBM B through the
intermediate distributions ::

    p*_β(v) = exp(-(1 - β) E_A(v) - β E_B_vis(v)) · Π_j (1 + exp(β (b_h_j + W_j·v)))

whose β = 0 end has a known partition function
(Bernoulli: Π_i (1 + e^{b_A,i}) · 2^{n_hidden}; Gaussian: (2π)^{n_visible/2} · 2^{n_hidden})
and whose β = 1 end is the RBM's unnormalised marginal exp(-F(v)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dbn.rbm import RBM, check_visible_data
from dbn.validation import check_int

__all__ = [
    "AISResult",
    "exact_log_partition",
    "log_partition",
    "log_likelihood",
    "beta_schedule",
    "MAX_ENUMERATED_UNITS",
]

MAX_ENUMERATED_UNITS = 25


def _binary_states(
    n_units: int, begin: int, end: int, device: torch.device, dtype: torch.dtype
) -> Tensor:
    """Rows ``begin..end-1`` of the table of all 2^n_units binary vectors: (end-begin, n)."""
    codes = torch.arange(begin, end, device=device)
    bits = torch.arange(n_units, device=device)
    return ((codes.unsqueeze(1) >> bits) & 1).to(dtype)


@torch.no_grad()
def exact_log_partition(
    rbm: RBM, enumerate_layer: str = "auto", chunk_size: int = 1 << 14
) -> float:
    """log Z of a small RBM by summing over every state of one layer.

    Parameters
    ----------
    rbm : RBM
    enumerate_layer : {"auto", "hidden", "visible"}
        Which layer to enumerate; ``"auto"`` takes the smaller one (always the hidden
        layer for Gaussian visible units, whose states cannot be listed).
    chunk_size : int
        States evaluated at a time, which bounds memory.

    Returns
    -------
    float
        log Z in nats (computed in float64).

    Raises
    ------
    ValueError
        If the enumerated layer has more than ``MAX_ENUMERATED_UNITS`` units.
    """
    if enumerate_layer not in ("auto", "hidden", "visible"):
        raise ValueError(
            f"enumerate_layer must be 'auto', 'hidden' or 'visible', got {enumerate_layer!r}"
        )
    if enumerate_layer == "auto":
        small_visible = rbm.visible == "bernoulli" and rbm.n_visible < rbm.n_hidden
        enumerate_layer = "visible" if small_visible else "hidden"
    if enumerate_layer == "visible" and rbm.visible != "bernoulli":
        raise ValueError("cannot enumerate Gaussian visible units; enumerate the hidden layer")
    n_units = rbm.n_hidden if enumerate_layer == "hidden" else rbm.n_visible
    if n_units > MAX_ENUMERATED_UNITS:
        raise ValueError(
            f"exact log Z would enumerate 2^{n_units} states of the {enumerate_layer} layer; "
            f"it is limited to {MAX_ENUMERATED_UNITS} units. Use dbn.ais.log_partition (AIS)."
        )
    weight = rbm.weight.double()
    hidden_bias, visible_bias = rbm.hidden_bias.double(), rbm.visible_bias.double()
    partial_sums = []
    for begin in range(0, 1 << n_units, chunk_size):
        end = min(begin + chunk_size, 1 << n_units)
        states = _binary_states(n_units, begin, end, weight.device, torch.float64)
        if enumerate_layer == "visible":
            log_terms = states @ visible_bias + F.softplus(states @ weight.T + hidden_bias).sum(1)
        else:
            visible_input = states @ weight + visible_bias  # (states, n_visible)
            log_terms = states @ hidden_bias
            if rbm.visible == "bernoulli":
                log_terms = log_terms + F.softplus(visible_input).sum(1)
            else:
                # ∫ exp(-½‖v - b_v‖² + hᵀW v) dv = (2π)^{n/2} exp(½‖b_v + Wᵀh‖² - ½‖b_v‖²)
                log_terms = log_terms + 0.5 * (
                    visible_input.pow(2).sum(1) - visible_bias @ visible_bias
                )
        partial_sums.append(torch.logsumexp(log_terms, dim=0))
    log_z = torch.logsumexp(torch.stack(partial_sums), dim=0).item()
    if rbm.visible == "gaussian":
        log_z += 0.5 * rbm.n_visible * math.log(2 * math.pi)
    return log_z


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
    """

    log_z: float
    log_z_low: float
    log_z_high: float
    log_weights: Tensor


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


def _base_visible_bias(rbm: RBM, data: Tensor | None) -> Tensor:
    """Visible biases of the base-rate model: fitted to the data's means, else zeros."""
    if data is None:
        return torch.zeros_like(rbm.visible_bias)
    mean = data.to(rbm.visible_bias).mean(dim=0)
    if rbm.visible == "gaussian":
        return mean
    # Smoothed as in Salakhutdinov's code so that constant pixels give finite biases.
    p = (mean * len(data) + 0.05) / (len(data) + 0.1)
    return torch.log(p) - torch.log1p(-p)


@torch.no_grad()
def log_partition(
    rbm: RBM,
    data: Tensor | None = None,
    n_betas: int = 15000,
    n_runs: int = 100,
    generator: torch.Generator | None = None,
) -> AISResult:
    """Estimate log Z by annealed importance sampling.

    Parameters
    ----------
    rbm : RBM
    data : Tensor of shape (n_samples, n_visible), optional
        Training data that fits the base-rate model (strongly recommended: a base model
        close to the data makes the estimate far more accurate).
    n_betas : int
        Number of intermediate distributions (the paper uses 14,500–15,000).
    n_runs : int
        Independent annealing runs (the paper uses 100).
    generator : torch.Generator, optional
        On the RBM's device.

    Returns
    -------
    AISResult
    """
    check_int("n_runs", n_runs, minimum=2)
    if data is not None:
        check_visible_data(data, rbm.n_visible, rbm.visible)
    weight, hidden_bias, visible_bias = rbm.weight, rbm.hidden_bias, rbm.visible_bias
    base_bias = _base_visible_bias(rbm, data)
    betas = beta_schedule(n_betas).tolist()
    gaussian = rbm.visible == "gaussian"

    def sample_base() -> Tensor:
        shape = (n_runs, rbm.n_visible)
        if gaussian:
            noise = torch.randn(
                shape, generator=generator, device=weight.device, dtype=weight.dtype
            )
            return base_bias + noise
        probs = torch.sigmoid(base_bias).expand(shape)
        return torch.bernoulli(probs, generator=generator)

    def visible_log_factor(v: Tensor, beta: float) -> Tensor:
        """-(1-β) E_A(v) - β E_B_vis(v): (n_runs,)."""
        if gaussian:
            to_base = (v - base_bias).pow(2).sum(1)
            to_model = (v - visible_bias).pow(2).sum(1)
            return -0.5 * ((1 - beta) * to_base + beta * to_model)
        return (1 - beta) * (v @ base_bias) + beta * (v @ visible_bias)

    v = sample_base()
    log_w = torch.zeros(n_runs, dtype=torch.float64, device=weight.device)
    for previous, beta in zip(betas[:-1], betas[1:], strict=True):
        hidden_input = F.linear(v, weight, hidden_bias)
        # log p*_β(v) - log p*_{β_prev}(v), the importance-weight increment
        increment = visible_log_factor(v, beta) - visible_log_factor(v, previous)
        increment += (F.softplus(beta * hidden_input) - F.softplus(previous * hidden_input)).sum(1)
        log_w += increment.double()
        # one Gibbs transition that leaves p_β invariant
        h = torch.bernoulli(torch.sigmoid(beta * hidden_input), generator=generator)
        visible_input = (1 - beta) * base_bias + beta * (h @ weight + visible_bias)
        if gaussian:
            noise = torch.randn(v.shape, generator=generator, device=v.device, dtype=v.dtype)
            v = visible_input + noise
        else:
            v = torch.bernoulli(torch.sigmoid(visible_input), generator=generator)

    if gaussian:
        log_z_base = 0.5 * rbm.n_visible * math.log(2 * math.pi)
    else:
        log_z_base = F.softplus(base_bias.double()).sum().item()
    log_z_base += rbm.n_hidden * math.log(2)

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


@torch.no_grad()
def log_likelihood(
    rbm: RBM,
    data: Tensor,
    log_z: float | None = None,
    train_data: Tensor | None = None,
    **ais_options: Any,
) -> float:
    """Mean log-probability of ``data`` under the RBM, in nats per example.

    Parameters
    ----------
    rbm : RBM
    data : Tensor of shape (n_samples, n_visible)
        The examples to score (e.g. the test set).
    log_z : float, optional
        A known log Z (e.g. from :func:`exact_log_partition`); estimated by
        :func:`log_partition` with ``ais_options`` when absent.
    train_data : Tensor of shape (n_train, n_visible), optional
        Fits AIS's base-rate model; never the data being scored.

    Returns
    -------
    float
        ``mean(-F(v)) - log Z``.
    """
    check_visible_data(data, rbm.n_visible, rbm.visible)
    if log_z is None:
        log_z = log_partition(rbm, train_data, **ais_options).log_z
    data = data.to(rbm.weight)
    chunks = torch.split(data, 10000)
    total = math.fsum(float(rbm.free_energy(chunk).double().sum()) for chunk in chunks)
    return -total / len(data) - log_z
