"""An RBM whose visible layer carries a softmax group of label units beside its features.

Hinton, Osindero & Teh (2006) join ten label units to the top RBM of their DBN (the
"associative memory"): the visible vector is ``[x, y]`` with ``x`` the binary features
and ``y`` a one-of-K label. Summing out the hidden units needs nothing of the visible
units' type, so the free energy has the Bernoulli RBM's form over the joined vector,

    F(x, y) = -b_x·x - b_y·y - Σ_j softplus(c_j + W_j·x + U_j·y),

and the weights are one matrix whose last ``n_labels`` columns are ``U``. Only sampling
the visible layer differs: the features are Bernoulli given h, the label group is one
draw from softmax(b_y + Uᵀh). Classification compares ``F(x, e_k)`` over the K labels:
p(y = k | x) = softmax_k(-F(x, e_k)), exactly.

The top RBM of a Deep Boltzmann Machine is pretrained the same way in Salakhutdinov's
code, except that its features hear the hidden layer twice (``hidden_copies=2``: the
features' input from above stands in for the DBM's input from both sides, as in
:class:`~dbn.models.ReplicatedRBM`) while the labels hear it once. The code's CD
statistics are those of the one-copy free energy above, which this class keeps.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dbn._utils.checks import check_int
from dbn._utils.rng import Stream, categorical
from dbn.models.rbm import DEFAULT_WEIGHT_STD, RBM, bernoulli_sample

__all__ = ["LabelRBM", "sample_one_hot"]


def sample_one_hot(probs: Tensor, generator: Stream | None = None) -> Tensor:
    """One draw per row from the categorical distribution ``probs``, one-hot.

    Parameters
    ----------
    probs : Tensor of shape (batch, n_classes)
        Rows summing to 1.
    generator : torch.Generator or PCG64Stream, optional

    Returns
    -------
    Tensor of shape (batch, n_classes), in ``probs``' dtype

    Examples
    --------
    >>> import torch
    >>> from dbn.models.label_rbm import sample_one_hot
    >>> sample_one_hot(torch.tensor([[0.0, 1.0, 0.0]]))
    tensor([[0., 1., 0.]])
    """
    drawn = categorical(probs, generator)
    return F.one_hot(drawn, probs.shape[1]).to(probs.dtype)


class LabelRBM(RBM):
    """An RBM over ``[features, one-hot label]`` with the label group a softmax unit.

    Parameters
    ----------
    n_features : int
        Binary feature units (the penultimate layer's units in a generative DBN).
    n_labels : int
        Classes: the softmax group's size, at least 2.
    n_hidden : int
    weight_std : float
    generator : torch.Generator, optional
    hidden_copies : int
        Tied copies of the hidden layer that the features hear (2 for a DBM's top RBM);
        the labels hear one.

    Attributes
    ----------
    weight : Parameter of shape (n_hidden, n_features + n_labels)
        Columns ``[:n_features]`` connect the features, ``[n_features:]`` the labels.
    hidden_bias : Parameter of shape (n_hidden,)
    visible_bias : Parameter of shape (n_features + n_labels,)

    Examples
    --------
    >>> import torch
    >>> from dbn.models import LabelRBM
    >>> rbm = LabelRBM(6, 3, 4, generator=torch.Generator().manual_seed(0))
    >>> x = torch.bernoulli(torch.full((5, 6), 0.5), generator=torch.Generator().manual_seed(1))
    >>> rbm.class_free_energies(x).shape, rbm.predict_proba(x).sum(dim=1).allclose(torch.ones(5))
    (torch.Size([5, 3]), True)
    """

    # The label group is sampled as a softmax, which the fused step does not do.
    plain_conditionals = False

    def __init__(
        self,
        n_features: int,
        n_labels: int,
        n_hidden: int,
        weight_std: float = DEFAULT_WEIGHT_STD,
        generator: torch.Generator | None = None,
        hidden_copies: int = 1,
    ) -> None:
        check_int("n_features", n_features)
        check_int("n_labels", n_labels, minimum=2)
        check_int("hidden_copies", hidden_copies)
        super().__init__(n_features + n_labels, n_hidden, "bernoulli", weight_std, generator)
        self.n_features = n_features
        self.n_labels = n_labels
        self.hidden_copies = hidden_copies

    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able, for checkpoints."""
        return {
            "n_features": self.n_features,
            "n_labels": self.n_labels,
            "n_hidden": self.n_hidden,
            "hidden_copies": self.hidden_copies,
        }

    def join(self, x: Tensor, labels: Tensor) -> Tensor:
        """The visible vector ``[x, one_hot(labels)]``: (batch, n_features + n_labels).

        Parameters
        ----------
        x : Tensor of shape (batch, n_features)
        labels : Tensor of shape (batch,), int64 class indices
        """
        one_hot = F.one_hot(labels, self.n_labels).to(x.dtype)
        return torch.cat([x, one_hot], dim=1)

    def visible_probs(self, h: Tensor) -> Tensor:
        """E[v | h]: sigmoid for the features (their input from h counted
        ``hidden_copies`` times), softmax over the label group."""
        self._check_shape(h, self.n_hidden, "h")
        top_down = h @ self.weight
        features, labels = (top_down + self.visible_bias).split(
            [self.n_features, self.n_labels], dim=1
        )
        if self.hidden_copies != 1:
            extra = (self.hidden_copies - 1) * top_down[:, : self.n_features]
            features = features + extra
        return torch.cat([torch.sigmoid(features), torch.softmax(labels, dim=1)], dim=1)

    def sample_visible(self, h: Tensor, generator: Stream | None = None) -> Tensor:
        """Draw v ~ p(v | h): Bernoulli features and one label drawn from its softmax."""
        means = self.visible_probs(h)
        features, label_probs = means.split([self.n_features, self.n_labels], dim=1)
        labels = sample_one_hot(label_probs, generator)
        return torch.cat([bernoulli_sample(features, generator).to(h.dtype), labels], dim=1)

    def gibbs_clamped(
        self, x: Tensor, labels: Tensor, k: int = 1, generator: Stream | None = None
    ) -> Tensor:
        """k Gibbs steps with the labels held fixed; the features' final sample.

        Parameters
        ----------
        x : Tensor of shape (batch, n_features)
            Starting feature states.
        labels : Tensor of shape (batch,)
            The clamped classes.
        k : int
        generator : torch.Generator, optional

        Returns
        -------
        Tensor of shape (batch, n_features)
        """
        check_int("k", k)
        for _ in range(k):
            h = self.sample_hidden(self.join(x, labels), generator)
            x = self.sample_visible(h, generator)[:, : self.n_features]
        return x

    def class_free_energies(self, x: Tensor) -> Tensor:
        """F(x, e_k) for every class k: (batch, n_labels).

        Parameters
        ----------
        x : Tensor of shape (batch, n_features)
        """
        self._check_shape(x, self.n_features, "x")
        feature_weight, label_weight = self.weight.split([self.n_features, self.n_labels], dim=1)
        feature_bias, label_bias = self.visible_bias.split([self.n_features, self.n_labels])
        base = F.linear(x, feature_weight, self.hidden_bias)  # (batch, n_hidden)
        energies = []
        for k in range(self.n_labels):
            softplus = F.softplus(base + label_weight[:, k]).sum(dim=1)
            energies.append(-(x @ feature_bias) - label_bias[k] - softplus)
        return torch.stack(energies, dim=1)

    def predict_proba(self, x: Tensor) -> Tensor:
        """p(y = k | x) = softmax_k(-F(x, e_k)): (batch, n_labels)."""
        return torch.softmax(-self.class_free_energies(x), dim=1)

    def predict(self, x: Tensor) -> Tensor:
        """The label of lowest free energy: (batch,), int64."""
        return self.class_free_energies(x).argmin(dim=1)
