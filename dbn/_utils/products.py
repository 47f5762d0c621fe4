"""Matrix products by the route measured fastest on this machine: the fused RBM step's
and fine-tuning's.

A CPU's float32 product can run through two libraries inside torch: MKL's GEMM, which
``torch.mm``/``torch.addmm`` call, and oneDNN's inner product, which
``torch.ops.mkldnn._linear_pointwise`` calls (the route Inductor emits for a linear
layer). Which is faster depends on the CPU: on the project's Intel Xeon VM MKL was, on
its AMD EPYC Zen 5 VM oneDNN ran the step's three products about twice as fast
(``results/speed/``). So a route is chosen per product, as
``torch.backends.cudnn.benchmark`` chooses a convolution algorithm: timed at its first
shape, the choice cached for the process.

The fine-tuning trainer routes every ``nn.Linear`` the same way (:class:`LinearRoutes`,
one route per layer shape, the backward products by the forward's route).

A choice by timing could flip between processes where the routes are close, and the
two routes round differently; so ``"auto"`` keeps ``"mm"`` unless oneDNN is clearly
faster (:data:`ONEDNN_MARGIN`), never times a product too small to time
(:data:`MIN_TIMED_FLOPS`), and the routes a run used are recorded in its history rows
and checkpoints, restored on resume, and can be pinned (``TrainConfig.matmul``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode

__all__ = [
    "LinearRoutes",
    "MATMUL_CHOICES",
    "MIN_TIMED_FLOPS",
    "ONEDNN_MARGIN",
    "Products",
    "check_matmul_device",
    "check_routes",
    "linear_routes_for",
    "chosen_routes",
    "onednn_available",
]

ROUTES = ("mm", "onednn")
MATMUL_CHOICES = ("auto", *ROUTES)
# oneDNN must be this much faster than MKL to be chosen: a closer race is timing noise,
# and keeping "mm" there keeps a machine's runs on one route from process to process
ONEDNN_MARGIN = 1.2
# products of fewer floating-point operations run in microseconds, where a timing
# measures the call's overhead and the machine's noise; they keep "mm"
MIN_TIMED_FLOPS = 10_000_000
# (product name, shapes and strides, bias or not, dtype) -> route,
# for this process
_CHOSEN: dict[tuple, str] = {}


def onednn_available() -> bool:
    """Whether this torch build has oneDNN's linear (its CPU builds for x86 and ARM do)."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def check_matmul_device(matmul: str, device: torch.device) -> None:
    """Refuse a pinned ``"onednn"`` where it cannot run: off the CPU or without oneDNN."""
    if matmul != "onednn":
        return
    if device.type != "cpu":
        raise ValueError(f"matmul 'onednn' runs on the CPU, not on {str(device)!r}")
    if not onednn_available():
        raise ValueError("matmul 'onednn' needs oneDNN, which this torch build lacks")


def check_routes(routes: object) -> None:
    """Refuse saved routes that are not a mapping of product names to known routes."""
    if routes is None:
        return
    if not isinstance(routes, dict) or not all(
        isinstance(name, str) and route in ROUTES for name, route in routes.items()
    ):
        raise ValueError(
            f"the saved product routes must map names to {list(ROUTES)}, got {routes!r}"
        )


def _by_mm(x: Tensor, weight: Tensor, bias: Tensor | None, out: Tensor) -> Tensor:
    if bias is None:
        return torch.mm(x, weight.T, out=out)
    return torch.addmm(bias, x, weight.T, out=out)


def _onednn_linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``x @ weight.T + bias`` by oneDNN, a new tensor; transposed views read in place."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def _by_onednn(x: Tensor, weight: Tensor, bias: Tensor | None, out: Tensor) -> Tensor:
    return out.copy_(_onednn_linear(x, weight, bias))  # oneDNN has no out= variant


_PRODUCT: dict[str, Callable[[Tensor, Tensor, Tensor | None, Tensor], Tensor]] = {
    "mm": _by_mm,
    "onednn": _by_onednn,
}


def _seconds(route: str, args: tuple, repeats: int = 3) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        _PRODUCT[route](*args)
    return time.perf_counter() - started


def _timed_choice(x: Tensor, weight: Tensor, bias: Tensor | None, out: Tensor) -> str:
    """``"onednn"`` if it ran the product :data:`ONEDNN_MARGIN` times faster than
    ``"mm"`` (the best of 5 interleaved rounds, after a warm-up), else ``"mm"``."""
    args = (x, weight, bias, out)
    try:
        _seconds("onednn", args, repeats=2)
    except RuntimeError:  # a dtype or layout this build's oneDNN does not take
        return "mm"
    _seconds("mm", args, repeats=2)
    best = {"mm": float("inf"), "onednn": float("inf")}
    for _ in range(5):
        for route in best:
            best[route] = min(best[route], _seconds(route, args))
    return "onednn" if best["mm"] > ONEDNN_MARGIN * best["onednn"] else "mm"


def chosen_routes() -> list[dict]:
    """The routes ``"auto"`` chose in this process by timing, one row per product and
    layout: ``product``, ``input`` and ``weight`` shapes, ``dtype``, ``route``."""
    return [
        {
            "product": name,
            "input": list(layout[0]),
            "weight": list(layout[2]),
            "dtype": str(dtype).removeprefix("torch."),
            "route": route,
        }
        for (name, layout, _, dtype), route in _CHOSEN.items()
    ]


class Products:
    """The named matrix products of one training step, each by its route.

    Parameters
    ----------
    matmul : {"auto", "mm", "onednn"}
        ``"mm"`` or ``"onednn"`` pin every product to that route; ``"auto"`` chooses
        each at its first call: ``"mm"`` off the CPU, without oneDNN or below
        :data:`MIN_TIMED_FLOPS`, else the timed choice (cached for the process by
        shape and dtype, so another trainer of the same shapes reuses it).
    routes : dict of str to str, optional
        Routes already chosen, by product name (a resumed run's): they are kept.

    Attributes
    ----------
    routes : dict of str to str
        The route of every product called so far, by name.

    Examples
    --------
    >>> import torch
    >>> from dbn.utils import Products
    >>> products = Products("mm")
    >>> x, weight, out = torch.ones(2, 3), torch.ones(4, 3), torch.empty(2, 4)
    >>> products.linear("hidden", x, weight, torch.zeros(4), out)[0].tolist()
    [3.0, 3.0, 3.0, 3.0]
    >>> products.routes
    {'hidden': 'mm'}
    """

    def __init__(self, matmul: str = "auto", routes: dict[str, str] | None = None) -> None:
        self.matmul = matmul
        self.routes: dict[str, str] = dict(routes or {})

    def linear(
        self, name: str, x: Tensor, weight: Tensor, bias: Tensor | None, out: Tensor
    ) -> Tensor:
        """``x @ weight.T + bias`` into ``out`` by product ``name``'s route.

        Parameters
        ----------
        name : str
            The product's name in :attr:`routes`.
        x : Tensor of shape (m, k)
        weight : Tensor of shape (n, k)
            A transposed view is read in place by either route.
        bias : Tensor of shape (n,), or None
        out : Tensor of shape (m, n)

        Returns
        -------
        Tensor of shape (m, n)
            ``out``.
        """
        route = self.routes.get(name)
        if route is None:
            route = self.routes[name] = _route_for(self.matmul, name, x, weight, bias, out)
        return _PRODUCT[route](x, weight, bias, out)


def _route_for(
    matmul: str, name: str, x: Tensor, weight: Tensor, bias: Tensor | None, out: Tensor
) -> str:
    """The route of product ``name`` at these operands: ``matmul`` where pinned, else
    ``"mm"`` off the CPU, without oneDNN or below :data:`MIN_TIMED_FLOPS`, else the timed
    choice, cached for the process by shapes, strides and dtype."""
    if matmul != "auto":
        return matmul
    flops = 2 * x.shape[0] * x.shape[1] * weight.shape[0]
    if x.device.type != "cpu" or not onednn_available() or flops < MIN_TIMED_FLOPS:
        return "mm"
    layout = (tuple(x.shape), x.stride(), tuple(weight.shape), weight.stride())
    key = (name, layout, bias is None, x.dtype)
    if key not in _CHOSEN:
        _CHOSEN[key] = _timed_choice(x, weight, bias, out)
    return _CHOSEN[key]


class _OneDNNLinear(torch.autograd.Function):
    """``F.linear`` by oneDNN, and its backward's two products by oneDNN too."""

    @staticmethod
    def forward(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:  # type: ignore[override]
        return _onednn_linear(x, weight, bias)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:  # type: ignore[override]
        x, weight, bias = inputs
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x, weight = ctx.saved_tensors
        wants_x, wants_weight, wants_bias = ctx.needs_input_grad
        return (
            _onednn_linear(grad, weight.T, None) if wants_x else None,
            _onednn_linear(grad.T, x.T, None) if wants_weight else None,
            grad.sum(0) if ctx.has_bias and wants_bias else None,
        )


class LinearRoutes(TorchFunctionMode):
    """While active, every ``F.linear`` (so every ``nn.Linear``) of a float32 CPU batch
    runs by its layer's route: torch's own, or oneDNN forward and backward.

    Parameters
    ----------
    matmul : {"auto", "mm", "onednn"}
        As :class:`Products`: each layer shape's route chosen at its first call.
    routes : dict of str to str, optional
        Routes already chosen (a resumed run's), by layer: ``"linear 784x500"`` for
        784 inputs and 500 outputs.

    Attributes
    ----------
    routes : dict of str to str
        The route of every layer shape called so far (those a route applies to).

    Examples
    --------
    >>> import torch
    >>> from dbn.utils import LinearRoutes
    >>> layer = torch.nn.Linear(3, 2)
    >>> with LinearRoutes("mm") as routes:
    ...     _ = layer(torch.ones(4, 3))
    >>> routes.routes
    {'linear 3x2': 'mm'}
    """

    def __init__(self, matmul: str = "auto", routes: dict[str, str] | None = None) -> None:
        super().__init__()
        self.matmul = matmul
        self.routes: dict[str, str] = dict(routes or {})

    def __torch_function__(
        self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = kwargs or {}
        if func is F.linear and self._route(*args, **kwargs) == "onednn":
            return _OneDNNLinear.apply(*args, **kwargs)
        return func(*args, **kwargs)

    def _route(self, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> str | None:
        """The layer's route, chosen at its first call; None where no route applies (a
        batch that is not a float32 CPU matrix, or autocast on)."""
        if (
            x.dim() != 2
            or x.device.type != "cpu"
            or x.dtype != torch.float32
            or weight.dtype != torch.float32
            or torch.is_autocast_enabled("cpu")
        ):
            return None
        name = f"linear {weight.shape[1]}x{weight.shape[0]}"
        if name not in self.routes:
            with torch.no_grad():  # timed on detached operands, into a scratch output
                out = torch.empty(x.shape[0], weight.shape[0])
                probe = (x.detach(), weight.detach(), None if bias is None else bias.detach())
                self.routes[name] = _route_for(self.matmul, name, *probe, out)
        return self.routes[name]


def linear_routes_for(
    model: torch.nn.Module, matmul: str, batch_size: int, device: torch.device
) -> LinearRoutes | None:
    """The :class:`LinearRoutes` a fine-tuning of ``model`` runs in, or None where no
    ``Linear`` layer could leave torch's own route: ``"mm"``, off the CPU, without
    oneDNN, or ``"auto"`` with every layer's product at ``batch_size`` below
    :data:`MIN_TIMED_FLOPS`. The mode costs a Python call per torch call (about two
    thirds more time a step on a 30-64-2 net), so it runs only where it can pay."""
    if matmul == "mm" or device.type != "cpu" or not onednn_available():
        return None
    if matmul == "auto" and all(
        2 * batch_size * layer.in_features * layer.out_features < MIN_TIMED_FLOPS
        for layer in model.modules()
        if isinstance(layer, torch.nn.Linear)
    ):
        return None
    return LinearRoutes(matmul)
