"""Pictures of a run: filters, reconstructions, samples and training curves (PNG).

Every picture is written atomically (:func:`dbn.io.atomic_write`): a crash leaves the old
file or the new one, and a symbolic link at the path is replaced, not written through.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import torch  # noqa: E402
from torchvision.utils import save_image  # noqa: E402

from dbn.io import atomic_write  # noqa: E402

__all__ = ["save_image_grid", "save_filters", "plot_curves", "tidy_axis"]


def tidy_axis(axis: plt.Axes, log_y: bool = False, integer_x: bool = True) -> None:
    """Integer ticks on the x axis (epochs, layers; ``integer_x``), and on a log y axis
    plain numbers (0.3, not 3×10⁻¹), the minor ticks labelled only where the axis spans
    less than a decade.

    Call it after plotting: the decision about minor labels reads the axis's limits.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from dbn.visual import tidy_axis
    >>> figure, axis = plt.subplots()
    >>> _ = axis.plot([1, 2, 3], [0.4, 0.3, 0.27])
    >>> tidy_axis(axis, log_y=True)
    >>> axis.yaxis.get_minor_formatter()(0.3, 0)
    '0.3'
    >>> plt.close(figure)
    """
    if integer_x:
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    if not log_y:
        return
    axis.set_yscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")
    axis.yaxis.set_major_formatter(plain)
    low, high = axis.get_ylim()
    narrow = low > 0 and high / low < 10
    axis.yaxis.set_minor_formatter(plain if narrow else matplotlib.ticker.NullFormatter())


def _as_images(rows: torch.Tensor) -> torch.Tensor:
    """(n, side*side) → (n, 1, side, side) for square images."""
    side = math.isqrt(rows.shape[1])
    if side * side != rows.shape[1]:
        raise ValueError(f"cannot draw {rows.shape[1]} features as a square image")
    return rows.detach().float().cpu().reshape(-1, 1, side, side)


def save_image_grid(rows: torch.Tensor, path: str | os.PathLike, n_columns: int = 10) -> None:
    """Save (n, side²) intensities in [0, 1] as one grid image.

    Examples
    --------
    >>> import os, tempfile, dbn
    >>> from dbn.visual import save_image_grid
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.png")
    >>> save_image_grid(dbn.load_digits()["train"].x[:20], path)
    >>> os.path.getsize(path) > 0
    True
    """
    images = _as_images(rows).clamp(0, 1)
    atomic_write(
        path, lambda temp: save_image(images, temp, nrow=n_columns, padding=1, pad_value=1.0)
    )


def save_filters(weight: torch.Tensor, path: str | os.PathLike, n_filters: int = 100) -> None:
    """Save the first ``n_filters`` rows of a (n_hidden, side²) weight, each scaled to [0, 1].

    Examples
    --------
    >>> import os, tempfile, dbn
    >>> from dbn.visual import save_filters
    >>> path = os.path.join(tempfile.mkdtemp(), "filters.png")
    >>> save_filters(dbn.RBM(64, 16).weight.detach(), path)
    >>> os.path.getsize(path) > 0
    True
    """
    images = _as_images(weight[:n_filters])
    low = images.amin(dim=(1, 2, 3), keepdim=True)
    high = images.amax(dim=(1, 2, 3), keepdim=True)
    scaled = (images - low) / (high - low + 1e-12)
    atomic_write(path, lambda temp: save_image(scaled, temp, nrow=10, padding=1, pad_value=1.0))


def plot_curves(
    series: dict[str, Sequence[float]],
    path: str | os.PathLike,
    xlabel: str = "epoch",
    ylabel: str = "",
    title: str = "",
    log_y: bool = False,
    x: Sequence[float] | None = None,
) -> None:
    """One line per named series against ``x`` (default: the 1-based index); NaN entries
    (epochs that were not measured) are left out of the line rather than breaking it.

    Examples
    --------
    >>> import os, tempfile
    >>> from dbn.visual import plot_curves
    >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
    >>> plot_curves({"train": [0.9, 0.5, 0.3], "valid": [1.0, float("nan"), 0.4]}, path)
    >>> os.path.getsize(path) > 0
    True
    """
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for name, values in series.items():
        where = x if x is not None else range(1, len(values) + 1)
        points = [(i, v) for i, v in zip(where, values, strict=True) if v == v]
        axis.plot([i for i, _ in points], [v for _, v in points], marker="o", label=name)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    tidy_axis(axis, log_y)
    axis.grid(alpha=0.3)
    if len(series) > 1:
        axis.legend(fontsize=8)
    figure.tight_layout()
    atomic_write(path, lambda temp: figure.savefig(temp, dpi=110))
    plt.close(figure)
