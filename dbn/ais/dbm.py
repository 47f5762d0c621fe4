"""The partition function and likelihood of a DBM: enumeration, AIS and the variational bound.

AIS follows Salakhutdinov & Hinton (2009, section 3.2; Salakhutdinov & Murray 2008):
the odd layers (the first hidden layer among them) are summed out analytically, and the
chain runs over the even ones. The intermediate distributions anneal from a base-rate
model A (pixel biases fitted to the data, every hidden unit a fair coin) to the DBM:

    log p*_β(x_even) = (1 - β) a_A·v + β Σ_even b·x + Σ_odd Σ_j softplus(β input_j),

whose β = 0 end has log Z_A = Σ_i softplus(a_A,i) + (hidden units) · log 2. The
transition is one block Gibbs sweep of the DBM with every input scaled by β (the pixels'
mixed with the base rate), which leaves p*_β invariant. Label units, if the model has
them, are one more layer of their parity: summed out by a log-sum-exp over the classes,
or, in the even block, drawn as one softmax group (uniform in model A, log Z_A gaining
log K).

The likelihood of an image has no closed form either: ``log_likelihood`` returns the
mean of the variational lower bound ``E_q[-E(v, h)] + H(q) - log Z`` with q the
mean-field posterior.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Literal, cast

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
from dbn.ais.rbm import exact_log_partition, log_likelihood, log_partition
from dbn.models.dbm import DBM
from dbn.models.label_rbm import sample_one_hot

__all__ = [
    "dbm_exact_log_likelihood",
    "dbm_exact_log_partition",
    "dbm_log_partition",
    "variational_bound",
]


def _bernoulli_bits(dbm: DBM, layers: range) -> int:
    """Units of the Bernoulli layers among ``layers``: their joint states are 2^this."""
    sizes = dbm.group_sizes()
    return sum(sizes[i] for i in layers if i != dbm.label_index)


def _enumerated_bits(dbm: DBM, layers: range) -> float:
    """log2 of the number of joint states of ``layers`` (the labels have K, not 2^K)."""
    labels = math.log2(dbm.n_labels) if dbm.label_index in layers else 0.0
    return _bernoulli_bits(dbm, layers) + labels


def _configurations(
    dbm: DBM, layers: range, begin: int, end: int, device: torch.device
) -> list[Tensor | None]:
    """Joint states of ``layers``: the Bernoulli layers' binary codes ``begin..end-1``,
    each with every label in turn when the labels are among ``layers``. Per-entry
    float64 tensors of (end - begin) · (K or 1) rows; None for the other entries."""
    sizes = dbm.group_sizes()
    bernoulli = [i for i in layers if i != dbm.label_index]
    codes = binary_states(_bernoulli_bits(dbm, layers), begin, end, device, torch.float64)
    states: list[Tensor | None] = [None] * dbm.n_groups
    if dbm.label_index in layers:
        eye = torch.eye(dbm.n_labels, dtype=torch.float64, device=device)
        states[dbm.n_layers] = eye.repeat(len(codes), 1)
        codes = codes.repeat_interleave(dbm.n_labels, dim=0)
    column = 0
    for index in bernoulli:
        states[index] = codes[:, column : column + sizes[index]]
        column += sizes[index]
    return states


@torch.no_grad()
def dbm_exact_log_partition(dbm: DBM, chunk_size: int = 1 << 14) -> float:
    """log Z of a small DBM: every state of one parity enumerated, the other summed out.

    Parameters
    ----------
    dbm : DBM
        Its smaller parity (odd or even layers, the labels counting log2 K) has at most
        ``MAX_ENUMERATED_UNITS`` units.
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
    evens = range(0, dbm.n_groups, 2)
    odds = range(1, dbm.n_groups, 2)
    n_even, n_odd = _enumerated_bits(dbm, evens), _enumerated_bits(dbm, odds)
    summed_out: Literal["odd", "even"] = "odd" if n_even <= n_odd else "even"
    layers = evens if summed_out == "odd" else odds
    n_units = min(n_even, n_odd)
    if n_units > MAX_ENUMERATED_UNITS:
        raise ValueError(
            f"exact log Z enumerates 2^{n_units:g} states; it is limited to "
            f"{MAX_ENUMERATED_UNITS} units. Use dbn.ais.log_partition (AIS)."
        )
    device = dbm.weights[0].device
    n_codes = 2 ** _bernoulli_bits(dbm, layers)
    parts = []
    for begin in range(0, n_codes, chunk_size):
        states = _configurations(dbm, layers, begin, min(begin + chunk_size, n_codes), device)
        parts.append(torch.logsumexp(-model.free_energy(states, summed_out), 0))
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
    hidden_evens = range(2, dbm.n_groups, 2)
    n_units = _enumerated_bits(dbm, hidden_evens)
    if n_units > MAX_ENUMERATED_UNITS:
        raise ValueError(
            f"the even hidden layers have {n_units:g} units; at most {MAX_ENUMERATED_UNITS}"
        )
    if log_z is None:
        log_z = dbm_exact_log_partition(dbm)
    v = data.to(torch.float64)
    n_codes = 2 ** _bernoulli_bits(dbm, hidden_evens)
    states = _configurations(dbm, hidden_evens, 0, n_codes, v.device)
    n_states = n_codes * (dbm.n_labels if dbm.label_index in hidden_evens else 1)
    per_example = []
    for row in v:
        states[0] = row.expand(n_states, -1)
        per_example.append(torch.logsumexp(-model.free_energy(states), 0))
    return torch.stack(per_example) - log_z


class _DBMAnnealingPath:
    """The intermediate distributions over the even layers and their Gibbs transition."""

    def __init__(self, dbm: DBM, data: Tensor | None) -> None:
        self.dbm = dbm
        self.base_bias = base_visible_bias(dbm.biases[0], data, "bernoulli")
        n_hidden = sum(dbm.sizes[1:])
        labels = math.log(dbm.n_labels) if dbm.n_labels else 0.0
        self.log_z_base = (
            F.softplus(self.base_bias.double()).sum().item() + n_hidden * math.log(2) + labels
        )

    def _draw(self, index: int, probs: Tensor, generator: torch.Generator | None) -> Tensor:
        if index == self.dbm.label_index:
            return sample_one_hot(probs, generator)
        return torch.bernoulli(probs, generator=generator)

    def sample_base(self, n: int, generator: torch.Generator | None) -> list[Tensor | None]:
        weight = self.dbm.weights[0]
        states: list[Tensor | None] = [None] * self.dbm.n_groups
        states[0] = torch.bernoulli(
            torch.sigmoid(self.base_bias).expand(n, -1), generator=generator
        )
        sizes = self.dbm.group_sizes()
        for index in range(2, self.dbm.n_groups, 2):
            uniform = 1 / sizes[index] if index == self.dbm.label_index else 0.5
            probs = torch.full((n, sizes[index]), uniform, dtype=weight.dtype, device=weight.device)
            states[index] = self._draw(index, probs, generator)
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
        odd = {i: self.dbm.layer_input(states, i) for i in range(1, self.dbm.n_groups, 2)}
        increment = self.log_ratio(states, beta, previous, odd)
        return increment, self.transition(states, beta, generator, odd)

    def log_ratio(
        self, states: list[Tensor | None], beta: float, other: float, odd: dict[int, Tensor]
    ) -> Tensor:
        """log p*_β - log p*_other at the even states: (n,) float64, term by term."""
        dbm, v = self.dbm, states[0]
        even = -(cast(Tensor, v) @ self.base_bias)
        for index in range(0, dbm.n_groups, 2):
            even = even + cast(Tensor, states[index]) @ dbm.group_bias(index)
        total = (beta - other) * even.double()
        for index, inputs in odd.items():
            change = dbm.summed_out_log(index, beta * inputs)
            total += (change - dbm.summed_out_log(index, other * inputs)).double()
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
            states[index] = self._draw(index, dbm.conditional(index, beta * inputs), generator)
        for index in range(0, dbm.n_groups, 2):
            inputs = beta * dbm.layer_input(states, index)
            if index == 0:
                inputs = inputs + (1 - beta) * self.base_bias
            states[index] = self._draw(index, dbm.conditional(index, inputs), generator)
        for index in odd:
            states[index] = None  # summed out: only the even layers carry the chain
        return states


@torch.no_grad()
def dbm_log_partition(
    dbm: DBM,
    data: Tensor | None = None,
    n_betas: int = 20000,
    n_runs: int = 100,
    generator: torch.Generator | None = None,
    progress: bool = True,
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
    progress : bool
        Show a progress bar over the temperatures.

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
    path = _DBMAnnealingPath(dbm, data)
    return anneal(path, n_betas, n_runs, generator, dbm.weights[0].device, progress)


def _entropy(q: Tensor, categorical: bool = False) -> Tensor:
    """Summed binary entropies of factorised marginals, or the entropy of one
    categorical distribution per row: (n,)."""
    if categorical:
        return -torch.xlogy(q, q).sum(dim=1)
    return (-(torch.xlogy(q, q) + torch.xlogy(1 - q, 1 - q))).sum(dim=1)


@torch.no_grad()
def variational_bound(
    dbm: DBM, data: Tensor, log_z: float, mean_field_steps: int = 50, batch_size: int = 1000
) -> Tensor:
    """The mean-field lower bound on log p(v) of each example.

    ``log p(v) >= E_q[-E(v, h)] + H(q) - log Z`` for any factorised q; the mean-field
    posterior makes it tight up to the posterior's non-factorised part. A model's
    labels are one more factor of q (inferred, not clamped): the bound is on log p(v)
    with the labels summed out.

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
        entropy = sum(
            _entropy(q.double(), index == dbm.label_index)
            for index, q in enumerate(marginals, start=1)
        )
        parts.append(expected + entropy - log_z)
    return torch.cat(parts)


@torch.no_grad()
def _mean_variational_bound(
    dbm: DBM,
    data: Tensor,
    log_z: float | None = None,
    train_data: Tensor | None = None,
    **ais_options: Any,
) -> float:
    """:func:`dbn.ais.log_likelihood` for a DBM: the mean of :func:`variational_bound`."""
    if log_z is None:
        log_z = dbm_log_partition(dbm, train_data, **ais_options).log_z
    return variational_bound(dbm, data, log_z).mean().item()


# dbn.ais's public functions dispatch on the model's type: a DBM's versions, in one place
exact_log_partition.register(DBM, dbm_exact_log_partition)
log_partition.register(DBM, dbm_log_partition)
log_likelihood.register(DBM, _mean_variational_bound)
