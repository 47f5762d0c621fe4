"""The one MLP builder: Linear → [norm] → activation → [dropout] per hidden layer.

:func:`dbn.to_mlp` builds with it and copies the RBMs' weights in; fine-tuning from a
random initialisation builds with it and initialises by name (:mod:`dbn.init`). The
layers are created on the ``meta`` device and then drawn from ``generator``, so
building a model never touches PyTorch's global random state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from dbn import init as initializers
from dbn._utils.checks import check_choice, check_fraction, check_int
from dbn.models._activations import ACTIVATIONS, ActivationName, make_activation

__all__ = ["NORMS", "build_mlp", "check_layer_options"]

NORMS = (None, "batch", "layer")
_NORM_LAYERS: dict[str, type[nn.Module]] = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}


def check_layer_options(
    activation: str, dropout: float, input_dropout: float, norm: str | None
) -> None:
    """Validate the per-layer options shared by :func:`build_mlp` and :func:`dbn.to_mlp`."""
    check_choice("activation", activation, ACTIVATIONS)
    check_fraction("dropout", dropout)
    check_fraction("input_dropout", input_dropout)
    check_choice("norm", norm, NORMS)


def build_mlp(
    sizes: Sequence[int],
    num_classes: int | None,
    activation: ActivationName = "sigmoid",
    dropout: float = 0.0,
    input_dropout: float = 0.0,
    norm: Literal["batch", "layer"] | None = None,
    init: str = "default",
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
) -> nn.Sequential:
    """A feed-forward classifier (or feature extractor) initialised by a named scheme.

    Parameters
    ----------
    sizes : sequence of int
        Input then hidden layer sizes, e.g. ``[784, 500, 500, 2000]``.
    num_classes : int or None
        Size of the output layer (logits); ``None`` ends at the last hidden layer.
    activation : {"sigmoid", "relu", "tanh"}
    dropout : float in [0, 1)
        Dropout after every hidden activation (Srivastava et al. 2014).
    input_dropout : float in [0, 1)
        Dropout on the input.
    norm : {"batch", "layer"} or None
        Normalisation after each hidden ``Linear``, before the activation.
    init : str
        A scheme of :func:`dbn.init.names` for every ``Linear`` (the output layer too).
    generator : torch.Generator, optional
        Source of the initial weights (CPU); PyTorch's global generator if None.
    device : str or torch.device, optional
        Where the model lives; the CPU by default.

    Returns
    -------
    nn.Sequential
        Maps (batch, sizes[0]) to (batch, num_classes), or to (batch, sizes[-1]).

    Examples
    --------
    >>> from dbn.models import build_mlp
    >>> model = build_mlp([64, 100, 50], num_classes=10, activation="relu", init="he_normal")
    >>> [type(layer).__name__ for layer in model]
    ['Linear', 'ReLU', 'Linear', 'ReLU', 'Linear']
    """
    check_layer_options(activation, dropout, input_dropout, norm)
    sizes = [check_int("layer size", size) for size in sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes needs an input and at least one hidden size, got {sizes!r}")
    if num_classes is not None:
        check_int("num_classes", num_classes)
    modules: list[nn.Module] = [nn.Dropout(input_dropout)] if input_dropout > 0 else []
    with torch.device("meta"):
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            modules.append(nn.Linear(n_in, n_out))
            if norm is not None:
                modules.append(_NORM_LAYERS[norm](n_out))
            modules.append(make_activation(activation))
            if dropout > 0:
                modules.append(nn.Dropout(dropout))
        if num_classes is not None:
            modules.append(nn.Linear(sizes[-1], num_classes))
    model = nn.Sequential(*modules).to_empty(device="cpu")
    for module in model.modules():
        if isinstance(module, tuple(_NORM_LAYERS.values())):
            module.reset_parameters()  # ones and zeros: no randomness
    initializers.apply(model, init, activation=activation, generator=generator)
    return model.to(device) if device is not None else model
