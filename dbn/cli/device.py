"""Choosing the training device from a user's ``--device`` value, and checking that a
model fits on it."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from pathlib import Path

import torch

from dbn.utils import check_device

__all__ = ["check_fits_in_memory", "mlp_parameter_count", "resolve_device"]


def resolve_device(name: str) -> torch.device:
    """``"auto"`` picks CUDA when available; every other value is checked against the machine.

    Parameters
    ----------
    name : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        For a malformed name, CUDA on a machine without it, or a GPU index it lacks.

    Examples
    --------
    >>> from dbn.cli import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("gpu")
    Traceback (most recent call last):
        ...
    ValueError: device must be 'auto', 'cpu' or 'cuda[:N]', got 'gpu'
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    index = name.partition(":")[2]
    if name not in ("cpu", "cuda") and not (name.startswith("cuda:") and index.isdigit()):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {name!r}")
    return check_device(name)


def mlp_parameter_count(sizes: Sequence[int], num_classes: int | None = None) -> int:
    """Weights and biases of the MLP (or RBM stack) with these layer sizes."""
    widths = [*sizes, num_classes] if num_classes else list(sizes)
    return sum(n_in * n_out + n_out for n_in, n_out in zip(widths[:-1], widths[1:], strict=True))


def check_fits_in_memory(n_parameters: int, device: torch.device, copies: int = 4) -> None:
    """Refuse, before anything is allocated, a model that cannot fit on ``device``.

    Parameters
    ----------
    n_parameters : int
        float32 numbers of the model.
    device : torch.device
    copies : int
        How many model-sized tensors training holds (weights, gradients, optimiser
        state, the best weights so far).

    Raises
    ------
    ValueError
        Naming the model's size and the device's memory.
    """
    needed = 4 * copies * n_parameters
    if device.type == "cuda":
        available = torch.cuda.get_device_properties(device).total_memory
    else:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if needed > available:
        raise ValueError(
            f"the model is too large for {device}: {n_parameters:,} parameters need about "
            f"{needed / 2**30:.1f} GiB to train (float32, {copies} copies), the device has "
            f"{available / 2**30:.1f} GiB"
        )


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def machine(device: torch.device) -> dict:
    """What a result's numbers depend on beyond the code and the seed: the CPU (or GPU),
    torch's version and its thread count (a product's summation order follows them)."""
    record = {"cpu": cpu_model(), "torch": torch.__version__, "threads": torch.get_num_threads()}
    if device.type == "cuda":
        record["gpu"] = torch.cuda.get_device_name(device)
    return record
