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

With ``n_labels``, a group of one-of-K label units joins the top layer, as in
Salakhutdinov's published code for the MNIST DBM: the labels are one more layer above
the top one (``label_weight`` joins them to it), a softmax group rather than independent
Bernoulli units. Every list of states then ends with the labels' states (one-hot rows,
or their marginals), and they take part in Gibbs sampling, mean field and the free
energy like any layer of their parity.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dbn._utils.arrays import as_features, as_labels
from dbn._utils.checks import check_choice, check_int, check_nonnegative
from dbn.io import save_model
from dbn.models.label_rbm import LabelRBM, sample_one_hot
from dbn.models.rbm import RBM, bernoulli_sample, check_visible_data
from dbn.models.registry import register

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
    n_labels : int
        Label units joined to the top layer (0: none).

    Attributes
    ----------
    weights : nn.ParameterList
        ``weights[i]`` of shape ``(sizes[i + 1], sizes[i])`` joins layer ``i`` to ``i + 1``.
    biases : nn.ParameterList
        ``biases[i]`` of shape ``(sizes[i],)``.
    label_weight : Parameter of shape (n_labels, sizes[-1]), or None
    label_bias : Parameter of shape (n_labels,), or None

    Examples
    --------
    >>> import torch
    >>> from dbn.models import DBM
    >>> dbm = DBM([64, 32, 16], generator=torch.Generator().manual_seed(0))
    >>> v = torch.rand(5, 64)
    >>> [q.shape for q in dbm.mean_field(v, n_steps=5)]
    [torch.Size([5, 32]), torch.Size([5, 16])]
    >>> dbm.generate(3, gibbs_steps=10).shape
    torch.Size([3, 64])
    >>> labelled = DBM([64, 32, 16], n_labels=10)
    >>> [q.shape for q in labelled.mean_field(v, n_steps=5)][-1]  # q(y | v) last
    torch.Size([5, 10])
    """

    label_weight: nn.Parameter | None
    label_bias: nn.Parameter | None

    def __init__(
        self,
        sizes: Sequence[int],
        weight_std: float = 0.01,
        generator: torch.Generator | None = None,
        n_labels: int = 0,
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
        check_int("n_labels", n_labels, minimum=0)
        if n_labels == 1:
            raise ValueError("n_labels must be 0 (no labels) or at least 2, got 1")
        self.n_labels = n_labels
        self.label_weight = self.label_bias = None
        if n_labels:
            self.label_weight = nn.Parameter(
                torch.randn(n_labels, self.sizes[-1], generator=generator) * weight_std
            )
            self.label_bias = nn.Parameter(torch.zeros(n_labels))

    @classmethod
    def from_rbms(cls, rbms: Sequence[RBM]) -> DBM:
        """Compose greedily pretrained RBMs, bottom first, into a DBM.

        The bottom and top RBMs were trained with their DBM-facing layer doubled
        (:class:`~dbn.models.ReplicatedRBM`) and keep their weights; the RBMs between
        them were trained as plain RBMs and their weights are halved, since in the DBM
        each of their layers hears a neighbour on both sides (Salakhutdinov & Hinton
        2012, section 3.1). A layer shared by two RBMs takes the mean of the two
        biases that each learned for it. A top :class:`~dbn.models.LabelRBM` brings its
        label units and their weights into the DBM.

        Parameters
        ----------
        rbms : sequence of RBM
            ``rbms[i]`` maps layer ``i`` to ``i + 1``; the last may be a ``LabelRBM``
            whose features are layer ``len(rbms) - 1``.

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
        top = rbms[-1]
        n_labels = top.n_labels if isinstance(top, LabelRBM) else 0
        n_inputs = [rbm.n_visible for rbm in rbms[:-1]] + [top.n_visible - n_labels]
        sizes = [n_inputs[0]] + [rbm.n_hidden for rbm in rbms]
        for below, n_above in zip(rbms[:-1], n_inputs[1:], strict=True):
            if below.n_hidden != n_above:
                raise ValueError(
                    f"RBMs do not stack: {below.n_hidden} hidden units under {n_above} visible"
                )
        dbm = cls(sizes, n_labels=n_labels).to(rbms[0].weight)
        last = len(rbms) - 1
        with torch.no_grad():
            for index, (rbm, n_in) in enumerate(zip(rbms, n_inputs, strict=True)):
                scale = 1.0 if index in (0, last) else 0.5
                dbm.weights[index].copy_(scale * rbm.weight[:, :n_in])
            dbm.biases[0].copy_(rbms[0].visible_bias[: n_inputs[0]])
            dbm.biases[-1].copy_(top.hidden_bias)
            for index in range(1, len(sizes) - 1):
                below_bias = rbms[index].visible_bias[: n_inputs[index]]
                dbm.biases[index].copy_((rbms[index - 1].hidden_bias + below_bias) / 2)
            if dbm.label_weight is not None and dbm.label_bias is not None:
                dbm.label_weight.copy_(top.weight[:, n_inputs[-1] :].t())
                dbm.label_bias.copy_(top.visible_bias[n_inputs[-1] :])
        return dbm

    @property
    def n_layers(self) -> int:
        """Layers including the pixels (not the labels)."""
        return len(self.sizes)

    @property
    def label_index(self) -> int | None:
        """The labels' place in a list of states (after the top layer), or None."""
        return self.n_layers if self.n_labels else None

    @property
    def n_groups(self) -> int:
        """Entries of a full list of states: the layers, then the labels if any."""
        return self.n_layers + (1 if self.n_labels else 0)

    def group_sizes(self) -> list[int]:
        """Units of every entry of a full list of states."""
        return self.sizes + ([self.n_labels] if self.n_labels else [])

    def extra_repr(self) -> str:
        labels = f", n_labels={self.n_labels}" if self.n_labels else ""
        return f"sizes={self.sizes}{labels}"

    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able, for checkpoints."""
        return {"sizes": self.sizes, "n_labels": self.n_labels}

    def _joining(self, index: int) -> Tensor:
        """The weights between entries ``index`` and ``index + 1`` of a list of states:
        (size of the upper, size of the lower)."""
        weight = self.weights[index] if index < len(self.weights) else self.label_weight
        return cast(Tensor, weight)

    def group_bias(self, index: int) -> Tensor:
        """The biases of entry ``index`` of a list of states (the labels last)."""
        return self.biases[index] if index < self.n_layers else cast(Tensor, self.label_bias)

    def check_labels_given(self, labels: object) -> None:
        """Refuse training data whose labels do not match the model: labels for a model
        with label units, none for one without (a check of presence only, so that it
        costs no device synchronisation).

        Raises
        ------
        ValueError
        """
        if (labels is None) != (self.n_labels == 0):
            raise ValueError(
                "a DBM with label units trains on labelled data (pass labels)"
                if labels is None
                else "this DBM has no label units; pass labels=None"
            )

    def training_labels(self, labels: Tensor | np.ndarray | None, n: int) -> Tensor | None:
        """The classes of ``n`` training examples, checked: (n,) int64 on the model's
        device, or None for a model without label units.

        Raises
        ------
        ValueError
            When a model with label units gets no labels or one without them gets some,
            or for labels that are not classes below ``n_labels``.
        """
        self.check_labels_given(labels)
        if labels is None:
            return None
        indices = as_labels("labels", labels, n, self.weights[0].device)
        self.label_states(indices, n)  # checks the range
        return indices

    def label_states(self, labels: Tensor | np.ndarray, n: int) -> Tensor:
        """Labels as the label units' states: (n, n_labels) in the model's dtype.

        Parameters
        ----------
        labels : Tensor or ndarray
            Class indices of shape (n,), or rows of shape (n, n_labels) to clamp as they
            are (one-hot rows; rows of zeros leave the labels' input out).
        n : int
        """
        if not self.n_labels:
            raise ValueError("this DBM has no label units; pass labels=None")
        weight = self.weights[0]
        if isinstance(labels, (Tensor, np.ndarray)) and labels.ndim == 2:
            rows = as_features("labels", labels, weight.dtype, weight.device)
            if rows.shape != (n, self.n_labels):
                raise ValueError(
                    f"labels must have shape ({n}, {self.n_labels}), got {tuple(rows.shape)}"
                )
            return rows
        indices = as_labels("labels", labels, n, weight.device)
        if len(indices) and int(indices.max()) >= self.n_labels:
            raise ValueError(f"labels must be below n_labels={self.n_labels}")
        return F.one_hot(indices, self.n_labels).to(weight.dtype)

    def save(self, path: str | os.PathLike[str], **extra: Any) -> Path:
        """Write the model atomically (``.safetensors``: pickle-free); :func:`dbn.load`
        reads it back ready to call."""
        return save_model("dbm", self, path, **extra)

    def images(self, x: Tensor | np.ndarray, name: str = "x") -> Tensor:
        """``x`` checked (shape, finite, in [0, 1], not empty) and cast to the model's
        dtype and device: (n, sizes[0]); errors call it ``name``."""
        weight = self.weights[0]
        return check_visible_data(x, self.sizes[0], "bernoulli", name, dtype=weight.dtype).to(
            weight.device
        )

    # --- energies -----------------------------------------------------------------------

    def energy(self, states: Sequence[Tensor]) -> Tensor:
        """E(x) of joint configurations.

        Parameters
        ----------
        states : sequence of Tensor
            ``states[i]`` of shape (n, sizes[i]), every layer (binary, or marginals for
            the expected energy under a factorised distribution), then the labels'
            (n, n_labels) if the model has them.

        Returns
        -------
        Tensor of shape (n,)
        """
        self._check_states(states, range(self.n_groups))
        energy: Tensor = -(states[0] @ self.biases[0])
        for index in range(self.n_groups - 1):
            above = states[index + 1]
            energy = energy - above @ self.group_bias(index + 1)
            energy = energy - (F.linear(states[index], self._joining(index)) * above).sum(dim=1)
        return energy

    def free_energy(
        self, states: Sequence[Tensor | None], summed_out: Literal["odd", "even"] = "odd"
    ) -> Tensor:
        """Free energy of half the layers with the other half summed out analytically.

        Parameters
        ----------
        states : sequence of Tensor or None
            One entry per layer (then the labels); those of the summed-out parity are
            ignored (may be None), the others have shape (n, sizes[i]).
        summed_out : {"odd", "even"}
            ``"odd"`` keeps the pixels, layer 2, layer 4, ...; ``"even"`` keeps layers
            1, 3, ... (the pixels summed out too). The labels count as layer
            ``n_layers``.

        Returns
        -------
        Tensor of shape (n,)
            ``-Σ_kept b·x - Σ_summed log Σ_x exp(x·input)``: ``Σ_j softplus(input_j)`` for
            a Bernoulli layer, ``logsumexp(input)`` for the labels.
        """
        check_choice("summed_out", summed_out, ("odd", "even"))
        kept = range(0 if summed_out == "odd" else 1, self.n_groups, 2)
        summed = range(1 if summed_out == "odd" else 0, self.n_groups, 2)
        present = [states[i] for i in kept]
        self._check_states(present, kept)
        free: Tensor = torch.zeros((), dtype=self.biases[0].dtype, device=self.biases[0].device)
        for index, x in zip(kept, present, strict=True):
            free = free - cast(Tensor, x) @ self.group_bias(index)
        for index in summed:
            free = free - self.summed_out_log(index, self.layer_input(states, index))
        return free

    def summed_out_log(self, index: int, inputs: Tensor) -> Tensor:
        """log Σ_x exp(x·input) over the states of entry ``index`` given its total
        input (n, size): Σ_j softplus for a Bernoulli layer, logsumexp for the labels.
        Returns (n,)."""
        if index == self.label_index:
            return torch.logsumexp(inputs, dim=1)
        return F.softplus(inputs).sum(dim=1)

    def _check_states(self, states: Sequence[Tensor | None], layers: range) -> None:
        if len(states) != len(layers):
            raise ValueError(f"expected {len(layers)} layers' states, got {len(states)}")
        sizes = self.group_sizes()
        for x, layer in zip(states, layers, strict=True):
            if x is None or x.dim() != 2 or x.shape[1] != sizes[layer]:
                name = "the labels" if layer == self.label_index else f"layer {layer}"
                raise ValueError(
                    f"{name} must have shape (n, {sizes[layer]}), "
                    f"got {None if x is None else tuple(x.shape)}"
                )

    # --- conditionals -------------------------------------------------------------------

    def layer_input(self, states: Sequence[Tensor | None], index: int) -> Tensor:
        """Total input to entry ``index`` of a list of states from its neighbours'
        states: (n, size of the entry). Only the neighbours' entries are read (None
        leaves one out)."""
        total: Tensor = self.group_bias(index)
        below = states[index - 1] if index > 0 else None
        above = states[index + 1] if index < self.n_groups - 1 else None
        if below is not None:
            total = total + F.linear(below, self._joining(index - 1))
        if above is not None:
            total = total + above @ self._joining(index)
        return total

    def conditional(self, index: int, inputs: Tensor) -> Tensor:
        """The distribution of entry ``index`` given its total input: sigmoid for a
        Bernoulli layer, softmax over the labels. (n, size)."""
        if index == self.label_index:
            return torch.softmax(inputs, dim=1)
        return torch.sigmoid(inputs)

    def _draw(self, index: int, probs: Tensor, generator: torch.Generator | None) -> Tensor:
        if index == self.label_index:
            return sample_one_hot(probs, generator)
        return bernoulli_sample(probs, generator).to(probs.dtype)

    def initial_marginals(self, v: Tensor, labels: Tensor | None = None) -> list[Tensor]:
        """The bottom-up pass that starts mean-field inference: each hidden layer below
        the top takes its input from below doubled (standing in for the input from above
        that it will have), as in Salakhutdinov's code; the top layer hears the clamped
        labels too. Returns (n, sizes[i]) for i >= 1, then the labels' (n, n_labels):
        ``labels`` themselves, or their softmax given the top layer."""
        marginals, below = [], v
        for index, weight in enumerate(self.weights, start=1):
            scale = 1.0 if index == self.n_layers - 1 else 2.0
            total = scale * F.linear(below, weight) + self.biases[index]
            if index == self.n_layers - 1 and labels is not None:
                total = total + labels @ cast(Tensor, self.label_weight)
            below = torch.sigmoid(total)
            marginals.append(below)
        if self.n_labels:
            if labels is None:
                top_down = F.linear(below, cast(Tensor, self.label_weight), self.label_bias)
                labels = torch.softmax(top_down, dim=1)
            marginals.append(labels)
        return marginals

    def mean_field(
        self,
        v: Tensor,
        n_steps: int = 10,
        damping: float = 0.0,
        labels: Tensor | np.ndarray | None = None,
    ) -> list[Tensor]:
        """Fully factorised posterior marginals q(x_i = 1 | v) of every hidden layer.

        Starts from :meth:`initial_marginals`, then updates the odd layers given the
        even ones and the even ones given the odd, ``n_steps`` times: each update
        solves its block's fixed-point equations exactly given the other block. The
        labels, if the model has them, are clamped to ``labels`` or else inferred as
        one more factor q(y | v) (a softmax).

        Parameters
        ----------
        v : Tensor of shape (n, sizes[0])
        n_steps : int
            Mean-field updates (0 keeps the bottom-up pass).
        damping : float in [0, 1)
            Each update keeps this share of the old marginals.
        labels : Tensor or ndarray, optional
            For a model with labels: class indices (n,) or label states (n, n_labels)
            to clamp; see :meth:`label_states`.

        Returns
        -------
        list of Tensor
            ``[q_1, ..., q_L]``, ``q_i`` of shape (n, sizes[i]), then the labels'
            (n, n_labels) if the model has them.
        """
        check_int("n_steps", n_steps, minimum=0)
        if not 0 <= damping < 1:
            raise ValueError(f"damping must be in [0, 1), got {damping!r}")
        if v.dim() != 2 or v.shape[1] != self.sizes[0]:  # the shape only: a hot path
            raise ValueError(f"v must have shape (n, {self.sizes[0]}), got {tuple(v.shape)}")
        clamped = None if labels is None else self.label_states(labels, len(v))
        states = [v, *self.initial_marginals(v, clamped)]
        for _ in range(n_steps):
            for first in (1, 2):
                for index in range(first, self.n_groups, 2):
                    if index == self.label_index and clamped is not None:
                        continue
                    new = self.conditional(index, self.layer_input(states, index))
                    states[index] = (
                        new if damping == 0 else damping * states[index] + (1 - damping) * new
                    )
        return states[1:]

    def visible_probs(self, h1: Tensor) -> Tensor:
        """p(v_i = 1 | h_1): the pixels' probabilities given the first hidden layer (its
        states or marginals), the only layer they hear. (n, sizes[0])."""
        return torch.sigmoid(F.linear(h1, self.weights[0].t(), self.biases[0]))

    def sweep(
        self,
        states: list[Tensor],
        generator: torch.Generator | None = None,
        clamp_labels: bool = False,
    ) -> list[Tensor]:
        """One block Gibbs sweep: the odd layers given the even ones, then the even ones
        (the pixels included) given the odd; the labels with their parity unless
        ``clamp_labels``. A new list of binary (one-hot for the labels) states."""
        states = list(states)
        for first in (1, 0):
            for index in range(first, self.n_groups, 2):
                if index == self.label_index and clamp_labels:
                    continue
                probs = self.conditional(index, self.layer_input(states, index))
                states[index] = self._draw(index, probs, generator)
        return states

    def chain_marginals(self, states: list[Tensor]) -> list[Tensor]:
        """The statistics of persistent chains that Salakhutdinov's ``dbm_mf.m`` uses:
        each odd layer's probabilities given the chains' states, then each even hidden
        layer's given those probabilities; the pixels and the labels keep their states.

        The same expectation as the states themselves, with less sampling noise.

        Parameters
        ----------
        states : list of Tensor
            ``states[i]`` of shape (n, sizes[i]), then the labels' (n, n_labels).

        Returns
        -------
        list of Tensor
            The same shapes.

        Examples
        --------
        >>> import torch
        >>> dbm = DBM([6, 4, 3], n_labels=2)
        >>> states = dbm.random_states(5, torch.Generator().manual_seed(0))
        >>> marginals = dbm.chain_marginals(states)
        >>> torch.equal(marginals[0], states[0]), torch.equal(marginals[3], states[3])
        (True, True)
        >>> bool(((marginals[1] > 0) & (marginals[1] < 1)).all())
        True
        """
        marginals = list(states)
        for first in (1, 2):
            for index in range(first, self.n_groups, 2):
                marginals[index] = self.conditional(index, self.layer_input(marginals, index))
        if self.label_index is not None:
            marginals[self.label_index] = states[self.label_index]
        return marginals

    def random_states(self, n: int, generator: torch.Generator | None = None) -> list[Tensor]:
        """n independent uniform configurations of every layer (then the labels)."""
        weight = self.weights[0]
        return [
            self._draw(
                index,
                torch.full((n, size), 1 / size if index == self.label_index else 0.5).to(weight),
                generator,
            )
            for index, size in enumerate(self.group_sizes())
        ]

    @torch.no_grad()
    def generate(
        self,
        n: int,
        gibbs_steps: int = 1000,
        generator: torch.Generator | None = None,
        labels: Tensor | np.ndarray | None = None,
    ) -> Tensor:
        """Images from ``n`` chains started at random, after ``gibbs_steps`` sweeps.

        Parameters
        ----------
        n : int
        gibbs_steps : int
        generator : torch.Generator, optional
        labels : Tensor or ndarray of shape (n,), optional
            Classes to clamp the label units to (a model with labels): digits of a
            chosen class.

        Returns
        -------
        Tensor of shape (n, sizes[0])
            The pixels' probabilities given the last first-hidden-layer state, in [0, 1].
        """
        check_int("n", n)
        check_int("gibbs_steps", gibbs_steps)
        states = self.random_states(n, generator)
        clamped = labels is not None
        if labels is not None:
            states[-1] = self.label_states(labels, n)
        for _ in range(gibbs_steps):
            states = self.sweep(states, generator, clamp_labels=clamped)
        return self.visible_probs(states[1])

    def top_marginals(
        self, v: Tensor, n_steps: int = 10, labels: Tensor | np.ndarray | None = None
    ) -> Tensor:
        """The top hidden layer's mean-field marginals q(h_L | v): (n, sizes[-1]);
        ``labels`` as in :meth:`mean_field`."""
        return self.mean_field(v, n_steps, labels=labels)[self.n_layers - 2]

    @torch.no_grad()
    def transform(
        self, x: Tensor | np.ndarray, n_steps: int = 10, batch_size: int = 1000
    ) -> Tensor:
        """The top hidden layer's mean-field marginals q(h_L | x): (n, sizes[-1])."""
        x = self.images(x)
        return torch.cat(
            [self.top_marginals(chunk, n_steps) for chunk in torch.split(x, batch_size)]
        )

    @torch.no_grad()
    def predict_proba(
        self, x: Tensor | np.ndarray, n_steps: int = 10, batch_size: int = 1000
    ) -> Tensor:
        """q(y | x), the labels' mean-field marginals of a model with labels:
        (n, n_labels)."""
        if not self.n_labels:
            raise ValueError("this DBM has no label units to predict")
        x = self.images(x)
        chunks = torch.split(x, batch_size)
        return torch.cat([self.mean_field(chunk, n_steps)[-1] for chunk in chunks])

    def forward(self, v: Tensor) -> Tensor:
        """The top layer's mean-field marginals (10 updates), as a feature map."""
        return self.top_marginals(v)


register("dbm", DBM, "a DBM")
