"""Export a stack of RBMs into a plain PyTorch MLP."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from dbn.rbm import RBM
from dbn.stack import DBN, load

__all__ = ["to_mlp", "ACTIVATIONS", "NORMS", "make_activation"]

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}
NORMS = (None, "batch", "layer")


def make_activation(name: str) -> nn.Module:
    """An activation module by name: ``sigmoid``, ``relu`` or ``tanh``."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


def _as_rbms(source) -> list[RBM]:
    if isinstance(source, (str, os.PathLike)):
        source = load(source)
    if isinstance(source, DBN):
        return list(source.layers)
    if isinstance(source, RBM):
        return [source]
    if isinstance(source, Sequence) and source and all(isinstance(r, RBM) for r in source):
        return list(source)
    raise ValueError(
        "to_mlp needs a DBN, an RBM, a list of RBMs or a checkpoint path, "
        f"got {type(source).__name__}"
    )


def to_mlp(
    source: DBN | RBM | Sequence[RBM] | str | os.PathLike,
    num_classes: int | None = 10,
    activation: Literal["sigmoid", "relu", "tanh"] = "sigmoid",
    dropout: float = 0.0,
    input_dropout: float = 0.0,
    norm: Literal["batch", "layer"] | None = None,
) -> nn.Sequential:
    """Build an ``nn.Sequential`` MLP whose hidden layers hold the RBMs' weights exactly.

    Each RBM becomes ``Linear(n_visible, n_hidden)`` with ``weight = rbm.weight`` and
    ``bias = rbm.hidden_bias``, followed by the activation, so that with the default
    sigmoid the MLP computes the DBN's hidden probabilities layer for layer.

    Parameters
    ----------
    source : DBN, RBM, list of RBM, or path
        The pretrained stack, or a checkpoint written by ``DBN.save``.
    num_classes : int or None
        Size of a new output layer (PyTorch's default init, logits out);
        ``None`` for a feature extractor without a head.
    activation : {"sigmoid", "relu", "tanh"}
        Sigmoid is what the RBMs were trained with; the others copy the same weights.
    dropout : float
        Dropout after every hidden activation (Srivastava et al. 2014).
    input_dropout : float
        Dropout on the input.
    norm : {"batch", "layer"} or None
        Optional normalisation after each hidden ``Linear``, before the activation.

    Returns
    -------
    nn.Sequential
        Input (batch, n_visible of the first RBM); output (batch, num_classes), or the
        top features when ``num_classes`` is None.

    Examples
    --------
    >>> import dbn
    >>> model = dbn.to_mlp("pretrained/mnist-784-500-500-2000.pt")  # doctest: +SKIP
    """
    rbms = _as_rbms(source)
    for name, rate in (("dropout", dropout), ("input_dropout", input_dropout)):
        if not 0 <= rate < 1:
            raise ValueError(f"{name} must lie in [0, 1), got {rate!r}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if num_classes is not None and (isinstance(num_classes, bool) or num_classes < 1):
        raise ValueError(f"num_classes must be a positive integer or None, got {num_classes!r}")
    for below, above in zip(rbms[:-1], rbms[1:], strict=True):
        if below.n_hidden != above.n_visible:
            raise ValueError(
                f"RBMs do not stack: {below.n_hidden} hidden units feed {above.n_visible} visible"
            )
    modules: list[nn.Module] = []
    if input_dropout > 0:
        modules.append(nn.Dropout(input_dropout))
    for rbm in rbms:
        linear = nn.Linear(rbm.n_visible, rbm.n_hidden)
        with torch.no_grad():
            linear.weight.copy_(rbm.weight)
            linear.bias.copy_(rbm.hidden_bias)
        modules.append(linear)
        if norm == "batch":
            modules.append(nn.BatchNorm1d(rbm.n_hidden))
        elif norm == "layer":
            modules.append(nn.LayerNorm(rbm.n_hidden))
        modules.append(make_activation(activation))
        if dropout > 0:
            modules.append(nn.Dropout(dropout))
    if num_classes is not None:
        modules.append(nn.Linear(rbms[-1].n_hidden, num_classes))
    return nn.Sequential(*modules).to(rbms[0].weight.device)
