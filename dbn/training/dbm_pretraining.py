"""Greedy pretraining of a DBM, corrected for double counting (Salakhutdinov & Hinton 2009).

The bottom RBM sees two tied copies of the pixels, the top RBM two tied copies of its
hidden layer (:class:`~dbn.models.ReplicatedRBM`), the RBMs between them are plain;
:meth:`dbn.models.DBM.from_rbms` then composes them, halving the middle weights. Each
RBM trains on the layer below's hidden probabilities under the RBM that produced it,
as in Salakhutdinov's code, by the project's RBM trainer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dbn.models.dbm import DBM
from dbn.models.replicated_rbm import ReplicatedRBM
from dbn.training.rbm_trainer import TrainConfig, train_rbm

__all__ = ["layer_rbms", "pretrain_dbm"]


def layer_rbms(dbm: DBM, generator: torch.Generator | None = None) -> list[ReplicatedRBM]:
    """Fresh RBMs for each layer of ``dbm``, bottom first, with the paper's copies.

    Examples
    --------
    >>> from dbn.models import DBM
    >>> from dbn.training import layer_rbms
    >>> [(r.visible_copies, r.hidden_copies) for r in layer_rbms(DBM([64, 32, 16, 8]))]
    [(2, 1), (1, 1), (1, 2)]
    """
    last = len(dbm.weights) - 1
    weight = dbm.weights[0]
    return [
        ReplicatedRBM(
            n_in,
            n_out,
            visible_copies=2 if index == 0 and last > 0 else 1,
            hidden_copies=2 if index == last and last > 0 else 1,
            generator=generator,
        ).to(weight)
        for index, (n_in, n_out) in enumerate(zip(dbm.sizes[:-1], dbm.sizes[1:], strict=True))
    ]


def pretrain_dbm(
    dbm: DBM,
    x: Tensor | np.ndarray,
    configs: TrainConfig | Sequence[TrainConfig] | None = None,
    seed: int = 0,
    progress: bool = True,
    **options: Any,
) -> list[list[dict[str, Any]]]:
    """Pretrain ``dbm`` in place, layer by layer.

    Parameters
    ----------
    dbm : DBM
    x : Tensor or ndarray of shape (n, sizes[0])
        Pixels in [0, 1].
    configs : TrainConfig or sequence of TrainConfig, optional
        One for every RBM, or one per RBM (bottom first).
    seed : int
        RBM ``i`` starts from and trains with seed ``seed + i``.
    progress : bool
    **options
        :class:`TrainConfig` fields, applied to every RBM.

    Returns
    -------
    list of list of dict
        Per RBM, its per-epoch metrics.

    Examples
    --------
    >>> import dbn
    >>> from dbn.models import DBM
    >>> from dbn.training import pretrain_dbm
    >>> dbm = DBM([64, 32, 16])
    >>> history = pretrain_dbm(dbm, dbn.load_digits()["train"].x, epochs=2, progress=False)
    >>> [len(layer) for layer in history]
    [2, 2]
    """
    n_rbms = len(dbm.weights)
    if configs is None or isinstance(configs, TrainConfig):
        configs = [configs] * n_rbms
    if len(configs) != n_rbms:
        raise ValueError(
            f"configs must hold one TrainConfig per RBM ({n_rbms}), got {len(configs)}"
        )
    h = dbm.images(x)
    rbms, histories = [], []
    for index, rbm in enumerate(layer_rbms(dbm, torch.Generator().manual_seed(seed))):
        histories.append(
            train_rbm(rbm, h, configs[index], seed=seed + index, progress=progress, **options)
        )
        rbms.append(rbm)
        with torch.no_grad():
            h = rbm.hidden_probs(h)
    dbm.load_state_dict(DBM.from_rbms(rbms).state_dict())
    return histories
