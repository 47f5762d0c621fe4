"""Checks of option values, one function per kind of constraint.

Every configuration dataclass and public function validates its arguments with these,
so a constraint is written once and its error message reads the same everywhere:
``ValueError("<name> must ..., got <value>")``.
"""

from __future__ import annotations

import math
from collections.abc import Collection

import torch

__all__ = [
    "check_choice",
    "check_fraction",
    "check_int",
    "check_materialised",
    "check_nonnegative",
    "check_positive",
]


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """An integer (not a bool) of at least ``minimum``.

    Examples
    --------
    >>> from dbn.utils import check_int
    >>> try:
    ...     check_int("epochs", 0)
    ... except ValueError as error:
    ...     print(error)
    epochs must be an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_positive(name: str, value: object) -> float:
    """A finite number > 0.

    Examples
    --------
    >>> from dbn.utils import check_positive
    >>> try:
    ...     check_positive("lr", float("nan"))
    ... except ValueError as error:
    ...     print(error)
    lr must be a positive finite number, got nan
    """
    if not _is_number(value) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def check_nonnegative(name: str, value: object) -> float:
    """A finite number >= 0.

    Examples
    --------
    >>> from dbn.utils import check_nonnegative
    >>> try:
    ...     check_nonnegative("l1", -1)
    ... except ValueError as error:
    ...     print(error)
    l1 must be a finite number >= 0, got -1
    """
    if not _is_number(value) or not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def check_fraction(name: str, value: object) -> float:
    """A number in [0, 1): a dropout rate, a momentum, a corruption level.

    Examples
    --------
    >>> from dbn.utils import check_fraction
    >>> try:
    ...     check_fraction("dropout", 1.0)
    ... except ValueError as error:
    ...     print(error)
    dropout must lie in [0, 1), got 1.0
    """
    if not _is_number(value) or not 0 <= value < 1:
        raise ValueError(f"{name} must lie in [0, 1), got {value!r}")
    return value


def check_choice(name: str, value: object, choices: Collection) -> object:
    """One of ``choices``.

    Examples
    --------
    >>> from dbn.utils import check_choice
    >>> try:
    ...     check_choice("method", "magic", ("cd", "pcd"))
    ... except ValueError as error:
    ...     print(error)
    method must be one of ['cd', 'pcd'], got 'magic'
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_device(device: object) -> torch.device:
    """``device`` as a ``torch.device`` that can hold tensors in this process.

    Checked before a model is moved, so that a refused device leaves it where it was.

    Raises
    ------
    ValueError
        For a name torch does not parse, ``meta`` (it holds no data), or a device this
        machine lacks (CUDA without a driver, a GPU index past the last).

    Examples
    --------
    >>> from dbn.utils import check_device
    >>> check_device("cpu")
    device(type='cpu')
    """
    try:
        where = torch.device(device)  # type: ignore[arg-type]
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device must name a torch device such as 'cpu' or 'cuda:0', got {device!r}"
        ) from None
    if where.type == "meta":
        raise ValueError("device 'meta' holds no data: train on 'cpu' or 'cuda'")
    if where.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(where)!r} requested but CUDA is not available here")
        count = torch.cuda.device_count()
        if where.index is not None and where.index >= count:
            raise ValueError(
                f"device {str(where)!r} does not exist: this machine has {count} CUDA "
                f"device(s), cuda:0 to cuda:{count - 1}"
            )
    elif where.type != "cpu":
        try:
            torch.empty(0, device=where)
        except RuntimeError as error:
            reason = str(error).strip().splitlines()[0]
            raise ValueError(f"device {str(where)!r} is not usable here: {reason}") from None
    return where


def check_materialised(model: torch.nn.Module) -> None:
    """Refuse a model whose parameters hold no data (built on the meta device), before a
    trainer moves or reads it."""
    if any(parameter.is_meta for parameter in model.parameters()):
        raise ValueError(
            f"the {type(model).__name__}'s parameters are on the meta device (shapes without "
            f"data): load weights into it, or build it on a real device"
        )
