"""What a classifier looks like at initialisation, layer by layer (the comparison's
``init_stats.png``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dbn.models import ACTIVATIONS

__all__ = ["initial_statistics"]


def initial_statistics(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """Per hidden layer, at initialisation: activation mean/std, unit diversity, grad norm.

    ``unit_spread`` is the mean over examples of the standard deviation across a layer's
    units: exactly 0 when all units compute the same thing (zeros or constant init).

    Parameters
    ----------
    model : nn.Sequential
    x : Tensor of shape (batch, n_features)
    y : Tensor of shape (batch,)

    Returns
    -------
    list of dict, one per ``nn.Linear``
    """
    activations: list[torch.Tensor] = []
    linears = [m for m in model if isinstance(m, nn.Linear)]
    hooks = []
    for module in model:
        if isinstance(module, tuple(ACTIVATIONS.values())):
            hooks.append(module.register_forward_hook(lambda m, i, o: activations.append(o)))
    was_training = model.training
    model.eval()
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    model.train(was_training)
    for hook in hooks:
        hook.remove()
    rows = []
    for index, linear in enumerate(linears):
        row = {"layer": index + 1, "grad_norm": linear.weight.grad.norm().item()}
        if index < len(activations):
            out = activations[index].detach()
            row.update(
                activation_mean=out.mean().item(),
                activation_std=out.std().item(),
                unit_spread=out.std(dim=1).mean().item(),
            )
        rows.append(row)
    model.zero_grad(set_to_none=True)
    return rows
