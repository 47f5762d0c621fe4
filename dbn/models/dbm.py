"""The Deep Boltzmann Machine of Salakhutdinov & Hinton (2009), with Bernoulli units.

Layers ``x_0`` (the pixels) to ``x_L`` are joined only to their neighbours, every
connection undirected:

    E(x) = -Σ_i biases[i]·x_i - Σ_i x_{i+1}ᵀ weights[i] x_i.

Each layer given its two neighbours is independent Bernoulli, so the odd layers given
the even ones are one block and the even layers given the odd ones the other: block
Gibbs sampling alternates them, and summing the odd layers out analytically gives the
free energy of the even ones. The posterior over the hidden layers given the pixels
has no closed form; :meth:`DBM.mean_field` computes the fully factorised variational
approximation that training and the classifier use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dbn._utils.arrays import as_features
from dbn._utils.checks import check_choice, check_int, check_nonnegative
from dbn.io import save_model
from dbn.models.rbm import RBM, bernoulli_sample

__all__ = ["DBM"]


class DBM(nn.Module):
    """A Deep Boltzmann Machine.

    Parameters
    ----------
    sizes : sequence of int
        Units per layer from the pixels up, e.g. the paper's ``[784, 500, 1000]``.
    weight_std : float
        Initial weights' standard deviation (pretraining replaces them).
    generator : torch.Generator, optional

    Attributes
    ----------
    weights : nn.ParameterList
        ``weights[i]`` of shape ``(sizes[i + 1], sizes[i])`` joins layer ``i`` to ``i + 1``.
    biases : nn.ParameterList
        ``biases[i]`` of shape ``(sizes[i],)``.

    Examples
    --------
    >>> import torch
    >>> from dbn.models import DBM
    >>> dbm = DBM([64, 32, 16], generator=torch.Generator().manual_seed(0))
    >>> v = torch.rand(5, 64)
    >>> [q.shape for q in dbm.mean_field(v, n_steps=5)]
    [torch.Size([5, 32]), torch.Size([5, 16])]
    >>> dbm.generate(3, n_gibbs=10).shape
    torch.Size([3, 64])
    """

    def __init__(
        self,
        sizes: Sequence[int],
        weight_std: float = 0.01,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(
                f"sizes must name the pixels and at least one hidden layer, got {sizes!r}"
            )
        for size in sizes:
            check_int("each layer size", size)
        check_nonnegative("weight_std", weight_std)
        self.sizes = list(sizes)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.randn(n_out, n_in, generator=generator) * weight_std)
            for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:], strict=True)
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(size)) for size in self.sizes)

    @classmethod
    def from_rbms(cls, rbms: Sequence[RBM]) -> DBM:
        """Compose greedily pretrained RBMs, bottom first, into a DBM.

        The bottom and top RBMs were trained with their DBM-facing layer doubled
        (:class:`~dbn.models.ReplicatedRBM`) and keep their weights; the RBMs between
        them were trained as plain RBMs and their weights are halved, since in the DBM
        each of their layers hears a neighbour on both sides (Salakhutdinov & Hinton
        2012, section 3.1). A layer shared by two RBMs takes the mean of the two
        biases that each learned for it.

        Parameters
        ----------
        rbms : sequence of RBM
            ``rbms[i]`` maps layer ``i`` to ``i + 1``.

        Returns
        -------
        DBM

        Examples
        --------
        >>> from dbn.models import DBM, RBM
        >>> dbm = DBM.from_rbms([RBM(64, 32), RBM(32, 16)])
        >>> dbm.sizes
        [64, 32, 16]
        """
        sizes = [rbms[0].n_visible] + [rbm.n_hidden for rbm in rbms]
        for below, above in zip(rbms[:-1], rbms[1:], strict=True):
            if below.n_hidden != above.n_visible:
                raise ValueError(
                    f"RBMs do not stack: {below.n_hidden} hidden units "
                    f"under {above.n_visible} visible"
                )
        dbm = cls(sizes).to(rbms[0].weight)
        last = len(rbms) - 1
        with torch.no_grad():
            for index, rbm in enumerate(rbms):
                scale = 1.0 if index in (0, last) else 0.5
                dbm.weights[index].copy_(scale * rbm.weight)
            dbm.biases[0].copy_(rbms[0].visible_bias)
            dbm.biases[-1].copy_(rbms[-1].hidden_bias)
            for index in range(1, len(sizes) - 1):
                shared = (rbms[index - 1].hidden_bias + rbms[index].visible_bias) / 2
                dbm.biases[index].copy_(shared)
        return dbm

    @property
    def n_layers(self) -> int:
        """Layers including the pixels."""
        return len(self.sizes)

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}"

    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able, for checkpoints."""
        return {"sizes": self.sizes}

    def save(self, path: str | os.PathLike[str], **extra: Any) -> Path:
        """Write the model atomically (``.safetensors``: pickle-free); :func:`dbn.load`
        reads it back ready to call."""
        return save_model("dbm", self, path, **extra)

    def images(self, x: Tensor | np.ndarray) -> Tensor:
        """``x`` checked and cast to the model's dtype and device: (n, sizes[0])."""
        weight = self.weights[0]
        x = as_features("x", x, weight.dtype, weight.device)
        if x.dim() != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"x must have shape (n, {self.sizes[0]}), got {tuple(x.shape)}")
        return x

    # --- energies -----------------------------------------------------------------------

    def energy(self, states: Sequence[Tensor]) -> Tensor:
        """E(x) of joint configurations.

        Parameters
        ----------
        states : sequence of Tensor
            ``states[i]`` of shape (n, sizes[i]), every layer (binary, or marginals for
            the expected energy under a factorised distribution).

        Returns
        -------
        Tensor of shape (n,)
        """
        self._check_states(states, range(self.n_layers))
        energy: Tensor = -(states[0] @ self.biases[0])
        for index, weight in enumerate(self.weights):
            above = states[index + 1]
            energy = energy - above @ self.biases[index + 1]
            energy = energy - (F.linear(states[index], weight) * above).sum(dim=1)
        return energy

    def free_energy(
        self, states: Sequence[Tensor | None], summed_out: Literal["odd", "even"] = "odd"
    ) -> Tensor:
        """Free energy of half the layers with the other half summed out analytically.

        Parameters
        ----------
        states : sequence of Tensor or None
            One entry per layer; those of the summed-out parity are ignored (may be
            None), the others have shape (n, sizes[i]).
        summed_out : {"odd", "even"}
            ``"odd"`` keeps the pixels, layer 2, layer 4, ...; ``"even"`` keeps layers
            1, 3, ... (the pixels summed out too).

        Returns
        -------
        Tensor of shape (n,)
            ``-Σ_kept b·x - Σ_summed Σ_j softplus(input_j)``.
        """
        check_choice("summed_out", summed_out, ("odd", "even"))
        kept = range(0 if summed_out == "odd" else 1, self.n_layers, 2)
        summed = range(1 if summed_out == "odd" else 0, self.n_layers, 2)
        present = [states[i] for i in kept]
        self._check_states(present, kept)
        free: Tensor = torch.zeros((), dtype=self.biases[0].dtype, device=self.biases[0].device)
        for index, x in zip(kept, present, strict=True):
            free = free - x @ self.biases[index]
        for index in summed:
            free = free - F.softplus(self.layer_input(states, index)).sum(dim=1)
        return free

    def _check_states(self, states: Sequence[Tensor | None], layers: range) -> None:
        if len(states) != len(layers):
            raise ValueError(f"expected {len(layers)} layers' states, got {len(states)}")
        for x, layer in zip(states, layers, strict=True):
            if x is None or x.dim() != 2 or x.shape[1] != self.sizes[layer]:
                raise ValueError(
                    f"layer {layer} must have shape (n, {self.sizes[layer]}), "
                    f"got {None if x is None else tuple(x.shape)}"
                )

    # --- conditionals -------------------------------------------------------------------

    def layer_input(self, states: Sequence[Tensor | None], index: int) -> Tensor:
        """Total input to layer ``index`` from its neighbours' states: (n, sizes[index]).
        Only the neighbours' entries of ``states`` are read."""
        total: Tensor = self.biases[index]
        below = states[index - 1] if index > 0 else None
        above = states[index + 1] if index < self.n_layers - 1 else None
        if below is not None:
            total = total + F.linear(below, self.weights[index - 1])
        if above is not None:
            total = total + above @ self.weights[index]
        return total

    def initial_marginals(self, v: Tensor) -> list[Tensor]:
        """The bottom-up pass that starts mean-field inference: each hidden layer below
        the top takes its input from below doubled (standing in for the input from above
        that it will have), as in Salakhutdinov's code. Returns (n, sizes[i]) for i >= 1."""
        marginals, below = [], v
        for index, weight in enumerate(self.weights, start=1):
            scale = 1.0 if index == self.n_layers - 1 else 2.0
            below = torch.sigmoid(scale * F.linear(below, weight) + self.biases[index])
            marginals.append(below)
        return marginals

    def mean_field(self, v: Tensor, n_steps: int = 10, damping: float = 0.0) -> list[Tensor]:
        """Fully factorised posterior marginals q(x_i = 1 | v) of every hidden layer.

        Starts from :meth:`initial_marginals`, then updates the odd layers given the
        even ones and the even ones given the odd, ``n_steps`` times: each update
        solves its block's fixed-point equations exactly given the other block.

        Parameters
        ----------
        v : Tensor of shape (n, sizes[0])
        n_steps : int
            Mean-field updates (0 keeps the bottom-up pass).
        damping : float in [0, 1)
            Each update keeps this share of the old marginals.

        Returns
        -------
        list of Tensor
            ``[q_1, ..., q_L]``, ``q_i`` of shape (n, sizes[i]).
        """
        check_int("n_steps", n_steps, minimum=0)
        if not 0 <= damping < 1:
            raise ValueError(f"damping must be in [0, 1), got {damping!r}")
        states = [v, *self.initial_marginals(v)]
        for _ in range(n_steps):
            for first in (1, 2):
                for index in range(first, self.n_layers, 2):
                    new = torch.sigmoid(self.layer_input(states, index))
                    states[index] = (
                        new if damping == 0 else damping * states[index] + (1 - damping) * new
                    )
        return states[1:]

    def visible_probs(self, h1: Tensor) -> Tensor:
        """p(v_i = 1 | h_1): the pixels' probabilities given the first hidden layer (its
        states or marginals), the only layer they hear. (n, sizes[0])."""
        return torch.sigmoid(F.linear(h1, self.weights[0].t(), self.biases[0]))

    def sweep(self, states: list[Tensor], generator: torch.Generator | None = None) -> list[Tensor]:
        """One block Gibbs sweep: the odd layers given the even ones, then the even ones
        (the pixels included) given the odd. A new list of binary states."""
        states = list(states)
        for first in (1, 0):
            for index in range(first, self.n_layers, 2):
                probs = torch.sigmoid(self.layer_input(states, index))
                states[index] = bernoulli_sample(probs, generator).to(probs.dtype)
        return states

    def random_states(self, n: int, generator: torch.Generator | None = None) -> list[Tensor]:
        """n independent uniform binary configurations of every layer."""
        weight = self.weights[0]
        return [
            bernoulli_sample(
                torch.full((n, size), 0.5, dtype=weight.dtype, device=weight.device), generator
            ).to(weight.dtype)
            for size in self.sizes
        ]

    @torch.no_grad()
    def generate(
        self, n: int, n_gibbs: int = 1000, generator: torch.Generator | None = None
    ) -> Tensor:
        """Images from ``n`` chains started at random, after ``n_gibbs`` sweeps.

        Parameters
        ----------
        n : int
        n_gibbs : int
        generator : torch.Generator, optional

        Returns
        -------
        Tensor of shape (n, sizes[0])
            The pixels' probabilities given the last first-hidden-layer state, in [0, 1].
        """
        check_int("n", n)
        check_int("n_gibbs", n_gibbs)
        states = self.random_states(n, generator)
        for _ in range(n_gibbs):
            states = self.sweep(states, generator)
        return self.visible_probs(states[1])

    @torch.no_grad()
    def transform(
        self, x: Tensor | np.ndarray, n_steps: int = 10, batch_size: int = 1000
    ) -> Tensor:
        """The top hidden layer's mean-field marginals q(h_L | x): (n, sizes[-1])."""
        x = self.images(x)
        return torch.cat(
            [self.mean_field(chunk, n_steps)[-1] for chunk in torch.split(x, batch_size)]
        )

    def forward(self, v: Tensor) -> Tensor:
        """The top layer's mean-field marginals (10 updates), as a feature map."""
        return self.mean_field(v)[-1]
