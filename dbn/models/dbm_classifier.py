"""The classifier that Salakhutdinov & Hinton (2009, section 4.1) fine-tune from a DBM.

Its input is the image with the top hidden layer's mean-field marginals ``q(h_L | v)``
beside it, computed from the DBM and then held fixed. Its hidden layers start as the
DBM's: the first one's weights are ``[W_0, W_1ᵀ]`` over ``[v, q(h_2)]`` for a two-layer
DBM (one mean-field update of the first hidden layer), each layer above takes the next
DBM weights, and a softmax layer goes on top. Fine-tuning trains the MLP only; the
mean-field step stays the pretrained DBM's. A DBM with label units runs its mean field
with the label units off (rows of zeros), as Salakhutdinov's classifier code
(``mf_class``) does: the image alone decides the features.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from dbn._utils.checks import check_int
from dbn.io import save_model
from dbn.models.dbm import DBM
from dbn.models.mlp import build_mlp
from dbn.models.registry import register

__all__ = ["DBMClassifier"]


class DBMClassifier(nn.Module):
    """Images to class logits through a DBM's mean-field features and an MLP.

    Parameters
    ----------
    sizes : sequence of int
        The DBM's sizes, e.g. ``[784, 500, 1000]``.
    num_classes : int
    mean_field_steps : int
        Mean-field updates that compute ``q(h_L | v)``.
    n_labels : int
        The DBM's label units (0: none).

    Attributes
    ----------
    dbm : DBM
        Frozen: it computes the extra input.
    mlp : nn.Sequential
        Maps ``(n, sizes[0] + sizes[-1])`` to ``(n, num_classes)`` logits.

    Examples
    --------
    >>> import torch
    >>> from dbn.models import DBM, DBMClassifier
    >>> model = DBMClassifier.from_dbm(DBM([64, 32, 16]), num_classes=10)
    >>> model(torch.rand(5, 64)).shape
    torch.Size([5, 10])
    """

    def __init__(
        self,
        sizes: list[int],
        num_classes: int = 10,
        mean_field_steps: int = 10,
        n_labels: int = 0,
    ) -> None:
        super().__init__()
        check_int("num_classes", num_classes, minimum=2)
        check_int("mean_field_steps", mean_field_steps, minimum=0)
        self.sizes, self.num_classes, self.mean_field_steps = (
            list(sizes),
            num_classes,
            mean_field_steps,
        )
        self.dbm = DBM(sizes, n_labels=n_labels).requires_grad_(False)
        self.mlp = build_mlp([sizes[0] + sizes[-1], *sizes[1:]], num_classes)

    @classmethod
    def from_dbm(
        cls,
        dbm: DBM,
        num_classes: int = 10,
        mean_field_steps: int = 10,
        generator: torch.Generator | None = None,
        output_std: float = 0.01,
        output_bias_std: float = 0.0,
    ) -> DBMClassifier:
        """The classifier initialised from ``dbm`` (copied), its output layer's weights
        drawn from N(0, output_std²) and its biases from N(0, output_bias_std²) (zero by
        default; Salakhutdinov's ``backprop.m`` draws both at 0.1) with ``generator``.

        For a DBM deeper than two hidden layers the first layer's columns over
        ``q(h_L)`` start at zero, since ``h_L`` is not the first layer's neighbour.
        """
        model = cls(dbm.sizes, num_classes, mean_field_steps, dbm.n_labels).to(dbm.weights[0])
        model.dbm.load_state_dict(dbm.state_dict())
        linears = [layer for layer in model.mlp if isinstance(layer, nn.Linear)]
        n_pixels = dbm.sizes[0]
        with torch.no_grad():
            first = linears[0]
            first.weight.zero_()
            first.weight[:, :n_pixels].copy_(dbm.weights[0])
            if dbm.n_layers == 3:
                first.weight[:, n_pixels:].copy_(dbm.weights[1].t())
            first.bias.copy_(dbm.biases[1])
            for index, layer in enumerate(linears[1:-1], start=1):
                layer.weight.copy_(dbm.weights[index])
                layer.bias.copy_(dbm.biases[index + 1])
            output = linears[-1]
            output.weight.normal_(0.0, output_std, generator=generator)
            if output_bias_std > 0:
                output.bias.normal_(0.0, output_bias_std, generator=generator)
            else:
                output.bias.zero_()
        return model

    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able, for checkpoints."""
        return {
            "sizes": self.sizes,
            "num_classes": self.num_classes,
            "mean_field_steps": self.mean_field_steps,
            "n_labels": self.dbm.n_labels,
        }

    def save(self, path: str | os.PathLike[str], **extra: Any) -> Path:
        """Write the classifier atomically; :func:`dbn.load` returns it in eval mode."""
        return save_model("dbm-classifier", self, path, **extra)

    @torch.no_grad()
    def features(self, x: Tensor | np.ndarray, batch_size: int = 1000) -> Tensor:
        """The MLP's input ``[x, q(h_L | x)]``: (n, sizes[0] + sizes[-1])."""
        x = self.dbm.images(x)
        return torch.cat([self._with_top(chunk) for chunk in torch.split(x, batch_size)])

    @torch.no_grad()
    def _with_top(self, x: Tensor) -> Tensor:
        labels_off = x.new_zeros(len(x), self.dbm.n_labels) if self.dbm.n_labels else None
        top = self.dbm.top_marginals(x, self.mean_field_steps, labels_off)
        return torch.cat([x, top], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of shape (n, num_classes) for images ``x`` of shape (n, sizes[0])."""
        return self.mlp(self._with_top(x))


def _in_eval_mode(**config: Any) -> DBMClassifier:
    return DBMClassifier(**config).eval()


register("dbm-classifier", _in_eval_mode, "a DBM classifier")
