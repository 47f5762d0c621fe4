"""Weight-initialisation baselines by name, each delegating to ``torch.nn.init``.

Every scheme sets the weights of every ``nn.Linear`` in a model and zeroes its biases,
except ``default``, which restores PyTorch's own ``Linear.reset_parameters``. Gains
come from ``torch.nn.init.calculate_gain(activation)``: 1 for sigmoid, 5/3 for tanh,
√2 for ReLU.

Randomness comes from PyTorch's global generator; seed it with ``torch.manual_seed``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["apply", "INITIALIZERS", "names"]


def _zeros(weight: torch.Tensor, gain: float, activation: str) -> None:
    """All weights 0. Every hidden unit of a layer then computes the same function and
    receives the same gradient, so they stay identical forever (the symmetry problem)."""
    nn.init.zeros_(weight)


def _constant(weight: torch.Tensor, gain: float, activation: str) -> None:
    """All weights 0.01: non-zero but still symmetric, so hidden units stay identical."""
    nn.init.constant_(weight, 0.01)


def _normal(weight: torch.Tensor, gain: float, activation: str) -> None:
    """W ~ N(0, 0.01²), the small random init of Hinton's RBM guide; too small for deep nets."""
    nn.init.normal_(weight, mean=0.0, std=0.01)


def _uniform(weight: torch.Tensor, gain: float, activation: str) -> None:
    """W ~ U(-1/√fan_in, 1/√fan_in), the classic heuristic (LeCun et al. 1998)."""
    bound = 1.0 / math.sqrt(weight.shape[1])
    nn.init.uniform_(weight, -bound, bound)


def _xavier_uniform(weight: torch.Tensor, gain: float, activation: str) -> None:
    """W ~ U(-a, a), a = gain·√(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    nn.init.xavier_uniform_(weight, gain=gain)


def _xavier_normal(weight: torch.Tensor, gain: float, activation: str) -> None:
    """W ~ N(0, σ²), σ = gain·√(2 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    nn.init.xavier_normal_(weight, gain=gain)


def _he_uniform(weight: torch.Tensor, gain: float, activation: str) -> None:
    """W ~ U(-b, b), b = gain·√(3 / fan_in) (He et al. 2015); gain √2 for ReLU."""
    nn.init.kaiming_uniform_(weight, mode="fan_in", nonlinearity=activation)


def _he_normal(weight: torch.Tensor, gain: float, activation: str) -> None:
    """W ~ N(0, σ²), σ = gain / √fan_in (He et al. 2015); gain √2 for ReLU."""
    nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity=activation)


def _orthogonal(weight: torch.Tensor, gain: float, activation: str) -> None:
    """W = gain·Q with Q a random (semi-)orthogonal matrix (Saxe et al. 2014)."""
    nn.init.orthogonal_(weight, gain=gain)


def _sparse(weight: torch.Tensor, gain: float, activation: str) -> None:
    """90 % of each column's weights zero, the rest N(0, 0.01²) (Martens 2010)."""
    nn.init.sparse_(weight, sparsity=0.9, std=0.01)


INITIALIZERS: dict[str, Callable[[torch.Tensor, float, str], None]] = {
    "zeros": _zeros,
    "constant": _constant,
    "normal": _normal,
    "uniform": _uniform,
    "xavier_uniform": _xavier_uniform,
    "xavier_normal": _xavier_normal,
    "he_uniform": _he_uniform,
    "he_normal": _he_normal,
    "orthogonal": _orthogonal,
    "sparse": _sparse,
}
ACTIVATIONS = ("sigmoid", "relu", "tanh")


def names() -> list[str]:
    """Every scheme :func:`apply` accepts."""
    return [*INITIALIZERS, "default"]


@torch.no_grad()
def apply(model: nn.Module, name: str, activation: str = "sigmoid") -> nn.Module:
    """Initialise every ``nn.Linear`` in ``model`` in place by the scheme ``name``.

    Parameters
    ----------
    model : nn.Module
    name : str
        One of :func:`names`: ``zeros``, ``constant``, ``normal``, ``uniform``,
        ``xavier_uniform``, ``xavier_normal``, ``he_uniform``, ``he_normal``,
        ``orthogonal``, ``sparse`` or ``default`` (PyTorch's own).
    activation : {"sigmoid", "relu", "tanh"}
        The hidden activation, which sets the gain.

    Returns
    -------
    nn.Module
        ``model``, for chaining.
    """
    if name not in names():
        raise ValueError(f"unknown initialisation {name!r}; choose one of {names()}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    linears = [module for module in model.modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ValueError("the model has no nn.Linear layers to initialise")
    gain = nn.init.calculate_gain(activation)
    for linear in linears:
        if name == "default":
            linear.reset_parameters()
            continue
        INITIALIZERS[name](linear.weight, gain, activation)
        if linear.bias is not None:
            nn.init.zeros_(linear.bias)
    return model
