"""Training budgets counted in updates, so that defaults suit a data set of any size.

Ten epochs of 1,000 images are 100 updates, far too few; ten of 60,000 are 6,000. The
public entry points take their default length from here when the user names none: at
least ``min_updates`` updates and at least ``min_epochs`` epochs. The figures were
chosen on scikit-learn's digits (a stratified 70/30 split, 3 seeds): a 64-100-50 DBN
pretrained for 5,000 updates and fine-tuned for 3,000 reached 2.78 % test error, against
4.01 % for 2,000 and 2,000 and 2.72 % for twice the budget (docs: the first hour).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["FINETUNE_BUDGET", "PRETRAIN_BUDGET", "budget_epochs", "with_budget_epochs"]

# (min_updates, min_epochs): MNIST's 50,000 images in batches of 100 keep the former
# defaults, 10 epochs of pretraining and 30 of fine-tuning.
PRETRAIN_BUDGET = (5000, 10)
FINETUNE_BUDGET = (3000, 30)


def budget_epochs(n_samples: int, batch_size: int, budget: tuple[int, int]) -> int:
    """The epochs that give ``n_samples`` examples in batches of ``batch_size`` at least
    the budget's updates, and at least its epochs.

    Parameters
    ----------
    n_samples, batch_size : int
    budget : (int, int)
        ``(min_updates, min_epochs)``, e.g. :data:`PRETRAIN_BUDGET`.

    Examples
    --------
    >>> from dbn.training import PRETRAIN_BUDGET, budget_epochs
    >>> budget_epochs(50_000, 100, PRETRAIN_BUDGET)  # MNIST: the epoch floor
    10
    >>> budget_epochs(1_000, 100, PRETRAIN_BUDGET)  # 10 batches an epoch: 5,000 updates
    500
    """
    min_updates, min_epochs = budget
    per_epoch = math.ceil(n_samples / batch_size)
    return max(min_epochs, math.ceil(min_updates / max(per_epoch, 1)))


def with_budget_epochs(
    options: dict[str, Any], n_samples: int, default_batch_size: int, budget: tuple[int, int]
) -> dict[str, Any]:
    """``options`` with ``epochs`` taken from the budget when they name none: the public
    entry points' default length. A per-layer list of batch sizes gives a per-layer list
    of epochs."""
    if "epochs" in options:
        return options
    sizes = options.get("batch_size", default_batch_size)
    if isinstance(sizes, Sequence):
        epochs: int | list[int] = [budget_epochs(n_samples, size, budget) for size in sizes]
    else:
        epochs = budget_epochs(n_samples, sizes, budget)
    return {**options, "epochs": epochs}
