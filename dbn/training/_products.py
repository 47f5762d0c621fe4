"""The fused step's matrix products, each by the route measured fastest on this machine.

A CPU's float32 product can run through two libraries inside torch: MKL's GEMM, which
``torch.mm``/``torch.addmm`` call, and oneDNN's inner product, which
``torch.ops.mkldnn._linear_pointwise`` calls (the route Inductor emits for a linear
layer). Which is faster depends on the CPU: on the project's Intel Xeon VM MKL was, on
its AMD EPYC Zen 5 VM oneDNN ran the step's three products about twice as fast
(``results/speed/``). So a route is chosen per product, as
``torch.backends.cudnn.benchmark`` chooses a convolution algorithm: timed at its first
shape, the choice cached for the process.

A choice by timing could flip between processes where the routes are close, and the
two routes round differently; so ``"auto"`` keeps ``"mm"`` unless oneDNN is clearly
faster (:data:`ONEDNN_MARGIN`), never times a product too small to time
(:data:`MIN_TIMED_FLOPS`), and the routes a run used are recorded in its history rows
and checkpoints, restored on resume, and can be pinned (``TrainConfig.matmul``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = [
    "MATMUL_CHOICES",
    "MIN_TIMED_FLOPS",
    "ONEDNN_MARGIN",
    "Products",
    "check_matmul_device",
    "check_routes",
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


def _by_onednn(x: Tensor, weight: Tensor, bias: Tensor | None, out: Tensor) -> Tensor:
    # oneDNN reads transposed views in place; it has no out= variant, hence the copy
    return out.copy_(torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], ""))


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
    >>> from dbn.training._products import Products
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
            route = self.routes[name] = self._choose(name, x, weight, bias, out)
        return _PRODUCT[route](x, weight, bias, out)

    def _choose(
        self, name: str, x: Tensor, weight: Tensor, bias: Tensor | None, out: Tensor
    ) -> str:
        if self.matmul != "auto":
            return self.matmul
        flops = 2 * x.shape[0] * x.shape[1] * weight.shape[0]
        if x.device.type != "cpu" or not onednn_available() or flops < MIN_TIMED_FLOPS:
            return "mm"
        layout = (tuple(x.shape), x.stride(), tuple(weight.shape), weight.stride())
        key = (name, layout, bias is None, x.dtype)
        if key not in _CHOSEN:
            _CHOSEN[key] = _timed_choice(x, weight, bias, out)
        return _CHOSEN[key]
