"""Data at the edge: tensors or NumPy arrays in, one tensor of the model's dtype out.

Every public entry point that takes data converts it here, once, so that a NumPy array
of any float dtype is as welcome as a tensor and a bad input is refused in one line that
names the argument, before any training is spent.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["as_features", "as_labels"]


def _as_tensor(name: str, data: object) -> Tensor:
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in "biuf":
            raise ValueError(f"{name} must hold numbers, got a NumPy array of {data.dtype}")
        return torch.from_numpy(np.ascontiguousarray(data))
    raise ValueError(f"{name} must be a torch.Tensor or a NumPy array, got {type(data).__name__}")


def as_features(
    name: str,
    data: object,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """``data`` as a floating-point tensor of ``dtype`` on ``device`` (as given where None).

    Parameters
    ----------
    name : str
        What to call the data in error messages.
    data : Tensor or ndarray of shape (n_samples, n_features), any float dtype
    dtype : torch.dtype, optional
        The model's dtype, which the data takes.
    device : torch.device or str, optional

    Raises
    ------
    ValueError
        For anything but a tensor or array of floats (integer pixels are refused rather
        than guessed at: scale them to floats first), or for NaN or Inf.
    """
    tensor = _as_tensor(name, data)
    if not tensor.is_floating_point():
        raise ValueError(
            f"{name} must be floating point, got {tensor.dtype}; scale integer data to floats"
        )
    tensor = tensor.to(device=device, dtype=dtype)
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return tensor


def as_labels(
    name: str, labels: object, n_samples: int, device: torch.device | str | None = None
) -> Tensor:
    """Class labels as an int64 tensor of shape (n_samples,) on ``device``.

    Any integer dtype is taken (a list of ints too); floats only when every value is a
    whole number.

    Raises
    ------
    ValueError
        For another length or shape, negative labels, or labels that are not integers.
    """
    if isinstance(labels, (list, tuple)) and all(isinstance(k, int) for k in labels):
        labels = torch.tensor(labels, dtype=torch.int64)
    tensor = _as_tensor(name, labels)
    if tensor.dim() != 1 or len(tensor) != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},), got {tuple(tensor.shape)}")
    if tensor.is_floating_point():
        if not torch.isfinite(tensor).all() or not torch.equal(tensor, tensor.round()):
            raise ValueError(f"{name} must be integer class labels, got non-integer values")
    elif tensor.dtype == torch.bool or tensor.is_complex():
        raise ValueError(f"{name} must be integer class labels, got {tensor.dtype}")
    tensor = tensor.to(device=device, dtype=torch.int64)
    if len(tensor) and tensor.min() < 0:
        raise ValueError(f"{name} must be class indices >= 0, got {tensor.min().item()}")
    return tensor
