"""The partition function of an RBM (or a DBM): exactly by enumeration, or by AIS.

Each public function dispatches on its model's type (:func:`functools.singledispatch`):
this module holds the RBM's versions, :mod:`dbn.ais.dbm` registers the DBM's.

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

import functools
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from dbn._utils.checks import check_int
from dbn.ais._common import (
    MAX_ENUMERATED_UNITS,
    AISResult,
    anneal,
    base_visible_bias,
    beta_schedule,
    binary_states,
)
from dbn.models.dbm import DBM
from dbn.models.rbm import RBM, check_visible_data

__all__ = [
    "AISResult",
    "RAISEResult",
    "reverse_log_likelihood",
    "exact_log_partition",
    "log_partition",
    "log_likelihood",
    "beta_schedule",
    "MAX_ENUMERATED_UNITS",
]


@functools.singledispatch
@torch.no_grad()
def exact_log_partition(
    rbm: RBM | DBM, enumerate_layer: str = "auto", chunk_size: int = 1 << 14
) -> float:
    """log Z of a small RBM by summing over every state of one layer.

    Parameters
    ----------
    rbm : RBM or DBM
        A DBM is enumerated over its smaller parity (odd or even layers), the other
        summed out: :func:`dbn.ais.dbm.dbm_exact_log_partition`, which takes only
        ``chunk_size``.
    enumerate_layer : {"auto", "hidden", "visible"}
        Which layer of an RBM to enumerate; ``"auto"`` takes the smaller one (always the
        hidden layer for Gaussian visible units, whose states cannot be listed).
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

    Examples
    --------
    >>> import torch, dbn
    >>> rbm = dbn.RBM(3, 2)
    >>> with torch.no_grad():
    ...     _ = rbm.weight.zero_()
    >>> round(dbn.ais.exact_log_partition(rbm), 4)  # log(2**3 * 2**2) with zero parameters
    3.4657
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
        states = binary_states(n_units, begin, end, weight.device, torch.float64)
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


class _AnnealingPath:
    """The intermediate distributions p*_β from the base-rate model to the RBM, and a
    Gibbs transition that leaves each invariant: what AIS and RAISE share."""

    def __init__(self, rbm: RBM, data: Tensor | None) -> None:
        self.rbm = rbm
        self.base_bias = base_visible_bias(rbm.visible_bias, data, rbm.visible)
        self.gaussian = rbm.visible == "gaussian"
        if self.gaussian:
            log_z_base = 0.5 * rbm.n_visible * math.log(2 * math.pi)
        else:
            log_z_base = F.softplus(self.base_bias.double()).sum().item()
        self.log_z_base = log_z_base + rbm.n_hidden * math.log(2)

    def sample_base(self, n: int, generator: torch.Generator | None) -> Tensor:
        """n exact samples of the base-rate model: (n, n_visible)."""
        weight, shape = self.rbm.weight, (n, self.rbm.n_visible)
        if self.gaussian:
            noise = torch.randn(
                shape, generator=generator, device=weight.device, dtype=weight.dtype
            )
            return self.base_bias + noise
        return torch.bernoulli(torch.sigmoid(self.base_bias).expand(shape), generator=generator)

    def _visible_log_factor(self, v: Tensor, beta: float) -> Tensor:
        """-(1-β) E_A(v) - β E_B_vis(v): (n,)."""
        rbm = self.rbm
        if self.gaussian:
            to_base = (v - self.base_bias).pow(2).sum(1)
            to_model = (v - rbm.visible_bias).pow(2).sum(1)
            return -0.5 * ((1 - beta) * to_base + beta * to_model)
        return (1 - beta) * (v @ self.base_bias) + beta * (v @ rbm.visible_bias)

    def log_f(self, v: Tensor, beta: float) -> Tensor:
        """log p*_β(v), unnormalised: (n,) in float64."""
        hidden_input = F.linear(v, self.rbm.weight, self.rbm.hidden_bias)
        hidden = F.softplus(beta * hidden_input).sum(1)
        return self._visible_log_factor(v, beta).double() + hidden.double()

    def log_ratio(self, v: Tensor, beta: float, other: float, hidden_input: Tensor) -> Tensor:
        """log p*_β(v) - log p*_other(v): (n,) in float64, differenced term by term
        before summing (each term is small; the sums are not)."""
        visible = self._visible_log_factor(v, beta) - self._visible_log_factor(v, other)
        hidden = (F.softplus(beta * hidden_input) - F.softplus(other * hidden_input)).sum(1)
        return (visible + hidden).double()

    def step(
        self, v: Tensor, beta: float, previous: float, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor]:
        """The importance-weight increment log p*_β(v) - log p*_previous(v), and v after
        one transition at β (the two share the hidden units' input)."""
        hidden_input = F.linear(v, self.rbm.weight, self.rbm.hidden_bias)
        increment = self.log_ratio(v, beta, previous, hidden_input)
        return increment, self.transition(v, beta, generator, hidden_input)

    def transition(
        self, v: Tensor, beta: float, generator: torch.Generator | None, hidden_input: Tensor
    ) -> Tensor:
        """One Gibbs sweep (h given v, then v given h) that leaves p*_β invariant; it is
        reversible, so it also serves as its own reverse (RAISE)."""
        rbm = self.rbm
        h = torch.bernoulli(torch.sigmoid(beta * hidden_input), generator=generator)
        visible_input = (1 - beta) * self.base_bias + beta * (h @ rbm.weight + rbm.visible_bias)
        if self.gaussian:
            noise = torch.randn(v.shape, generator=generator, device=v.device, dtype=v.dtype)
            return visible_input + noise
        return torch.bernoulli(torch.sigmoid(visible_input), generator=generator)


@functools.singledispatch
@torch.no_grad()
def log_partition(
    rbm: RBM | DBM,
    data: Tensor | None = None,
    n_betas: int = 15000,
    n_runs: int = 100,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> AISResult:
    """Estimate log Z by annealed importance sampling.

    Parameters
    ----------
    rbm : RBM or DBM
        A DBM is annealed over its even layers, the odd ones summed out
        (:func:`dbn.ais.dbm.dbm_log_partition`, whose ``n_betas`` defaults to the
        20,000 temperatures the paper ran).
    data : Tensor of shape (n_samples, n_visible), optional
        Training data that fits the base-rate model (strongly recommended: a base model
        close to the data makes the estimate far more accurate).
    n_betas : int
        Number of intermediate distributions (the paper uses 14,500–15,000).
    n_runs : int
        Independent annealing runs (the paper uses 100).
    generator : torch.Generator, optional
        On the RBM's device.
    progress : bool
        Show a progress bar over the temperatures (the defaults take minutes).

    Returns
    -------
    AISResult

    Examples
    --------
    >>> import torch, dbn
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.bernoulli(dbn.load_digits()["train"].x, generator=g)
    >>> rbm = dbn.RBM(64, 10, generator=torch.Generator().manual_seed(0))
    >>> _ = dbn.train_rbm(rbm, x, epochs=5, lr=0.05, progress=False)
    >>> result = dbn.ais.log_partition(rbm, x, n_betas=1000, generator=g)
    >>> abs(result.log_z - dbn.ais.exact_log_partition(rbm)) < 0.1
    True
    """
    check_int("n_runs", n_runs, minimum=2)
    if data is not None:
        data = check_visible_data(data, rbm.n_visible, rbm.visible, dtype=rbm.weight.dtype)
    path = _AnnealingPath(rbm, data)
    return anneal(path, n_betas, n_runs, generator, rbm.weight.device, progress)


@dataclass(frozen=True)
class RAISEResult:
    """RAISE's conservative estimate of the mean log-likelihood of some examples.

    Attributes
    ----------
    log_likelihood : float
        Mean over the examples of log p̂(v), each the log of the mean of
        ``n_runs`` importance weights: a stochastic lower bound on the mean
        log-likelihood of the annealing model, which tends to the RBM's as the
        number of intermediate distributions grows.
    standard_error : float
        Standard error of that mean over the examples.
    per_example : Tensor of shape (n_examples,)
        log p̂(v) of each example.

    Examples
    --------
    >>> import torch, dbn
    >>> v = torch.bernoulli(torch.full((5, 8), 0.5), generator=torch.Generator().manual_seed(0))
    >>> g = torch.Generator().manual_seed(1)
    >>> result = dbn.ais.reverse_log_likelihood(dbn.RBM(8, 4), v, n_betas=100, generator=g)
    >>> result.per_example.shape
    torch.Size([5])
    >>> result  # doctest: +ELLIPSIS
    RAISEResult(log_likelihood=..., standard_error=..., n_examples=5)
    """

    log_likelihood: float
    standard_error: float
    per_example: Tensor

    def __repr__(self) -> str:
        # the per-example values are for diagnostics: a count, not every number
        return (
            f"RAISEResult(log_likelihood={self.log_likelihood:.4f}, "
            f"standard_error={self.standard_error:.4f}, n_examples={len(self.per_example)})"
        )


@torch.no_grad()
def reverse_log_likelihood(
    rbm: RBM,
    data: Tensor,
    train_data: Tensor | None = None,
    n_betas: int = 15000,
    n_runs: int = 1,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> RAISEResult:
    """The Reverse AIS Estimator (RAISE) of Burda, Grosse & Salakhutdinov (2015).

    AIS estimates log Z from below on average (Jensen), so its log-likelihoods lean
    optimistic. RAISE starts each chain at a test example and anneals *down* to the
    base-rate model with the same transitions; its importance weight is an unbiased
    estimate of the example's probability under the annealing model (base model, then
    the forward transitions), so its log is conservative on average::

        log w = log p*_1(v) - log Z_A + Σ_{k<K} [log p*_{β_k}(v_k) - log p*_{β_{k+1}}(v_k)],

    with v_K = v and v_k drawn by the Gibbs transition at β_{k+1} from v_{k+1}. Bracketed
    by AIS from above and RAISE from below, a likelihood is known within their gap.

    Parameters
    ----------
    rbm : RBM
    data : Tensor of shape (n_examples, n_visible)
        The examples to score (each gets ``n_runs`` chains).
    train_data : Tensor of shape (n_train, n_visible), optional
        Fits the base-rate model, as for :func:`log_partition` (use the same).
    n_betas : int
        Intermediate distributions (:func:`beta_schedule`).
    n_runs : int
        Chains per example; their weights are averaged before the log.
    generator : torch.Generator, optional
        On the RBM's device.
    progress : bool
        Show a progress bar over the temperatures (the defaults take minutes).

    Returns
    -------
    RAISEResult

    Examples
    --------
    >>> import torch, dbn
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.bernoulli(dbn.load_digits()["train"].x, generator=g)
    >>> rbm = dbn.RBM(64, 10, generator=torch.Generator().manual_seed(0))
    >>> _ = dbn.train_rbm(rbm, x, epochs=5, lr=0.05, progress=False)
    >>> raised = dbn.ais.reverse_log_likelihood(
    ...     rbm, x[:20], n_betas=300, generator=g, progress=False
    ... )
    >>> exact = dbn.ais.log_likelihood(rbm, x[:20], log_z=dbn.ais.exact_log_partition(rbm))
    >>> raised.log_likelihood <= exact + 3 * raised.standard_error  # conservative on average
    True
    """
    data = check_visible_data(data, rbm.n_visible, rbm.visible, dtype=rbm.weight.dtype)
    check_int("n_runs", n_runs)
    if train_data is not None:
        train_data = check_visible_data(
            train_data, rbm.n_visible, rbm.visible, "train_data", dtype=rbm.weight.dtype
        )
    path = _AnnealingPath(rbm, train_data)
    betas = beta_schedule(n_betas).tolist()
    v = data.to(rbm.weight).repeat_interleave(n_runs, dim=0)
    log_w = path.log_f(v, 1.0) - path.log_z_base
    hidden_input = F.linear(v, rbm.weight, rbm.hidden_bias)
    steps = zip(betas[:0:-1], betas[-2::-1], strict=True)
    bar = tqdm(steps, total=len(betas) - 1, desc="RAISE", unit="β", disable=not progress)
    for beta, lower in bar:
        v = path.transition(v, beta, generator, hidden_input)
        hidden_input = F.linear(v, rbm.weight, rbm.hidden_bias)
        log_w += path.log_ratio(v, lower, beta, hidden_input)
    per_run = log_w.view(-1, n_runs)
    per_example = (torch.logsumexp(per_run, dim=1) - math.log(n_runs)).cpu()
    spread = per_example.std().item() if len(per_example) > 1 else 0.0
    return RAISEResult(
        log_likelihood=per_example.mean().item(),
        standard_error=spread / math.sqrt(len(per_example)),
        per_example=per_example,
    )


@functools.singledispatch
@torch.no_grad()
def log_likelihood(
    rbm: RBM | DBM,
    data: Tensor,
    log_z: float | None = None,
    train_data: Tensor | None = None,
    **ais_options: Any,
) -> float:
    """Mean log-probability of ``data`` under the RBM, in nats per example; for a DBM
    its mean variational lower bound.

    Parameters
    ----------
    rbm : RBM or DBM
        For a DBM the result is the mean of
        :func:`dbn.ais.dbm.variational_bound` (mean-field entropy plus expected
        log p*, minus log Z), a lower bound on the mean log-probability.
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
        ``mean(-F(v)) - log Z`` (an RBM).

    Examples
    --------
    >>> import torch, dbn
    >>> digits, g = dbn.load_digits(), torch.Generator().manual_seed(0)
    >>> train, test = (torch.bernoulli(digits[name].x, generator=g) for name in ("train", "test"))
    >>> rbm = dbn.RBM(64, 10, generator=torch.Generator().manual_seed(0))
    >>> _ = dbn.train_rbm(rbm, train, epochs=5, lr=0.05, progress=False)
    >>> exact = dbn.ais.log_likelihood(rbm, test, log_z=dbn.ais.exact_log_partition(rbm))
    >>> by_ais = dbn.ais.log_likelihood(rbm, test, train_data=train, n_betas=1000,
    ...                                  generator=torch.Generator().manual_seed(1))
    >>> abs(exact - by_ais) < 0.1  # nats per example
    True
    """
    if log_z is None:
        log_z = log_partition(rbm, train_data, **ais_options).log_z
    data = check_visible_data(data, rbm.n_visible, rbm.visible, dtype=rbm.weight.dtype)
    data = data.to(rbm.weight)
    chunks = torch.split(data, 10000)
    total = math.fsum(float(rbm.free_energy(chunk).double().sum()) for chunk in chunks)
    return -total / len(data) - log_z
