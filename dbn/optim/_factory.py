"""The optimiser factory shared by RBM training and fine-tuning.

Both put the weight matrices and the other parameters (biases, norm scales) in two
groups, so that the L2 weight cost applies to the weights only, as Hinton's guide and
the fine-tuning papers do.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["OPTIMIZERS", "make_optimizer", "split_weights"]

OPTIMIZERS = ("sgd", "adam")


def split_weights(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Every trainable parameter of ``model``: its weight matrices, then the rest.

    The matrices (two or more dimensions) are what an L2 weight cost penalises; the
    rest are biases and norm scales. Together they are ``model.parameters()`` with
    ``requires_grad``, so an optimiser built from them steps every parameter the model
    has, whatever a subclass adds (a DBM's label weights, say).

    Parameters
    ----------
    model : nn.Module

    Returns
    -------
    weights, others : list of Parameter

    Examples
    --------
    >>> import dbn
    >>> weights, others = split_weights(dbn.RBM(64, 16))
    >>> [tuple(p.shape) for p in weights], [tuple(p.shape) for p in others]
    ([(16, 64)], [(16,), (64,)])
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    return [p for p in trainable if p.dim() > 1], [p for p in trainable if p.dim() <= 1]


def make_optimizer(
    name: str,
    weights: Iterable[nn.Parameter],
    others: Iterable[nn.Parameter],
    *,
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    capturable: bool = False,
    fused: bool = False,
) -> torch.optim.Optimizer:
    """SGD with classical momentum, or Adam, with ``weight_decay`` on ``weights`` only.

    Parameters
    ----------
    name : {"sgd", "adam"}
    weights : iterable of Parameter
        Penalised by ``weight_decay``.
    others : iterable of Parameter
        Not penalised.
    lr, momentum, weight_decay : float
        ``momentum`` applies to SGD only.
    capturable : bool
        Adam keeps its step count on the device so that its step can be captured in a
        CUDA graph (SGD's step needs nothing for that).
    fused : bool
        SGD takes torch's fused step, which updates the weights, their momentum and
        weight cost in one pass over memory where the default makes several.
        Only for training in which every parameter gets a gradient at every step:
        torch's fused step fails on a group that mixes parameters with and without
        momentum buffers (fine-tuning's output-layer warm-up makes such a group).

    Returns
    -------
    torch.optim.Optimizer

    Examples
    --------
    >>> import dbn
    >>> from dbn.optim import make_optimizer
    >>> rbm = dbn.RBM(64, 16)
    >>> weights, biases = [rbm.weight], [rbm.hidden_bias, rbm.visible_bias]
    >>> optimizer = make_optimizer("sgd", weights, biases, lr=0.1, momentum=0.5, weight_decay=2e-4)
    >>> [group["weight_decay"] for group in optimizer.param_groups]
    [0.0002, 0.0]
    """
    groups = [
        {"params": list(weights), "weight_decay": weight_decay},
        {"params": list(others), "weight_decay": 0.0},
    ]
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, capturable=capturable)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, fused=fused or None)
    raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {name!r}")
