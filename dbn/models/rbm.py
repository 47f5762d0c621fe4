"""Restricted Boltzmann Machine with binary hidden units and Bernoulli or Gaussian visibles.

The energy of a joint configuration is (Hinton 2010, "A Practical Guide to Training
Restricted Boltzmann Machines")::

    Bernoulli visibles:  E(v, h) = -v·b_v - h·b_h - hᵀ W v
    Gaussian visibles:   E(v, h) = ½‖v - b_v‖² - h·b_h - hᵀ W v      (σ = 1)

Summing out the hidden units gives the free energy, ``p(v) ∝ exp(-F(v))``::

    Bernoulli:  F(v) = -v·b_v       - Σ_j softplus(b_h_j + W_j·v)
    Gaussian:   F(v) = ½‖v - b_v‖²  - Σ_j softplus(b_h_j + W_j·v)

Gaussian units here have unit variance, so data should be standardised per feature
(zero mean, unit variance) before training, as the guide recommends.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dbn._utils.arrays import as_features
from dbn._utils.checks import check_choice, check_int, check_nonnegative
from dbn._utils.rng import Stream, noise_dtype, normal_, rand
from dbn.io import save_model
from dbn.models.registry import register

__all__ = [
    "DEFAULT_WEIGHT_STD",
    "RBM",
    "VISIBLE_TYPES",
    "bernoulli_sample",
    "check_visible_data",
]

VISIBLE_TYPES = ("bernoulli", "gaussian")
# The initial weights' standard deviation of Hinton's practical guide.
DEFAULT_WEIGHT_STD = 0.01


# How far outside [0, 1], in units of the data's machine epsilon, Bernoulli data may lie
# by round-off and still be accepted (clipped).
ROUND_OFF_ULPS = 4


def check_visible_data(
    data: object,
    n_visible: int,
    visible: str,
    name: str = "data",
    check_range: bool = True,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Validate a whole data set once, at the edge, before it enters a hot loop.

    Parameters
    ----------
    data : Tensor or ndarray of shape (n_samples, n_visible), any float dtype
    n_visible : int
        The number of visible units the data must match.
    visible : {"bernoulli", "gaussian"}
        Bernoulli units additionally need values in [0, 1].
    name : str
        What to call the data in error messages.
    check_range : bool
        Test the [0, 1] range of Bernoulli data (the scikit-learn wrapper does not, to
        accept what ``BernoulliRBM`` accepts).
    dtype : torch.dtype, optional
        The model's dtype, which the returned data takes.

    Returns
    -------
    Tensor of shape (n_samples, n_visible)
        ``data`` as a tensor of ``dtype`` (a tensor already of that dtype is returned
        as it is, not copied).

    Raises
    ------
    ValueError
        On a wrong type, shape or feature count, an empty set, NaN/Inf, or
        values outside [0, 1] for Bernoulli units (beyond a round-off of
        ``ROUND_OFF_ULPS`` units in the last place, which is clipped).

    Examples
    --------
    >>> import numpy as np
    >>> from dbn.models.rbm import check_visible_data
    >>> check_visible_data(np.full((3, 4), 0.5), 4, "bernoulli", dtype=torch.float32).dtype
    torch.float32
    """
    data = as_features(name, data)
    if data.dim() != 2:
        raise ValueError(
            f"{name} must have shape (n_samples, {n_visible}), got {tuple(data.shape)}"
        )
    if data.shape[1] != n_visible:
        raise ValueError(f"{name} has {data.shape[1]} features, the model expects {n_visible}")
    if data.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 samples)")
    if visible == "bernoulli" and check_range:
        low, high = data.min().item(), data.max().item()
        # scaling leaves round-off outside [0, 1] (MinMaxScaler gives 1 + 2**-52): a few
        # units in the last place are clipped, anything further is an error
        slack = ROUND_OFF_ULPS * torch.finfo(data.dtype).eps
        if low < -slack or high > 1 + slack:
            raise ValueError(
                f"{name} must lie in [0, 1] for Bernoulli visible units, got values in "
                f"[{low!r}, {high!r}]; scale it, or use visible='gaussian' on standardised data"
            )
        if low < 0 or high > 1:
            data = data.clamp(0, 1)
    return data.to(dtype=dtype)


def bernoulli_sample(probs: Tensor, generator: Stream | None = None) -> Tensor:
    """Binary sample with P(1) = probs, drawn as ``uniform < probs``.

    Drawing one uniform number per unit (rather than ``torch.bernoulli``) lets the fast
    training path reproduce the same samples with preallocated, in-place buffers.
    ``generator`` is a ``torch.Generator`` or a :class:`dbn.utils.PCG64Stream`.
    """
    noise = rand(probs.shape, generator, probs.device, noise_dtype(probs.dtype))
    return noise.lt_(probs)


class RBM(nn.Module):
    """A Restricted Boltzmann Machine.

    Parameters
    ----------
    n_visible : int
        Number of visible units.
    n_hidden : int
        Number of binary hidden units.
    visible : {"bernoulli", "gaussian"}
        Type of the visible units. Gaussian units have unit variance.
    weight_std : float
        Standard deviation of the initial weights, N(0, 0.01²) as in Hinton's guide.
    generator : torch.Generator, optional
        Source of randomness for the initial weights.

    Attributes
    ----------
    weight : Parameter of shape (n_hidden, n_visible)
        The same layout as ``nn.Linear.weight``, so export to an MLP is a copy.
    hidden_bias : Parameter of shape (n_hidden,)
    visible_bias : Parameter of shape (n_visible,)

    Examples
    --------
    >>> import torch, dbn
    >>> rbm = dbn.RBM(64, 16, generator=torch.Generator().manual_seed(0))
    >>> rbm.weight.shape, rbm.hidden_bias.shape, rbm.visible_bias.shape
    (torch.Size([16, 64]), torch.Size([16]), torch.Size([64]))
    >>> v = torch.bernoulli(torch.full((5, 64), 0.5), generator=torch.Generator().manual_seed(1))
    >>> rbm.free_energy(v).shape, rbm.hidden_probs(v).shape
    (torch.Size([5]), torch.Size([5, 16]))
    """

    # Whether the conditionals are exactly the ones above, which the fused training step
    # hard-codes; a subclass that changes them sets False and trains by the loss step.
    plain_conditionals: ClassVar[bool] = True

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        visible: Literal["bernoulli", "gaussian"] = "bernoulli",
        weight_std: float = DEFAULT_WEIGHT_STD,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        check_int("n_visible", n_visible)
        check_int("n_hidden", n_hidden)
        check_choice("visible", visible, VISIBLE_TYPES)
        check_nonnegative("weight_std", weight_std)
        self.n_visible = n_visible
        self.n_hidden = n_hidden
        self.visible = visible
        self.weight = nn.Parameter(
            torch.randn(n_hidden, n_visible, generator=generator) * weight_std
        )
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden))
        self.visible_bias = nn.Parameter(torch.zeros(n_visible))

    def extra_repr(self) -> str:
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, visible={self.visible!r}"

    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able, for checkpoints."""
        return {"n_visible": self.n_visible, "n_hidden": self.n_hidden, "visible": self.visible}

    def save(self, path: str | os.PathLike[str], **extra: Any) -> Path:
        """Write the RBM atomically (``.safetensors`` for a pickle-free file): its
        config, its tensors and any JSON-able ``extra``; :func:`dbn.load` reads it."""
        return save_model("rbm", self, path, **extra)

    # --- shape checks (cheap: no device synchronisation) --------------------------------

    def _check_shape(self, x: Tensor, size: int, what: str) -> None:
        if x.dim() != 2 or x.shape[1] != size:
            raise ValueError(f"{what} must have shape (batch, {size}), got {tuple(x.shape)}")

    # --- energies -----------------------------------------------------------------------

    def _visible_term(self, v: Tensor) -> Tensor:
        """The part of the energy that involves only v: (batch,)."""
        if self.visible == "bernoulli":
            return -(v @ self.visible_bias)
        return 0.5 * (v - self.visible_bias).pow(2).sum(dim=1)

    def energy(self, v: Tensor, h: Tensor) -> Tensor:
        """Energy E(v, h) of joint configurations.

        Parameters
        ----------
        v : Tensor of shape (batch, n_visible)
        h : Tensor of shape (batch, n_hidden)

        Returns
        -------
        Tensor of shape (batch,)
        """
        self._check_shape(v, self.n_visible, "v")
        self._check_shape(h, self.n_hidden, "h")
        interaction = ((h @ self.weight) * v).sum(dim=1)
        return self._visible_term(v) - h @ self.hidden_bias - interaction

    def free_energy(self, v: Tensor) -> Tensor:
        """Free energy F(v) = -log Σ_h exp(-E(v, h)).

        Parameters
        ----------
        v : Tensor of shape (batch, n_visible)

        Returns
        -------
        Tensor of shape (batch,)
        """
        self._check_shape(v, self.n_visible, "v")
        return self._visible_term(v) - F.softplus(self.hidden_logits(v)).sum(dim=1)

    # --- conditionals -------------------------------------------------------------------

    def hidden_logits(self, v: Tensor) -> Tensor:
        """Total input b_h + W v to the hidden units: (batch, n_hidden)."""
        return F.linear(v, self.weight, self.hidden_bias)

    def hidden_probs(self, v: Tensor) -> Tensor:
        """p(h_j = 1 | v) = sigmoid(b_h_j + W_j·v).

        Parameters
        ----------
        v : Tensor of shape (batch, n_visible)

        Returns
        -------
        Tensor of shape (batch, n_hidden)
        """
        self._check_shape(v, self.n_visible, "v")
        return torch.sigmoid(self.hidden_logits(v))

    def visible_probs(self, h: Tensor) -> Tensor:
        """E[v | h]: sigmoid(b_v + Wᵀh) for Bernoulli units, b_v + Wᵀh for Gaussian ones.

        Parameters
        ----------
        h : Tensor of shape (batch, n_hidden)

        Returns
        -------
        Tensor of shape (batch, n_visible)
        """
        self._check_shape(h, self.n_hidden, "h")
        mean_input = h @ self.weight + self.visible_bias
        return torch.sigmoid(mean_input) if self.visible == "bernoulli" else mean_input

    def sample_hidden(self, v: Tensor, generator: Stream | None = None) -> Tensor:
        """Draw h ~ p(h | v): binary tensor of shape (batch, n_hidden)."""
        return bernoulli_sample(self.hidden_probs(v), generator)

    def sample_visible(self, h: Tensor, generator: Stream | None = None) -> Tensor:
        """Draw v ~ p(v | h): binary (Bernoulli) or N(mean, 1) (Gaussian), (batch, n_visible)."""
        mean = self.visible_probs(h)
        if self.visible == "bernoulli":
            return bernoulli_sample(mean, generator)
        noise = torch.empty(mean.shape, device=mean.device, dtype=noise_dtype(mean.dtype))
        return mean + normal_(noise, generator)

    def gibbs(self, v: Tensor, k: int = 1, generator: Stream | None = None) -> Tensor:
        """Run k steps of block Gibbs sampling v → h → v.

        Parameters
        ----------
        v : Tensor of shape (batch, n_visible)
            Starting visible states.
        k : int
            Number of full steps, at least 1.
        generator : torch.Generator or PCG64Stream, optional

        Returns
        -------
        Tensor of shape (batch, n_visible)
            The visible sample after k steps.
        """
        check_int("k", k)
        for _ in range(k):
            v = self.sample_visible(self.sample_hidden(v, generator), generator)
        return v

    def reconstruct(self, v: Tensor) -> Tensor:
        """Mean-field reconstruction E[v | p(h | v)]: (batch, n_visible)."""
        return self.visible_probs(self.hidden_probs(v))

    def forward(self, v: Tensor) -> Tensor:
        """Hidden probabilities, so an RBM can sit in an ``nn.Sequential`` as a feature map."""
        return self.hidden_probs(v)


register("rbm", RBM, "an RBM")
