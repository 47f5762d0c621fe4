"""Per-epoch schedules of fine-tuning: the learning rate (torch's own schedulers) and the
momentum ramp of Srivastava et al. (2014), which torch lacks.

Every schedule is stepped once per epoch, so the rate of epoch ``e`` (0-based) is:

- ``none``: ``lr``
- ``cosine``: ``lr · (1 + cos(π e / E)) / 2`` (``CosineAnnealingLR``)
- ``step``: ``lr``, divided by 10 at 50 % and again at 75 % of ``E`` (``MultiStepLR``)
- ``linear``: ``lr · (1 - e / E)``, towards zero at the end (``LinearLR``)
- ``exponential``: ``lr · γᵉ`` (``ExponentialLR``; Srivastava et al. use γ ≈ 0.998)
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
)

__all__ = ["SCHEDULES", "make_scheduler", "ramped_momentum"]

SCHEDULES = ("none", "cosine", "step", "linear", "exponential")


def make_scheduler(
    optimizer: Optimizer, schedule: str, epochs: int, gamma: float = 1.0
) -> LRScheduler | None:
    """The torch scheduler of ``schedule`` over ``epochs`` epochs (None for ``none``).

    Examples
    --------
    >>> import torch
    >>> from dbn.optim import make_scheduler
    >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
    >>> type(make_scheduler(optimizer, "cosine", epochs=10)).__name__
    'CosineAnnealingLR'
    >>> make_scheduler(optimizer, "none", epochs=10) is None
    True
    """
    if schedule == "cosine":
        return CosineAnnealingLR(optimizer, T_max=epochs)
    if schedule == "step":
        return MultiStepLR(optimizer, milestones=[epochs // 2, 3 * epochs // 4], gamma=0.1)
    if schedule == "linear":
        return LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_iters=epochs)
    if schedule == "exponential":
        return ExponentialLR(optimizer, gamma=gamma)
    if schedule == "none":
        return None
    raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {schedule!r}")


def ramped_momentum(start: float, end: float | None, ramp_epochs: int, epoch: int) -> float:
    """Momentum of epoch ``epoch`` (0-based): ``start`` rising linearly to ``end`` over
    ``ramp_epochs`` epochs, then ``end`` (Srivastava et al. 2014: 0.5 to 0.99); constant
    ``start`` when ``end`` is None.

    Examples
    --------
    >>> from dbn.optim import ramped_momentum
    >>> [round(ramped_momentum(0.5, 0.9, ramp_epochs=4, epoch=e), 2) for e in range(6)]
    [0.5, 0.6, 0.7, 0.8, 0.9, 0.9]
    """
    if end is None or ramp_epochs == 0:
        return start if end is None else end
    fraction = min(epoch / ramp_epochs, 1.0)
    return start + (end - start) * fraction
