"""The generative DBN of Hinton, Osindero & Teh (2006): labels in the top RBM, untied
recognition and generative weights below it.

The model is ``lab <-> top <-> pen -> ... -> vis``: an undirected associative memory
(a :class:`~dbn.models.LabelRBM` over the penultimate layer and the labels) on top of a
directed belief net whose generative weights point down. Inference uses separate
recognition weights pointing up. Greedy pretraining ties both to the RBMs' weights;
the up-down algorithm (:mod:`dbn.training.updown`) then unties and fine-tunes them.
It classifies by the top RBM's free energy under each label, with no backprop head, and
generates images of a chosen class.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from dbn._utils.arrays import as_labels
from dbn._utils.checks import check_int
from dbn.io import save_model
from dbn.models.label_rbm import LabelRBM
from dbn.models.rbm import RBM, bernoulli_sample, check_visible_data
from dbn.models.registry import register

__all__ = ["GenerativeDBN"]


class GenerativeDBN(nn.Module):
    """A DBN that models images and their labels jointly.

    Parameters
    ----------
    sizes : sequence of int
        Units per layer from the pixels up, the top RBM's hidden layer last, e.g. the
        paper's ``[784, 500, 500, 2000]``: two directed layers and a top RBM of 2000
        hidden units over the 500 penultimate units and the labels.
    n_labels : int
        Classes; the top RBM's softmax group.
    weight_std : float
        Initial weights' standard deviation (replaced by pretraining).
    generator : torch.Generator, optional

    Attributes
    ----------
    recognition : nn.ModuleList of nn.Linear
        Layer ``i`` maps ``sizes[i]`` units up to ``sizes[i + 1]`` (weights and
        recognition biases).
    generative : nn.ModuleList of nn.Linear
        Layer ``i`` maps ``sizes[i + 1]`` units down to ``sizes[i]`` (weights and
        generative biases).
    top : LabelRBM
        The associative memory over ``sizes[-2]`` units and ``n_labels`` labels.

    Examples
    --------
    >>> import torch
    >>> from dbn.models import GenerativeDBN
    >>> model = GenerativeDBN([64, 32, 32, 48], n_labels=10)
    >>> x = torch.rand(5, 64)
    >>> model.predict_proba(x).shape, model.predict(x).shape
    (torch.Size([5, 10]), torch.Size([5]))
    >>> model.generate(torch.arange(3), gibbs_steps=10).shape
    torch.Size([3, 64])
    """

    def __init__(
        self,
        sizes: Sequence[int],
        n_labels: int = 10,
        weight_std: float = 0.01,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if len(sizes) < 3:
            raise ValueError(
                f"sizes must name the pixels, a penultimate layer and the top layer, got {sizes!r}"
            )
        for size in sizes:
            check_int("each layer size", size)
        check_int("n_labels", n_labels, minimum=2)
        self.sizes = list(sizes)
        self.n_labels = n_labels
        below = list(zip(self.sizes[:-2], self.sizes[1:-1], strict=True))
        self.recognition = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in below)
        self.generative = nn.ModuleList(nn.Linear(n_out, n_in) for n_in, n_out in below)
        self.top = LabelRBM(self.sizes[-2], n_labels, self.sizes[-1], weight_std, generator)
        with torch.no_grad():  # tied, as greedy pretraining leaves them
            for up, down in zip(self.recognition, self.generative, strict=True):
                nn.init.normal_(up.weight, std=weight_std, generator=generator)
                down.weight.copy_(up.weight.t())
                nn.init.zeros_(up.bias)
                nn.init.zeros_(down.bias)

    def as_rbm(self, index: int) -> RBM:
        """Directed layer ``index`` as an RBM (its recognition weights and biases, its
        generative biases as the visible ones): where greedy pretraining starts."""
        up, down = self.recognition[index], self.generative[index]
        rbm = RBM(up.in_features, up.out_features).to(up.weight)
        with torch.no_grad():
            rbm.weight.copy_(up.weight)
            rbm.hidden_bias.copy_(up.bias)
            rbm.visible_bias.copy_(down.bias)
        return rbm

    @torch.no_grad()
    def tie(self, index: int, rbm: RBM) -> None:
        """Set directed layer ``index`` from a trained RBM: its weights both ways, its
        hidden biases for recognition and its visible biases for generation."""
        self.recognition[index].weight.copy_(rbm.weight)
        self.recognition[index].bias.copy_(rbm.hidden_bias)
        self.generative[index].weight.copy_(rbm.weight.t())
        self.generative[index].bias.copy_(rbm.visible_bias)

    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able, for checkpoints."""
        return {"sizes": self.sizes, "n_labels": self.n_labels}

    def save(self, path: str | os.PathLike[str], **extra: Any) -> Path:
        """Write the model atomically (``.safetensors``: pickle-free); :func:`dbn.load`
        reads it back ready to call."""
        return save_model("generative-dbn", self, path, **extra)

    # --- inference ----------------------------------------------------------------------

    def images(self, x: Tensor | np.ndarray, name: str = "x") -> Tensor:
        """``x`` checked (shape, finite, in [0, 1], not empty) and cast to the model's
        dtype and device: (n, sizes[0]); errors call it ``name``."""
        weight = self.recognition[0].weight
        return check_visible_data(x, self.sizes[0], "bernoulli", name, dtype=weight.dtype).to(
            weight.device
        )

    def training_labels(self, labels: Tensor | np.ndarray | None, n: int) -> Tensor:
        """The classes of ``n`` training images, checked: (n,) int64 on the model's
        device, each below ``n_labels``.

        Raises
        ------
        ValueError
            No labels (the model learns images with their classes), or labels of another
            length or outside ``range(n_labels)``.
        """
        if labels is None:
            raise ValueError("a generative DBN trains on labelled images (pass labels)")
        indices = as_labels("labels", labels, n, self.recognition[0].weight.device)
        if int(indices.max()) >= self.n_labels:
            raise ValueError(f"labels must be below n_labels={self.n_labels}")
        return indices

    def up(self, x: Tensor | np.ndarray) -> Tensor:
        """The penultimate layer's probabilities by a deterministic recognition pass.

        Parameters
        ----------
        x : Tensor or ndarray of shape (n, sizes[0])

        Returns
        -------
        Tensor of shape (n, sizes[-2])
        """
        h = self.images(x)
        for layer in self.recognition:
            h = torch.sigmoid(layer(h))
        return h

    @torch.no_grad()
    def predict_proba(self, x: Tensor | np.ndarray, batch_size: int = 1000) -> Tensor:
        """p(label | image): the softmax of the top RBM's negative free energies under
        each label, after a deterministic up pass. (n, n_labels)."""
        x = self.images(x)
        parts = [self.top.predict_proba(self.up(chunk)) for chunk in torch.split(x, batch_size)]
        return torch.cat(parts)

    @torch.no_grad()
    def predict(self, x: Tensor | np.ndarray, batch_size: int = 1000) -> Tensor:
        """The label whose free energy in the top RBM is lowest: (n,), int64."""
        x = self.images(x)
        return torch.cat([self.top.predict(self.up(chunk)) for chunk in torch.split(x, batch_size)])

    @torch.no_grad()
    def error_rate(self, x: Tensor | np.ndarray, labels: Tensor | np.ndarray) -> float:
        """The share of images whose predicted label is wrong."""
        predicted = self.predict(x)
        labels = as_labels("labels", labels, len(predicted), predicted.device)
        return (predicted != labels).double().mean().item()

    # --- generation ---------------------------------------------------------------------

    @torch.no_grad()
    def down(self, pen: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One generative pass from penultimate states: sampled hidden layers, the
        pixels' probabilities. (n, sizes[0])."""
        h = pen
        for index in reversed(range(len(self.generative))):
            probs = torch.sigmoid(self.generative[index](h))
            h = probs if index == 0 else bernoulli_sample(probs, generator).to(probs.dtype)
        return h

    @torch.no_grad()
    def top_chain(
        self,
        labels: Tensor | np.ndarray,
        steps: Sequence[int],
        generator: torch.Generator | None = None,
    ) -> list[Tensor]:
        """The associative memory's chain with ``labels`` clamped, seen through one down
        pass after each of ``steps`` (increasing) Gibbs steps: the paper's "mind's eye".

        Returns
        -------
        list of Tensor of shape (n, sizes[0])
            Pixel probabilities, one tensor per entry of ``steps``.
        """
        weight = self.top.weight
        labels = as_labels("labels", labels, len(labels), weight.device)
        start = torch.rand(
            (len(labels), self.top.n_features), generator=generator, device=weight.device
        )
        pen = bernoulli_sample(start, generator).to(weight.dtype)
        done, frames = 0, []
        for total in steps:
            if total > done:
                pen = self.top.gibbs_clamped(pen, labels, total - done, generator)
                done = total
            frames.append(self.down(pen, generator))
        return frames

    def generate(
        self,
        labels: Tensor | np.ndarray,
        gibbs_steps: int = 1000,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Images of the given classes: clamp the labels, run ``gibbs_steps`` steps of Gibbs
        sampling in the top RBM, then one down pass.

        Parameters
        ----------
        labels : Tensor or ndarray of shape (n,)
            The class of each image to generate.
        gibbs_steps : int
        generator : torch.Generator, optional

        Returns
        -------
        Tensor of shape (n, sizes[0])
            Pixel probabilities in [0, 1].
        """
        check_int("gibbs_steps", gibbs_steps)
        return self.top_chain(labels, [gibbs_steps], generator)[0]


register("generative-dbn", GenerativeDBN, "a generative DBN")
