"""TensorBoard event files for a run (``--tensorboard``), beside its CSV and JSON files.

``torch.utils.tensorboard.SummaryWriter`` does the writing; this module decides what a
run shows: each epoch's numbers as scalars, an RBM's filters and samples as images,
and the run's resolved options as hyper-parameters. ``tensorboard`` is an optional
extra, so :func:`open_board` is the one place that imports it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import torch
from torchvision.utils import make_grid

from dbn.models.rbm import RBM

__all__ = ["EXTRA_HINT", "TensorBoard", "require_tensorboard"]

EXTRA_HINT = "pip install 'dbn-torch[tensorboard]'"


def require_tensorboard() -> type:
    """torch's ``SummaryWriter``, whose import needs the optional ``tensorboard`` package.

    Raises
    ------
    ValueError
        When the package is missing: one line naming the extra.

    Examples
    --------
    >>> from dbn.tensorboard import require_tensorboard
    >>> require_tensorboard().__name__  # the writer class, or one clear error naming the extra
    'SummaryWriter'
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ValueError(
            f"--tensorboard needs the optional tensorboard package: {EXTRA_HINT}"
        ) from None
    return SummaryWriter


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested options as ``{"a/b": value}`` with the scalar types hparams accepts."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}/"))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        else:  # lists and None: shown as text
            flat[name] = str(value)
    return flat


class TensorBoard:
    """What a run shows in TensorBoard.

    Parameters
    ----------
    log_dir : path
        Where the event files go (the run directory).

    Examples
    --------
    >>> import os, tempfile
    >>> from dbn.tensorboard import TensorBoard
    >>> folder = tempfile.mkdtemp()
    >>> board = TensorBoard(folder)
    >>> board.epoch({"epoch": 1, "recon_error": 2.5}, "layer1/")
    >>> board.close()
    >>> any(name.startswith("events.out.tfevents") for name in os.listdir(folder))
    True
    """

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        self.writer = require_tensorboard()(log_dir=str(log_dir))

    def epoch(self, row: Mapping[str, Any], section: str = "") -> None:
        """Every finite number of one epoch's metrics row (its ``epoch`` is the step).

        Parameters
        ----------
        row : mapping
            ``epoch`` plus metrics, e.g. ``train_loss``, ``valid_error``, ``lr``.
        section : str
            Prefix of the tags, e.g. ``"layer1/"``.
        """
        step = int(row["epoch"])
        for key, value in row.items():
            if key == "epoch" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if math.isfinite(value):
                self.writer.add_scalar(f"{section}{key}", value, step)
        self.writer.flush()  # an epoch on disk as soon as it is done, as metrics.jsonl

    def rbm_pictures(
        self,
        rbm: RBM,
        section: str,
        step: int,
        generator: torch.Generator | None = None,
        n_images: int = 100,
        gibbs_steps: int = 200,
    ) -> None:
        """An RBM's filters (its first ``n_images`` hidden units' weights) and samples
        (``gibbs_steps`` of Gibbs sampling from noise) as image grids; nothing when the
        visible layer is not a square image.

        Parameters
        ----------
        rbm : RBM
        section : str
            Prefix of the tags.
        step : int
        generator : torch.Generator, optional
            On the RBM's device; draws the samples.
        """
        side = math.isqrt(rbm.n_visible)
        if side * side != rbm.n_visible:
            return
        weight = rbm.weight.detach()[:n_images].float()
        low = weight.amin(dim=1, keepdim=True)
        span = (weight.amax(dim=1, keepdim=True) - low).clamp_min(1e-12)
        filters = ((weight - low) / span).reshape(-1, 1, side, side).cpu()
        self.writer.add_image(f"{section}filters", make_grid(filters, nrow=10), step)
        with torch.no_grad():
            start = torch.rand(
                n_images, rbm.n_visible, generator=generator, device=rbm.weight.device
            )
            chains = rbm.gibbs(torch.bernoulli(start, generator=generator), gibbs_steps, generator)
            samples = rbm.visible_probs(rbm.sample_hidden(chains, generator)).clamp(0, 1)
        grid = make_grid(samples.float().reshape(-1, 1, side, side).cpu(), nrow=10)
        self.writer.add_image(f"{section}samples", grid, step)

    def hyperparameters(
        self, options: Mapping[str, Any], results: Mapping[str, float], run_name: str = "."
    ) -> None:
        """A run's resolved options beside its final results (TensorBoard's HPARAMS tab).

        Parameters
        ----------
        options : mapping
            Nested options (e.g. ``config.json``'s content), flattened to ``a/b`` names.
        results : mapping
            Final numbers, e.g. ``{"test_error": 0.0145}``.
        run_name : str
            Sub-folder of the event files; one per run of a study.
        """
        finite = {k: float(v) for k, v in results.items() if math.isfinite(v)}
        self.writer.add_hparams(_flatten(options), finite, run_name=run_name)
        self.writer.flush()

    def close(self) -> None:
        """Flush the event files to disk."""
        self.writer.close()
