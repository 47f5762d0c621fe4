"""The label-budget study's pieces: class-balanced subsets, a training budget that scales
with the number of labels, and logistic regression on frozen features.

Greedy pretraining learns from images without labels; these pieces measure what that
buys when only ``n`` of the training images come with a label (``studies/compare.py
--preset labels``).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from torch import Tensor

from dbn.datasets import DataSplit
from dbn.utils import check_int

__all__ = [
    "LOGREG_FEATURES",
    "balanced_subset",
    "budget_epochs",
    "fit_logistic_regression",
    "validation_interval",
]

# What the frozen-features baseline can read: raw pixels, or a DBN's top layer.
LOGREG_FEATURES = ("pixels", "dbn-cd", "dbn-recon")


def balanced_subset(y: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """Indices of ``n`` examples drawn without replacement, as even across classes as
    ``n`` allows (the ``n mod n_classes`` extra ones go to classes drawn at random).

    Parameters
    ----------
    y : Tensor of shape (n_examples,), int64
        Class labels ``0 .. n_classes - 1``.
    n : int
    generator : torch.Generator
        The draw; the same seed gives the same subset.

    Returns
    -------
    Tensor of shape (n,), int64, sorted
    """
    check_int("n", n)
    n_classes = int(y.max()) + 1
    if n > len(y):
        raise ValueError(f"cannot draw {n} labelled examples from {len(y)}")
    per_class = torch.full((n_classes,), n // n_classes)
    per_class[torch.randperm(n_classes, generator=generator)[: n % n_classes]] += 1
    chosen = []
    for label in range(n_classes):
        members = torch.nonzero(y == label).flatten()
        if len(members) < per_class[label]:
            raise ValueError(
                f"class {label} has {len(members)} examples, fewer than the "
                f"{int(per_class[label])} a balanced subset of {n} needs"
            )
        order = torch.randperm(len(members), generator=generator)
        chosen.append(members[order[: per_class[label]]])
    return torch.cat(chosen).sort().values


def budget_epochs(n: int, epochs: int, min_examples: int) -> int:
    """Epochs for ``n`` labelled examples: at least ``epochs``, and enough to show the
    network ``min_examples`` examples in all (small label sets get more passes)."""
    return max(epochs, math.ceil(min_examples / n))


def validation_interval(n: int, examples: int) -> int:
    """Validate every this many epochs: after about ``examples`` training examples, and
    at most once an epoch."""
    return max(1, math.ceil(examples / n))


def fit_logistic_regression(
    train: DataSplit, valid: DataSplit, test: DataSplit, C: float
) -> dict[str, float | bool]:
    """Multinomial logistic regression (scikit-learn, L2 with inverse strength ``C``) on
    fixed features; the frozen-features baseline of the label-budget study.

    Parameters
    ----------
    train, valid, test : DataSplit
        ``x`` of shape (n, n_features) float, ``y`` of shape (n,).
    C : float

    Returns
    -------
    dict
        ``valid_error``, ``test_error``, ``test_loss`` (mean cross-entropy),
        ``seconds`` (the fit) and ``converged`` (False when lbfgs used up its budget).
    """
    started = time.perf_counter()
    # lbfgs to convergence is slow on 50,000 images: 300 iterations are the budget, and
    # the result says whether it sufficed instead of warning once per fit
    model = LogisticRegression(C=C, max_iter=300)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(train.x.numpy(), train.y.numpy())
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for other in caught:
        if not issubclass(other.category, ConvergenceWarning):
            warnings.warn(other.message, other.category, stacklevel=2)
    seconds = time.perf_counter() - started

    def error(split: DataSplit) -> float:
        return float(np.mean(model.predict(split.x.numpy()) != split.y.numpy()))

    probabilities = model.predict_proba(test.x.numpy())
    y = test.y.numpy()
    picked = probabilities[np.arange(len(y)), np.searchsorted(model.classes_, y)]
    return {
        "valid_error": error(valid),
        "test_error": error(test),
        "test_loss": float(-np.log(np.clip(picked, 1e-12, None)).mean()),
        "seconds": seconds,
        "converged": converged,
    }
