"""The partition function and likelihood of a DBM: enumeration, AIS and the variational bound.

AIS follows Salakhutdinov & Hinton (2009, section 3.2; Salakhutdinov & Murray 2008):
the odd layers (the first hidden layer among them) are summed out analytically, and the
chain runs over the even ones. The intermediate distributions anneal from a base-rate
model A (pixel biases fitted to the data, every hidden unit a fair coin) to the DBM:

    log p*_β(x_even) = (1 - β) a_A·v + β Σ_even b·x + Σ_odd Σ_j softplus(β input_j),

whose β = 0 end has log Z_A = Σ_i softplus(a_A,i) + (hidden units) · log 2. The
transition is one block Gibbs sweep of the DBM with every input scaled by β (the pixels'
mixed with the base rate), which leaves p*_β invariant.

The likelihood of an image has no closed form either: ``log_likelihood`` returns the
mean of the variational lower bound ``E_q[-E(v, h)] + H(q) - log Z`` with q the
mean-field posterior.
"""

from __future__ import annotations

import copy
import math
from typing import Literal, cast

import torch
import torch.nn.functional as F
from torch import Tensor

from dbn._utils.checks import check_int
from dbn.ais._common import (
    MAX_ENUMERATED_UNITS,
    AISResult,
    anneal,
    base_visible_bias,
    binary_states,
)
from dbn.models.dbm import DBM

__all__ = [
    "dbm_exact_log_likelihood",
    "dbm_exact_log_partition",
    "dbm_log_partition",
    "variational_bound",
]


def _states_of(dbm: DBM, layers: range, codes: Tensor) -> list[Tensor | None]:
    """Split rows of joint binary codes over ``layers`` into per-layer tensors."""
    states: list[Tensor | None] = [None] * dbm.n_layers
    begin = 0
    for index in layers:
        states[index] = codes[:, begin : begin + dbm.sizes[index]]
        begin += dbm.sizes[index]
    return states


@torch.no_grad()
def dbm_exact_log_partition(dbm: DBM, chunk_size: int = 1 << 14) -> float:
    """log Z of a small DBM: every state of one parity enumerated, the other summed out.

    Parameters
    ----------
    dbm : DBM
        Its smaller parity (odd or even layers) has at most ``MAX_ENUMERATED_UNITS`` units.
    chunk_size : int

    Returns
    -------
    float
        log Z in nats, computed in float64.

    Examples
    --------
    >>> import math, dbn
    >>> from dbn.models import DBM
    >>> round(dbn.ais.exact_log_partition(DBM([3, 2, 2], weight_std=0.0)), 4)  # 2**7
    4.852
    """
    model = copy.deepcopy(dbm).double()
    evens = range(0, dbm.n_layers, 2)
    odds = range(1, dbm.n_layers, 2)
    n_even = sum(dbm.sizes[i] for i in evens)
    n_odd = sum(dbm.sizes[i] for i in odds)
    summed_out: Literal["odd", "even"] = "odd" if n_even <= n_odd else "even"
    layers = evens if summed_out == "odd" else odds
    n_units = min(n_even, n_odd)
    if n_units > MAX_ENUMERATED_UNITS:
        raise ValueError(
            f"exact log Z enumerates 2^{n_units} states; it is limited to "
            f"{MAX_ENUMERATED_UNITS} units. Use dbn.ais.log_partition (AIS)."
        )
    device = dbm.weights[0].device
    parts = []
    for begin in range(0, 2**n_units, chunk_size):
        codes = binary_states(
            n_units, begin, min(begin + chunk_size, 2**n_units), device, torch.float64
        )
        parts.append(
            torch.logsumexp(-model.free_energy(_states_of(dbm, layers, codes), summed_out), 0)
        )
    return torch.logsumexp(torch.stack(parts), 0).item()


@torch.no_grad()
def dbm_exact_log_likelihood(dbm: DBM, data: Tensor, log_z: float | None = None) -> Tensor:
    """log p(v) of each example exactly, for a DBM whose even hidden layers can be listed.

    Parameters
    ----------
    dbm : DBM
    data : Tensor of shape (n, sizes[0])
    log_z : float, optional
        :func:`dbm_exact_log_partition` when None.

    Returns
    -------
    Tensor of shape (n,), float64

    Examples
    --------
    >>> import torch, dbn
    >>> from dbn.models import DBM
    >>> dbm = DBM([6, 4, 5], weight_std=1.0, generator=torch.Generator().manual_seed(0))
    >>> v = torch.bernoulli(torch.full((3, 6), 0.5), generator=torch.Generator().manual_seed(1))
    >>> exact = dbn.ais.dbm_exact_log_likelihood(dbm, v)
    >>> bool((dbn.ais.variational_bound(dbm, v, dbn.ais.exact_log_partition(dbm)) <= exact).all())
    True
    """
    model = copy.deepcopy(dbm).double()
    hidden_evens = range(2, dbm.n_layers, 2)
    n_units = sum(dbm.sizes[i] for i in hidden_evens)
    if n_units > MAX_ENUMERATED_UNITS:
        raise ValueError(
            f"the even hidden layers have {n_units} units; at most {MAX_ENUMERATED_UNITS}"
        )
    if log_z is None:
        log_z = dbm_exact_log_partition(dbm)
    v = data.to(torch.float64)
    codes = binary_states(n_units, 0, 2**n_units, v.device, torch.float64)
    per_example = []
    for row in v:
        states = _states_of(dbm, hidden_evens, codes)
        states[0] = row.expand(len(codes), -1)
        per_example.append(torch.logsumexp(-model.free_energy(states), 0))
    return torch.stack(per_example) - log_z


class _DBMAnnealingPath:
    """The intermediate distributions over the even layers and their Gibbs transition."""

    def __init__(self, dbm: DBM, data: Tensor | None) -> None:
        self.dbm = dbm
        self.base_bias = base_visible_bias(dbm.biases[0], data, "bernoulli")
        n_hidden = sum(dbm.sizes[1:])
        self.log_z_base = F.softplus(self.base_bias.double()).sum().item() + n_hidden * math.log(2)

    def sample_base(self, n: int, generator: torch.Generator | None) -> list[Tensor | None]:
        weight = self.dbm.weights[0]
        states: list[Tensor | None] = [None] * self.dbm.n_layers
        states[0] = torch.bernoulli(
            torch.sigmoid(self.base_bias).expand(n, -1), generator=generator
        )
        for index in range(2, self.dbm.n_layers, 2):
            half = torch.full(
                (n, self.dbm.sizes[index]), 0.5, dtype=weight.dtype, device=weight.device
            )
            states[index] = torch.bernoulli(half, generator=generator)
        return states

    def step(
        self,
        states: list[Tensor | None],
        beta: float,
        previous: float,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, list[Tensor | None]]:
        """The importance-weight increment at the even states, and the states after one
        transition at β (the two share the odd layers' inputs)."""
        odd = {i: self.dbm.layer_input(states, i) for i in range(1, self.dbm.n_layers, 2)}
        increment = self.log_ratio(states, beta, previous, odd)
        return increment, self.transition(states, beta, generator, odd)

    def log_ratio(
        self, states: list[Tensor | None], beta: float, other: float, odd: dict[int, Tensor]
    ) -> Tensor:
        """log p*_β - log p*_other at the even states: (n,) float64, term by term."""
        dbm, v = self.dbm, states[0]
        even = -(cast(Tensor, v) @ self.base_bias)
        for index in range(0, dbm.n_layers, 2):
            even = even + cast(Tensor, states[index]) @ dbm.biases[index]
        total = (beta - other) * even.double()
        for inputs in odd.values():
            total += (F.softplus(beta * inputs) - F.softplus(other * inputs)).sum(1).double()
        return total

    def transition(
        self,
        states: list[Tensor | None],
        beta: float,
        generator: torch.Generator | None,
        odd: dict[int, Tensor],
    ) -> list[Tensor | None]:
        """One sweep: the odd layers given the even, then the even given the odd, at β."""
        dbm, states = self.dbm, list(states)
        for index, inputs in odd.items():
            states[index] = torch.bernoulli(torch.sigmoid(beta * inputs), generator=generator)
        for index in range(0, dbm.n_layers, 2):
            inputs = beta * dbm.layer_input(states, index)
            if index == 0:
                inputs = inputs + (1 - beta) * self.base_bias
            states[index] = torch.bernoulli(torch.sigmoid(inputs), generator=generator)
        for index in range(1, dbm.n_layers, 2):
            states[index] = None  # summed out: only the even layers carry the chain
        return states


@torch.no_grad()
def dbm_log_partition(
    dbm: DBM,
    data: Tensor | None = None,
    n_betas: int = 20000,
    n_runs: int = 100,
    generator: torch.Generator | None = None,
) -> AISResult:
    """Estimate a DBM's log Z by AIS over its even layers.

    Parameters
    ----------
    dbm : DBM
    data : Tensor of shape (n, sizes[0]), optional
        Fits the base-rate model (strongly recommended).
    n_betas : int
        Intermediate distributions (the paper's 20,000).
    n_runs : int
        Independent runs (the paper's 100).
    generator : torch.Generator, optional

    Returns
    -------
    AISResult

    Examples
    --------
    >>> import torch, dbn
    >>> from dbn.models import DBM
    >>> dbm = DBM([6, 4, 5], weight_std=1.0, generator=torch.Generator().manual_seed(0))
    >>> g = torch.Generator().manual_seed(1)
    >>> result = dbn.ais.log_partition(dbm, n_betas=2000, generator=g)
    >>> abs(result.log_z - dbn.ais.exact_log_partition(dbm)) < 0.1
    True
    """
    check_int("n_runs", n_runs, minimum=2)
    if data is not None:
        data = dbm.images(data)
    return anneal(_DBMAnnealingPath(dbm, data), n_betas, n_runs, generator, dbm.weights[0].device)


def _entropy(q: Tensor) -> Tensor:
    """Summed binary entropies of factorised marginals: (n,)."""
    return (-(torch.xlogy(q, q) + torch.xlogy(1 - q, 1 - q))).sum(dim=1)


@torch.no_grad()
def variational_bound(
    dbm: DBM, data: Tensor, log_z: float, mean_field_steps: int = 50, batch_size: int = 1000
) -> Tensor:
    """The mean-field lower bound on log p(v) of each example.

    ``log p(v) >= E_q[-E(v, h)] + H(q) - log Z`` for any factorised q; the mean-field
    posterior makes it tight up to the posterior's non-factorised part.

    Parameters
    ----------
    dbm : DBM
    data : Tensor of shape (n, sizes[0])
    log_z : float
    mean_field_steps : int
    batch_size : int

    Returns
    -------
    Tensor of shape (n,), float64

    Examples
    --------
    >>> import torch, dbn
    >>> from dbn.models import DBM
    >>> dbm = DBM([6, 4, 5], weight_std=1.0, generator=torch.Generator().manual_seed(0))
    >>> v = torch.bernoulli(torch.full((3, 6), 0.5), generator=torch.Generator().manual_seed(1))
    >>> dbn.ais.variational_bound(dbm, v, dbn.ais.exact_log_partition(dbm)).shape
    torch.Size([3])
    """
    data = dbm.images(data)
    parts = []
    for v in torch.split(data, batch_size):
        marginals = dbm.mean_field(v, mean_field_steps)
        expected = -dbm.energy([v, *marginals]).double()
        parts.append(expected + sum(_entropy(q.double()) for q in marginals) - log_z)
    return torch.cat(parts)
