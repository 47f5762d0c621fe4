"""Rasmussen's conjugate gradient (``minimize.m``) as a torch optimiser.

Hinton & Salakhutdinov (2006) fine-tune their classifier with Carl Rasmussen's
``minimize.m`` (the 2006-09-08 version shipped with their code), three line searches per
batch of 1,000 images. Each line search runs along a Polak-Ribière direction: it
extrapolates with cubics until the step is long enough, then interpolates with
quadratics and cubics until the Wolfe-Powell conditions hold, with the slopes' ratio
``sig = 0.1`` (a nearly exact search) and the sufficient decrease ``rho = sig / 2``; the
slope ratio between searches guesses the next initial step. ``torch.optim.LBFGS`` has a
strong-Wolfe search too, but with a curvature constant of 0.9 (a rough search) and
quasi-Newton directions; torch has no conjugate gradient, so this module provides it.

The optimiser keeps no state between calls of ``step``: every call is one run of
``minimize`` from the current parameters, as ``backpropclassify.m`` starts one on every
batch.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable

import torch
from torch import Tensor
from torch.nn.utils import parameters_to_vector

from dbn._utils.checks import check_int, check_positive

__all__ = ["ConjugateGradient"]


def _flat_grad(params: list[Tensor]) -> Tensor:
    """The parameters' gradients as one vector; a parameter without one counts as zero."""
    return torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
    )


def _copy_into(vector: Tensor, tensors: list[Tensor]) -> None:
    """Copy consecutive slices of ``vector`` into ``tensors`` in place (unlike torch's
    ``vector_to_parameters``, which would make the parameters views of ``vector``)."""
    offset = 0
    for tensor in tensors:
        tensor.copy_(vector[offset : offset + tensor.numel()].view_as(tensor))
        offset += tensor.numel()


def _cubic_extrapolation(x1: float, f1: float, d1: float, x2: float, f2: float, d2: float) -> float:
    """Where the cubic through (x1, f1, d1) and (x2, f2, d2) has its minimum, or NaN."""
    a = 6 * (f1 - f2) + 3 * (d2 + d1) * (x2 - x1)
    b = 3 * (f2 - f1) - (2 * d1 + d2) * (x2 - x1)
    discriminant = b * b - a * d1 * (x2 - x1)
    denominator = b + math.sqrt(discriminant) if discriminant >= 0 else 0.0
    if denominator == 0:
        return math.nan
    return x1 - d1 * (x2 - x1) ** 2 / denominator


def _interpolation(
    x2: float, f2: float, d2: float, x4: float, f4: float, d4: float, f0: float
) -> float:
    """A point inside the bracket [x2, x4]: the quadratic's minimum through f2, d2 and
    f4 if f4 lies above the search's start f0, else the cubic's; NaN where undefined."""
    width = x4 - x2
    if f4 > f0:
        denominator = f4 - f2 - d2 * width
        return x2 - 0.5 * d2 * width**2 / denominator if denominator != 0 else math.nan
    a = 6 * (f2 - f4) / width + 3 * (d4 + d2) if width != 0 else math.nan
    b = 3 * (f4 - f2) - (2 * d2 + d4) * width
    discriminant = b * b - a * d2 * width**2
    # minimize.m's MATLAB gets a complex point here and moves on; NaN bisects instead
    if not math.isfinite(a) or a == 0 or discriminant < 0:
        return math.nan
    return x2 + (math.sqrt(discriminant) - b) / a


class ConjugateGradient(torch.optim.Optimizer):
    """Polak-Ribière conjugate gradient with Rasmussen's line search (``minimize.m``).

    Parameters
    ----------
    params : iterable of Tensor
        The parameters to optimise; one group.
    lr : float
        ``minimize.m``'s expected reduction of the function in the first line search
        (``red``, 1.0 there): the first step is ``lr / (1 + |g|²)`` along ``-g``.
    line_searches : int
        Line searches per ``step`` (``length``; 3 in ``backpropclassify.m``).
    max_evaluations : int
        Function evaluations allowed in one line search (``MAX``).
    sig, rho : float
        The Wolfe-Powell constants, ``0 < rho < sig < 1``: a step is accepted when
        ``|slope| <= sig |slope at the start|`` and the function fell by at least
        ``rho`` times the decrease the starting slope predicts.
    interpolation_margin : float
        New points stay this fraction of the bracket away from its ends (``INT``).
    max_extrapolation : float
        A step grows at most this factor in one extrapolation (``EXT``).
    max_slope_ratio : float
        The next search's first step is at most this multiple of the last step
        (``RATIO``).

    Notes
    -----
    ``step(closure)`` needs a closure that clears the gradients, computes the loss,
    calls ``backward()`` and returns the loss. A closure that fails (NaN or inf loss or
    gradient) during extrapolation halves the step, as ``minimize.m`` does. After
    ``step`` the parameters hold the best point found and their ``.grad`` its gradient.
    The defaults are the 2006-09-08 version's constants.

    Examples
    --------
    >>> x = torch.tensor([-1.2, 1.0], requires_grad=True)
    >>> optimizer = ConjugateGradient([x], line_searches=100)
    >>> def closure():
    ...     optimizer.zero_grad()
    ...     loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    ...     loss.backward()
    ...     return loss
    >>> _ = optimizer.step(closure)
    >>> [round(v, 3) for v in x.tolist()]
    [1.0, 1.0]
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1.0,
        line_searches: int = 3,
        max_evaluations: int = 20,
        sig: float = 0.1,
        rho: float = 0.05,
        interpolation_margin: float = 0.1,
        max_extrapolation: float = 3.0,
        max_slope_ratio: float = 10.0,
    ) -> None:
        check_positive("lr", lr)
        check_int("line_searches", line_searches)
        check_int("max_evaluations", max_evaluations)
        if not 0 < rho < sig < 1:
            raise ValueError(f"need 0 < rho < sig < 1, got rho={rho!r} and sig={sig!r}")
        if not 0 < interpolation_margin < 0.5:
            raise ValueError(
                f"interpolation_margin must lie in (0, 0.5), got {interpolation_margin!r}"
            )
        if not max_extrapolation > 1:
            raise ValueError(f"max_extrapolation must exceed 1, got {max_extrapolation!r}")
        check_positive("max_slope_ratio", max_slope_ratio)
        defaults = dict(
            lr=lr,
            line_searches=line_searches,
            max_evaluations=max_evaluations,
            sig=sig,
            rho=rho,
            interpolation_margin=interpolation_margin,
            max_extrapolation=max_extrapolation,
            max_slope_ratio=max_slope_ratio,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("ConjugateGradient takes one parameter group")

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor]) -> Tensor:  # type: ignore[override]
        """Run ``line_searches`` line searches from the current parameters.

        Parameters
        ----------
        closure : callable
            Re-evaluates the model and returns the loss (see the class notes).

        Returns
        -------
        Tensor
            The loss at the parameters ``step`` started from.
        """
        group = self.param_groups[0]
        params: list[Tensor] = group["params"]
        sig, rho = group["sig"], group["rho"]
        margin, extrapolation = group["interpolation_margin"], group["max_extrapolation"]
        closure = torch.enable_grad()(closure)

        def evaluate(point: Tensor) -> tuple[float, Tensor]:
            _copy_into(point, params)
            return float(closure()), _flat_grad(params)

        x = parameters_to_vector(params).clone()
        first_loss = closure()
        f0, df0 = float(first_loss), _flat_grad(params)
        s = -df0
        d0 = -float(s @ s)
        x3 = group["lr"] / (1 - d0)
        line_search_failed = False
        searches = 0
        while searches < group["line_searches"]:
            searches += 1
            best_x, best_f, best_df = x, f0, df0
            evaluations_left = group["max_evaluations"]
            # 1. extrapolate until the step is long enough (or the function rises)
            while True:
                x2, f2, d2, f3, df3 = 0.0, f0, d0, f0, df0
                while evaluations_left > 0:
                    evaluations_left -= 1
                    f3, df3 = evaluate(x + x3 * s)
                    if math.isfinite(f3) and bool(torch.isfinite(df3).all()):
                        break
                    x3 = (x2 + x3) / 2  # the function failed there: bisect and retry
                if f3 < best_f:
                    best_x, best_f, best_df = x + x3 * s, f3, df3
                d3 = float(df3 @ s)
                if d3 > sig * d0 or f3 > f0 + x3 * rho * d0 or evaluations_left == 0:
                    break
                x1, f1, d1 = x2, f2, d2
                x2, f2, d2 = x3, f3, d3
                x3 = _cubic_extrapolation(x1, f1, d1, x2, f2, d2)
                if not math.isfinite(x3) or x3 < 0 or x3 > x2 * extrapolation:
                    x3 = x2 * extrapolation
                elif x3 < x2 + margin * (x2 - x1):
                    x3 = x2 + margin * (x2 - x1)
            # 2. interpolate inside the bracket until the Wolfe-Powell conditions hold;
            # the first pass always takes the first branch (the loop above stopped on a
            # positive slope or a rise), so the bracket's far end is set before its use
            x4, f4, d4 = x3, f3, d3
            while (abs(d3) > -sig * d0 or f3 > f0 + x3 * rho * d0) and evaluations_left > 0:
                if d3 > 0 or f3 > f0 + x3 * rho * d0:
                    x4, f4, d4 = x3, f3, d3
                else:
                    x2, f2, d2 = x3, f3, d3
                x3 = _interpolation(x2, f2, d2, x4, f4, d4, f0)
                if not math.isfinite(x3):
                    x3 = (x2 + x4) / 2
                x3 = max(min(x3, x4 - margin * (x4 - x2)), x2 + margin * (x4 - x2))
                f3, df3 = evaluate(x + x3 * s)
                if f3 < best_f:
                    best_x, best_f, best_df = x + x3 * s, f3, df3
                evaluations_left -= 1
                d3 = float(df3 @ s)
            # 3. accept the point and turn the direction, or fall back on steepest descent
            if abs(d3) < -sig * d0 and f3 < f0 + x3 * rho * d0:
                x, f0 = x + x3 * s, f3
                s = float((df3 @ df3 - df0 @ df3) / (df0 @ df0)) * s - df3
                df0 = df3
                previous_slope, d0 = d0, float(df0 @ s)
                if d0 > 0:  # not a descent direction: restart along the gradient
                    s = -df0
                    d0 = -float(s @ s)
                x3 *= min(group["max_slope_ratio"], previous_slope / (d0 - sys.float_info.min))
                line_search_failed = False
            else:
                x, f0, df0 = best_x, best_f, best_df
                if line_search_failed:
                    break  # two failures in a row: no progress is left to make
                s = -df0
                d0 = -float(s @ s)
                x3 = 1 / (1 - d0)
                line_search_failed = True
        _copy_into(x, params)
        for param, grad in zip(params, df0.split([p.numel() for p in params]), strict=True):
            if param.grad is not None:  # a frozen parameter keeps no gradient
                param.grad.copy_(grad.view_as(param))
        return first_loss
