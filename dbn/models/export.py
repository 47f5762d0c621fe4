"""Export a stack of RBMs into a plain PyTorch MLP."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from dbn.io import atomic_save
from dbn.models._activations import ActivationName
from dbn.models.dbn import DBN
from dbn.models.mlp import build_mlp
from dbn.models.rbm import RBM
from dbn.models.registry import load, register

__all__ = ["CLASSIFIER_KIND", "make_classifier", "save_classifier", "to_mlp"]


def _as_rbms(source: object) -> list[RBM]:
    if isinstance(source, (str, os.PathLike)):
        source = load(source, expect=(DBN, RBM))
    if isinstance(source, DBN):
        return source.rbms
    if isinstance(source, RBM):
        return [source]
    if isinstance(source, Sequence) and source and all(isinstance(r, RBM) for r in source):
        return list(source)
    raise ValueError(
        "to_mlp needs a DBN, an RBM, a list of RBMs or a checkpoint path, "
        f"got {type(source).__name__}"
    )


def to_mlp(
    source: DBN | RBM | Sequence[RBM] | str | os.PathLike[str],
    num_classes: int | None = 10,
    activation: ActivationName = "sigmoid",
    dropout: float = 0.0,
    input_dropout: float = 0.0,
    norm: Literal["batch", "layer"] | None = None,
    generator: torch.Generator | None = None,
) -> nn.Sequential:
    """Build an ``nn.Sequential`` MLP whose hidden layers hold the RBMs' weights exactly.

    The network is built by :func:`dbn.models.mlp.build_mlp` (the builder fine-tuning uses);
    each RBM's ``Linear(n_visible, n_hidden)`` then receives ``weight = rbm.weight`` and
    ``bias = rbm.hidden_bias``, so that with the default sigmoid the MLP computes the
    DBN's hidden probabilities layer for layer.

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
    generator : torch.Generator, optional
        Source of the new output layer's weights (PyTorch's default scheme); the
        global generator if None.

    Returns
    -------
    nn.Sequential
        Input (batch, n_visible of the first RBM); output (batch, num_classes), or the
        top features when ``num_classes`` is None.

    Examples
    --------
    >>> import dbn
    >>> stack = dbn.DBN([64, 32, 16])
    >>> model = dbn.to_mlp(stack, num_classes=10)
    >>> model[0].weight.equal(stack.layers[0].weight)  # the RBM's weights, copied
    True
    >>> model(dbn.load_digits()["test"].x).shape
    torch.Size([270, 10])
    """
    rbms = _as_rbms(source)
    for below, above in zip(rbms[:-1], rbms[1:], strict=True):
        if below.n_hidden != above.n_visible:
            raise ValueError(
                f"RBMs do not stack: {below.n_hidden} hidden units feed {above.n_visible} visible"
            )
    model = build_mlp(
        [rbms[0].n_visible, *(rbm.n_hidden for rbm in rbms)],
        num_classes,
        activation=activation,
        dropout=dropout,
        input_dropout=input_dropout,
        norm=norm,
        generator=generator,
    )
    hidden_layers = [module for module in model if isinstance(module, nn.Linear)]
    with torch.no_grad():
        for linear, rbm in zip(hidden_layers, rbms, strict=False):
            linear.weight.copy_(rbm.weight)
            linear.bias.copy_(rbm.hidden_bias)
    return model.to(rbms[0].weight.device)


def make_classifier(
    sizes: Sequence[int],
    num_classes: int,
    init: str = "default",
    activation: ActivationName = "sigmoid",
    checkpoint: DBN | Sequence[RBM] | str | os.PathLike[str] | None = None,
    generator: torch.Generator | None = None,
    **layer_options: Any,
) -> nn.Sequential:
    """The classifier of one initialisation: from a DBN when ``init == "dbn"``.

    Parameters
    ----------
    sizes : sequence of int
        Input then hidden layer sizes, e.g. ``[784, 500, 500, 2000]``.
    num_classes : int
    init : str
        ``"dbn"`` (weights from ``checkpoint``) or a name from :func:`dbn.init.names`.
    activation : {"sigmoid", "relu", "tanh"}
    checkpoint : DBN, path or list of RBM
        Required for ``init == "dbn"``; its sizes must equal ``sizes``.
    generator : torch.Generator, optional
        Source of the random weights (all of them, or the DBN net's new output layer).
    **layer_options
        ``dropout``, ``input_dropout``, ``norm``: as in :func:`dbn.models.mlp.build_mlp`.

    Returns
    -------
    nn.Sequential

    Examples
    --------
    >>> from dbn.models import make_classifier
    >>> model = make_classifier([64, 32], num_classes=10, init="he_normal", activation="relu")
    >>> [type(layer).__name__ for layer in model]
    ['Linear', 'ReLU', 'Linear']
    """
    if init != "dbn":
        return build_mlp(
            sizes, num_classes, activation, init=init, generator=generator, **layer_options
        )
    if checkpoint is None:
        raise ValueError("init 'dbn' needs a pretrained checkpoint")
    model = to_mlp(
        checkpoint, num_classes, activation=activation, generator=generator, **layer_options
    )
    found = [m.in_features for m in model if isinstance(m, nn.Linear)]
    if found != list(sizes):
        raise ValueError(f"the checkpoint's layer sizes {found} differ from {list(sizes)}")
    return model


CLASSIFIER_KIND = "classifier"


def save_classifier(
    model: nn.Sequential,
    path: str | os.PathLike[str],
    sizes: Sequence[int],
    num_classes: int,
    activation: ActivationName = "sigmoid",
    dropout: float = 0.0,
    input_dropout: float = 0.0,
    norm: str | None = None,
    **extra: Any,
) -> None:
    """Save a classifier built by :func:`dbn.models.mlp.build_mlp` (or :func:`to_mlp`) so that
    :func:`dbn.load` rebuilds it: its architecture, its tensors and JSON-able ``extra``.

    Parameters
    ----------
    model : nn.Sequential
    path : path
    sizes, num_classes, activation, dropout, input_dropout, norm
        The arguments of :func:`dbn.models.mlp.build_mlp` that built it.
    **extra
        Recorded as they are (the run's configuration, its test error, ...).

    Examples
    --------
    >>> import os, tempfile, dbn
    >>> from dbn.models import build_mlp, save_classifier
    >>> model = build_mlp([64, 32], num_classes=10)
    >>> path = os.path.join(tempfile.mkdtemp(), "classifier.safetensors")
    >>> save_classifier(model, path, sizes=[64, 32], num_classes=10)
    >>> dbn.load(path)[0].weight.equal(model[0].weight)
    True
    """
    architecture = dict(
        sizes=list(sizes),
        num_classes=num_classes,
        activation=activation,
        dropout=dropout,
        input_dropout=input_dropout,
        norm=norm,
    )
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    atomic_save(
        {"kind": CLASSIFIER_KIND, "config": architecture, "state": state, "extra": extra}, path
    )


def _classifier(**architecture: Any) -> nn.Sequential:
    """The network that :func:`save_classifier` describes, in eval mode."""
    return build_mlp(**architecture).eval()


register(CLASSIFIER_KIND, _classifier, "a classifier")
