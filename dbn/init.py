"""Weight-initialisation baselines by name, each delegating to ``torch.nn.init``.

Every scheme sets the weights of every ``nn.Linear`` in a model and zeroes its biases,
except ``default``, which redraws PyTorch's own ``Linear.reset_parameters`` values.
Gains come from ``torch.nn.init.calculate_gain(activation)`` (1 for sigmoid, 5/3 for
tanh, √2 for ReLU) unless ``gain`` is given.

Randomness comes from ``generator`` (a ``torch.Generator``), as in ``torch.nn.init``:
the same generator state gives the same weights, and PyTorch's global generator is
untouched. Without one, the global generator is used.

Two ways to call it::

    dbn.init.apply(model, "he_normal", activation="relu", generator=g)
    model.apply(dbn.init.initializer("xavier_uniform", activation="tanh"))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from dbn._utils.checks import check_choice, check_positive
from dbn.models._activations import ACTIVATIONS, ActivationName

__all__ = ["apply", "activation_of", "initializer", "INITIALIZERS", "names"]

MODES = ("fan_in", "fan_out")


@dataclass(frozen=True)
class _Scheme:
    """The resolved arguments every scheme function receives."""

    gain: float
    mode: str
    value: float
    generator: torch.Generator | None


def _fan(weight: torch.Tensor, mode: str) -> int:
    """fan_in = in_features (columns), fan_out = out_features (rows) of a Linear weight."""
    return weight.shape[1] if mode == "fan_in" else weight.shape[0]


def _zeros(weight: torch.Tensor, scheme: _Scheme) -> None:
    """All weights 0. Every hidden unit of a layer then computes the same function and
    receives the same gradient, so they stay identical forever (the symmetry problem)."""
    nn.init.zeros_(weight)


def _constant(weight: torch.Tensor, scheme: _Scheme) -> None:
    """All weights ``value`` (default 0.01): non-zero but still symmetric."""
    nn.init.constant_(weight, scheme.value)


def _normal(weight: torch.Tensor, scheme: _Scheme) -> None:
    """W ~ N(0, 0.01²), the small random init of Hinton's RBM guide; too small for deep nets."""
    nn.init.normal_(weight, mean=0.0, std=0.01, generator=scheme.generator)


def _trunc_normal(weight: torch.Tensor, scheme: _Scheme) -> None:
    """W ~ N(0, σ²) truncated to ±2σ, σ = gain / √fan (the He variance, redrawn tails)."""
    std = scheme.gain / math.sqrt(_fan(weight, scheme.mode))
    nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std, generator=scheme.generator)


def _uniform(weight: torch.Tensor, scheme: _Scheme) -> None:
    """W ~ U(-1/√fan_in, 1/√fan_in), the classic heuristic (LeCun et al. 1998)."""
    bound = 1.0 / math.sqrt(weight.shape[1])
    nn.init.uniform_(weight, -bound, bound, generator=scheme.generator)


def _xavier_uniform(weight: torch.Tensor, scheme: _Scheme) -> None:
    """W ~ U(-a, a), a = gain·√(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    nn.init.xavier_uniform_(weight, gain=scheme.gain, generator=scheme.generator)


def _xavier_normal(weight: torch.Tensor, scheme: _Scheme) -> None:
    """W ~ N(0, σ²), σ = gain·√(2 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    nn.init.xavier_normal_(weight, gain=scheme.gain, generator=scheme.generator)


def _he_uniform(weight: torch.Tensor, scheme: _Scheme) -> None:
    """W ~ U(-b, b), b = gain·√(3 / fan) (He et al. 2015); gain √2 for ReLU."""
    bound = scheme.gain * math.sqrt(3.0 / _fan(weight, scheme.mode))
    nn.init.uniform_(weight, -bound, bound, generator=scheme.generator)


def _he_normal(weight: torch.Tensor, scheme: _Scheme) -> None:
    """W ~ N(0, σ²), σ = gain / √fan (He et al. 2015); gain √2 for ReLU."""
    std = scheme.gain / math.sqrt(_fan(weight, scheme.mode))
    nn.init.normal_(weight, mean=0.0, std=std, generator=scheme.generator)


def _orthogonal(weight: torch.Tensor, scheme: _Scheme) -> None:
    """W = gain·Q with Q a random (semi-)orthogonal matrix (Saxe et al. 2014)."""
    nn.init.orthogonal_(weight, gain=scheme.gain, generator=scheme.generator)


def _sparse(weight: torch.Tensor, scheme: _Scheme) -> None:
    """90 % of each column's weights zero, the rest N(0, 0.01²) (Martens 2010).

    As ``nn.init.sparse_``, except that the zeroed rows are drawn from ``generator``
    too (``sparse_`` draws them from the global generator whatever it is given).
    """
    rows, columns = weight.shape
    n_zeros = math.ceil(0.9 * rows)
    nn.init.normal_(weight, mean=0.0, std=0.01, generator=scheme.generator)
    for column in range(columns):
        zeroed = torch.randperm(rows, generator=scheme.generator)[:n_zeros]
        weight[zeroed, column] = 0


INITIALIZERS: dict[str, Callable[[torch.Tensor, _Scheme], None]] = {
    "zeros": _zeros,
    "constant": _constant,
    "normal": _normal,
    "trunc_normal": _trunc_normal,
    "uniform": _uniform,
    "xavier_uniform": _xavier_uniform,
    "xavier_normal": _xavier_normal,
    "he_uniform": _he_uniform,
    "he_normal": _he_normal,
    "orthogonal": _orthogonal,
    "sparse": _sparse,
}


# The schemes whose scale depends on the activation's gain.
GAINED = (
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "orthogonal",
    "trunc_normal",
)


def activation_of(model: nn.Module) -> ActivationName:
    """The one kind of activation module in ``model``, by name.

    Examples
    --------
    >>> from torch import nn
    >>> from dbn.init import activation_of
    >>> activation_of(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)))
    'relu'
    """
    found = sorted(
        {name for name, kind in ACTIVATIONS.items() for m in model.modules() if type(m) is kind}
    )
    if len(found) != 1:
        what = "no activation module" if not found else f"several activations {found}"
        raise ValueError(f"the model has {what}: give activation= to choose the gain")
    return found[0]  # type: ignore[return-value]


def names() -> list[str]:
    """Every scheme :func:`apply` accepts.

    Examples
    --------
    >>> import dbn
    >>> "xavier_uniform" in dbn.init.names() and "he_normal" in dbn.init.names()
    True
    """
    return [*INITIALIZERS, "default"]


def _default(linear: nn.Linear, generator: torch.Generator | None) -> None:
    """PyTorch's ``Linear.reset_parameters`` drawn from ``generator``:
    W ~ kaiming_uniform(a=√5), i.e. U(±1/√fan_in), and b ~ U(±1/√fan_in)."""
    nn.init.kaiming_uniform_(linear.weight, a=math.sqrt(5), generator=generator)
    if linear.bias is not None:
        bound = 1.0 / math.sqrt(linear.in_features) if linear.in_features > 0 else 0.0
        nn.init.uniform_(linear.bias, -bound, bound, generator=generator)


def initializer(
    name: str,
    activation: ActivationName | None = None,
    *,
    gain: float | None = None,
    mode: Literal["fan_in", "fan_out"] = "fan_in",
    value: float = 0.01,
    generator: torch.Generator | None = None,
) -> Callable[[nn.Module], None]:
    """A per-module initialiser for ``model.apply``: it sets each ``nn.Linear`` it meets.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    activation : {"sigmoid", "relu", "tanh"}, optional
        The hidden activation; sets the gain when ``gain`` is None. Required by the
        schemes with a gain (``xavier_*``, ``he_*``, ``orthogonal``, ``trunc_normal``)
        unless ``gain`` is given.
    gain : float, optional
        Overrides ``calculate_gain(activation)`` (xavier, he, orthogonal, trunc_normal).
    mode : {"fan_in", "fan_out"}
        Which fan scales He and trunc_normal: ``fan_in`` keeps the forward variance,
        ``fan_out`` the backward one (He et al. 2015).
    value : float
        The weight of the ``constant`` scheme.
    generator : torch.Generator, optional

    Returns
    -------
    callable
        ``init(module)``; modules other than ``nn.Linear`` are left alone.

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    >>> _ = model.apply(initializer("xavier_uniform", activation="tanh"))
    """
    check_choice("initialisation", name, names())
    if activation is not None:
        check_choice("activation", activation, ACTIVATIONS)
    elif gain is None and name in GAINED:
        raise ValueError(f"{name!r} scales by the activation's gain: give activation= or gain=")
    check_choice("mode", mode, MODES)
    if gain is not None:
        check_positive("gain", gain)
    scheme = _Scheme(
        gain=gain if gain is not None else nn.init.calculate_gain(activation or "linear"),
        mode=mode,
        value=value,
        generator=generator,
    )

    @torch.no_grad()
    def init(module: nn.Module) -> None:
        if not isinstance(module, nn.Linear):
            return
        if name == "default":
            _default(module, generator)
            return
        INITIALIZERS[name](module.weight, scheme)
        if module.bias is not None:
            nn.init.zeros_(module.bias)

    return init


def apply(
    model: nn.Module,
    name: str,
    activation: ActivationName | None = None,
    *,
    gain: float | None = None,
    mode: Literal["fan_in", "fan_out"] = "fan_in",
    value: float = 0.01,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Initialise every ``nn.Linear`` in ``model`` in place by the scheme ``name``.

    Parameters
    ----------
    model : nn.Module
    name : str
        One of :func:`names`: ``zeros``, ``constant``, ``normal``, ``trunc_normal``,
        ``uniform``, ``xavier_uniform``, ``xavier_normal``, ``he_uniform``,
        ``he_normal``, ``orthogonal``, ``sparse`` or ``default`` (PyTorch's own).
    activation : {"sigmoid", "relu", "tanh"}, optional
        The hidden activation whose gain the scheme uses. When None it is read from
        the model's modules, as ``torch.nn.init.kaiming_normal_`` users expect of
        ``he_normal`` on a ReLU net (gain √2); a model with several kinds of activation,
        or none, is refused for the schemes with a gain unless it is given.
    gain, mode, value, generator
        As in :func:`initializer`.

    Returns
    -------
    nn.Module
        ``model``, for chaining.

    Examples
    --------
    >>> import torch, dbn
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 10))
    >>> g = torch.Generator().manual_seed(0)
    >>> _ = dbn.init.apply(model, "he_normal", activation="relu", generator=g)
    >>> round(model[0].weight.var().item() * 400, 1)  # He: variance 2 / fan_in
    2.0
    """
    if not any(isinstance(module, nn.Linear) for module in model.modules()):
        raise ValueError("the model has no nn.Linear layers to initialise")
    if activation is None and gain is None and name in GAINED:
        activation = activation_of(model)
    init = initializer(name, activation, gain=gain, mode=mode, value=value, generator=generator)
    model.apply(init)
    return model
