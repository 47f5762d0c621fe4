"""The hidden activations the toolkit offers, by name: one table for every module."""

from __future__ import annotations

from typing import Literal

from torch import nn

from dbn._utils.checks import check_choice

__all__ = ["ACTIVATIONS", "ActivationName", "make_activation"]

# For signatures; ACTIVATIONS below is the table the code reads.
ActivationName = Literal["sigmoid", "relu", "tanh"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
}


def make_activation(name: str) -> nn.Module:
    """An activation module by name: ``sigmoid``, ``relu`` or ``tanh``."""
    check_choice("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]()
