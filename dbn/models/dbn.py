"""Deep Belief Network: RBMs stacked by greedy layer-wise pretraining.

Hinton, Osindero & Teh (2006), "A fast learning algorithm for deep belief nets": train
the first RBM on the data, then each next RBM on the hidden probabilities of the one
below, and so on up. The stack then initialises a feed-forward network
(:func:`dbn.to_mlp`) or, run top-down, generates data (:meth:`DBN.generate`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import torch
from torch import Tensor, nn

from dbn._utils.arrays import as_features
from dbn.io import save_model
from dbn.models.rbm import DEFAULT_WEIGHT_STD, RBM
from dbn.models.registry import register

if TYPE_CHECKING:
    from dbn.training import RBMTrainer, TrainConfig

__all__ = ["DBN"]


class DBN(nn.Module):
    """A stack of RBMs.

    Parameters
    ----------
    sizes : sequence of int
        Units per layer from the data up, e.g. ``[784, 500, 500, 2000]``.
    visible : {"bernoulli", "gaussian"}
        Type of the data layer's units; the higher layers are always Bernoulli.
    weight_std : float
        Standard deviation of every layer's initial weights: 0.01 as in Hinton's
        guide, 0.1 as in Hinton & Salakhutdinov's ``rbm.m``. Only the initial draw
        depends on it, so checkpoints do not record it.
    generator : torch.Generator, optional
        Source of the initial weights.

    Attributes
    ----------
    layers : nn.ModuleList of RBM
        ``layers[i]`` has ``sizes[i]`` visible and ``sizes[i + 1]`` hidden units.

    Examples
    --------
    >>> import torch, dbn
    >>> x = dbn.load_digits()["train"].x  # (1257, 64), pixels in [0, 1]
    >>> stack = dbn.DBN([64, 32, 16], generator=torch.Generator().manual_seed(0))
    >>> history = stack.pretrain(x, epochs=2, lr=0.1, progress=False)
    >>> [len(layer) for layer in history]  # per layer, per epoch
    [2, 2]
    >>> stack.transform(x).shape
    torch.Size([1257, 16])
    """

    def __init__(
        self,
        sizes: Sequence[int],
        visible: Literal["bernoulli", "gaussian"] = "bernoulli",
        weight_std: float = DEFAULT_WEIGHT_STD,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least two entries (visible, hidden), got {sizes!r}")
        self.sizes = sizes
        self.visible = visible
        self.layers = nn.ModuleList(
            RBM(
                n_in,
                n_out,
                visible=visible if index == 0 else "bernoulli",
                weight_std=weight_std,
                generator=generator,
            )
            for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
        )

    @property
    def rbms(self) -> list[RBM]:
        """The layers as a list of RBM, bottom first (``layers`` holds them as modules)."""
        return cast("list[RBM]", list(self.layers))

    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able."""
        return {"sizes": list(self.sizes), "visible": self.visible}

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, visible={self.visible!r}"

    # --- inference ----------------------------------------------------------------------

    @torch.no_grad()
    def transform(self, x: Tensor, n_layers: int | None = None) -> Tensor:
        """Deterministic features: hidden probabilities passed up through the layers.

        Computed without gradients (feature extraction); :meth:`forward` is the same
        pass with gradients, as ``RBM.forward`` is for one layer.

        Parameters
        ----------
        x : Tensor or ndarray of shape (batch, sizes[0]), any float dtype
        n_layers : int, optional
            How many layers to go up; all by default.

        Returns
        -------
        Tensor of shape (batch, sizes[n_layers])
        """
        weight = self.rbms[0].weight
        x = as_features("x", x, weight.dtype, weight.device)
        for rbm in self.rbms[:n_layers]:
            x = rbm.hidden_probs(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """The hidden probabilities of the top layer, differentiable like ``RBM.forward``.

        Parameters
        ----------
        x : Tensor of shape (batch, sizes[0])

        Returns
        -------
        Tensor of shape (batch, sizes[-1])
        """
        for rbm in self.layers:
            x = rbm(x)
        return x

    @torch.no_grad()
    def generate(
        self,
        n: int,
        gibbs_steps: int = 1000,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Sample from the top RBM by Gibbs sampling, then pass down to the data layer.

        Parameters
        ----------
        n : int
            Number of samples.
        gibbs_steps : int
            Gibbs steps in the top-level RBM (the associative memory).
        generator : torch.Generator, optional
            On the DBN's device.

        Returns
        -------
        Tensor of shape (n, sizes[0])
            Mean-field values of the data layer (pixel intensities for Bernoulli units).
        """
        top = self.rbms[-1]
        device = top.weight.device
        start = torch.rand((n, top.n_visible), generator=generator, device=device)
        v = top.gibbs(torch.bernoulli(start, generator=generator), gibbs_steps, generator)
        for rbm in reversed(self.rbms[:-1]):
            v = rbm.visible_probs(v)
        return v

    # --- pretraining --------------------------------------------------------------------

    def pretrain(
        self,
        data: Tensor | np.ndarray,
        valid: Tensor | np.ndarray | None = None,
        config: TrainConfig | Sequence[TrainConfig] | None = None,
        *,
        device: str | torch.device | None = None,
        seed: int = 0,
        generator: torch.Generator | None = None,
        progress: bool = True,
        checkpoint_path: str | os.PathLike[str] | None = None,
        resume: bool = False,
        callbacks: Sequence[Callable[[RBMTrainer], None]] = (),
        **options: Any,
    ) -> list[list[dict[str, Any]]]:
        """Greedy layer-wise training, each layer on the hidden probabilities of the one below.

        Parameters
        ----------
        data : Tensor or ndarray of shape (n_samples, sizes[0]), any float dtype
        valid : Tensor or ndarray of shape (n_valid, sizes[0]), optional
            Held-out data for each layer's free-energy gap.
        config : TrainConfig or list of TrainConfig, optional
            How to train every layer, or each layer; :class:`TrainConfig`'s defaults
            when None, except the length: without ``config`` or ``epochs=``, each
            layer trains for at least 5,000 updates and 10 epochs (as :func:`train_rbm`).
        device : str or torch.device, optional
            Where to train; the DBN ends up there.
        seed : int
            Layer ``i`` trains with seed ``seed + i``.
        generator : torch.Generator, optional
            Draws ``seed`` instead.
        progress : bool
            A tqdm bar per layer.
        checkpoint_path : path, optional
            Written atomically after every epoch with everything needed to resume (by
            rank 0 only in a distributed run; every rank reads it to resume).
        resume : bool
            Continue from ``checkpoint_path`` if it exists.
        callbacks : sequence of callable
            Each called with the layer's :class:`~dbn.training.RBMTrainer` after every
            epoch (``trainer.layer`` is the layer's index), after its checkpoint.
        **options
            :class:`TrainConfig` fields overriding ``config`` (``epochs``,
            ``batch_size``, ``method``, ``k``, ``lr``, ``momentum``, ...), each a value
            for every layer or a list with one value per layer.

        Returns
        -------
        list of list of dict
            Per layer, the per-epoch metrics.

        Examples
        --------
        >>> import dbn
        >>> x = dbn.load_digits()["train"].x
        >>> stack = dbn.DBN([64, 32, 16])
        >>> history = stack.pretrain(x, epochs=[2, 1], method="pcd", lr=0.05, progress=False)
        >>> [len(layer) for layer in history]
        [2, 1]
        """
        # models hold parameters and math; the training package builds on them, so
        # the convenience imports it when called, not when dbn.models loads
        from dbn.training.pretraining import pretrain

        return pretrain(
            self,
            data,
            valid,
            config,
            device=device,
            seed=seed,
            generator=generator,
            progress=progress,
            checkpoint_path=checkpoint_path,
            resume=resume,
            callbacks=callbacks,
            **options,
        )

    # --- saving -------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], **extra: Any) -> Path:
        """Write the DBN atomically: its config, its tensors and any JSON-able ``extra``."""
        return save_model("dbn", self, path, **extra)


register("dbn", DBN, "a DBN")
