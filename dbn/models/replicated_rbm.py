"""An RBM with tied copies of one layer: how a DBM's end layers are pretrained.

Salakhutdinov & Hinton (2009, section 3.1) pretrain a DBM greedily but correct for the
double counting that stacking would cause: in the DBM, the first hidden layer hears
both the pixels and the layer above, so the bottom RBM is trained as if each hidden
unit heard the pixels twice (two tied copies of the visible layer), and the top RBM as
if each of its visible units heard the hidden layer twice (two tied copies of the
hidden layer). With ``c_v`` visible copies (clamped equal) and ``c_h`` hidden copies
(independent given v), the copies' conditionals are

    p(h_j = 1 | v) = sigmoid(b_j + c_v W_j·v),
    p(v_i = 1 | h, h', ...) = sigmoid(a_i + W_iᵀ(h + h' + ...)),

and summing the hidden copies out gives the free energy

    F(v) = -c_v a·v - c_h Σ_j softplus(b_j + c_v W_j·v).

Gibbs sampling draws one hidden state and uses it for every copy (``c_h Wᵀh``), as
Salakhutdinov's code does, so CD with this free energy is the paper's procedure (its
weight updates are ``c_v c_h`` times the one-copy statistic: a learning-rate factor).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dbn._utils.checks import check_int
from dbn.models.rbm import DEFAULT_WEIGHT_STD, RBM

__all__ = ["ReplicatedRBM"]


class ReplicatedRBM(RBM):
    """A Bernoulli RBM whose visible or hidden layer counts ``copies`` times.

    Parameters
    ----------
    n_visible, n_hidden : int
    visible_copies : int
        Tied copies of the visible layer: 2 for a DBM's bottom RBM.
    hidden_copies : int
        Tied copies of the hidden layer: 2 for a DBM's top RBM.
    weight_std : float
    generator : torch.Generator, optional

    Examples
    --------
    >>> import torch
    >>> from dbn.models import ReplicatedRBM
    >>> bottom = ReplicatedRBM(6, 4, visible_copies=2)
    >>> v = torch.ones(1, 6)
    >>> torch.allclose(bottom.hidden_probs(v), torch.sigmoid(2 * v @ bottom.weight.T))
    True
    """

    # Its conditionals are not the plain RBM's, which the fused step hard-codes.
    plain_conditionals = False

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        visible_copies: int = 1,
        hidden_copies: int = 1,
        weight_std: float = DEFAULT_WEIGHT_STD,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(n_visible, n_hidden, "bernoulli", weight_std, generator)
        check_int("visible_copies", visible_copies)
        check_int("hidden_copies", hidden_copies)
        self.visible_copies = visible_copies
        self.hidden_copies = hidden_copies

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, visible_copies={self.visible_copies}, "
            f"hidden_copies={self.hidden_copies}"
        )

    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able."""
        return {
            "n_visible": self.n_visible,
            "n_hidden": self.n_hidden,
            "visible_copies": self.visible_copies,
            "hidden_copies": self.hidden_copies,
        }

    def hidden_logits(self, v: Tensor) -> Tensor:
        """b_h + c_v W v: (batch, n_hidden)."""
        return F.linear(v, self.visible_copies * self.weight, self.hidden_bias)

    def visible_probs(self, h: Tensor) -> Tensor:
        """sigmoid(b_v + c_h Wᵀh): (batch, n_visible)."""
        self._check_shape(h, self.n_hidden, "h")
        return torch.sigmoid(self.hidden_copies * (h @ self.weight) + self.visible_bias)

    def free_energy(self, v: Tensor) -> Tensor:
        """-c_v a·v - c_h Σ_j softplus(b_j + c_v W_j·v): (batch,)."""
        self._check_shape(v, self.n_visible, "v")
        visible = self.visible_copies * (v @ self.visible_bias)
        return -visible - self.hidden_copies * F.softplus(self.hidden_logits(v)).sum(dim=1)

    def energy(self, v: Tensor, h: Tensor) -> Tensor:
        """-c_v a·v - c_h b·h - c_v c_h hᵀWv: (batch,)."""
        self._check_shape(v, self.n_visible, "v")
        self._check_shape(h, self.n_hidden, "h")
        copies = self.visible_copies * self.hidden_copies
        interaction = ((h @ self.weight) * v).sum(dim=1)
        return (
            -self.visible_copies * (v @ self.visible_bias)
            - self.hidden_copies * (h @ self.hidden_bias)
            - copies * interaction
        )
