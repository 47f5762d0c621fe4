"""Greedy pretraining of a DBM, corrected for double counting (Salakhutdinov & Hinton 2009).

The bottom RBM sees two tied copies of the pixels, the top RBM two tied copies of its
hidden layer (:class:`~dbn.models.ReplicatedRBM`), the RBMs between them are plain; a
DBM with label units has a :class:`~dbn.models.LabelRBM` on top, its features hearing
the hidden layer twice and its labels once, as in Salakhutdinov's ``rbm_l2.m``;
:meth:`dbn.models.DBM.from_rbms` then composes them, halving the middle weights. Each
RBM trains on the layer below's hidden probabilities under the RBM that produced it,
as in Salakhutdinov's code, by the project's RBM trainer; like a DBN's greedy stage
(:func:`~dbn.training.pretraining.pretrain_layers`), it checkpoints after every epoch and
resumes bit for bit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dbn.models.dbm import DBM
from dbn.models.label_rbm import LabelRBM
from dbn.models.rbm import RBM
from dbn.models.replicated_rbm import ReplicatedRBM
from dbn.training._budget import PRETRAIN_BUDGET, with_budget_epochs
from dbn.training.pretraining import (
    GreedyStack,
    PretrainCheckpoint,
    layer_configs,
    pretrain_layers,
)
from dbn.training.rbm_trainer import TrainConfig

__all__ = ["layer_rbms", "pretrain_dbm"]


def layer_rbms(dbm: DBM, generator: torch.Generator | None = None) -> list[RBM]:
    """Fresh RBMs for each layer of ``dbm``, bottom first, with the paper's copies.

    Examples
    --------
    >>> from dbn.models import DBM
    >>> from dbn.training import layer_rbms
    >>> [(r.visible_copies, r.hidden_copies) for r in layer_rbms(DBM([64, 32, 16, 8]))]
    [(2, 1), (1, 1), (1, 2)]
    >>> type(layer_rbms(DBM([64, 32, 16], n_labels=10))[-1]).__name__
    'LabelRBM'
    """
    last = len(dbm.weights) - 1
    weight = dbm.weights[0]
    rbms: list[RBM] = []
    for index, (n_in, n_out) in enumerate(zip(dbm.sizes[:-1], dbm.sizes[1:], strict=True)):
        hidden_copies = 2 if index == last and last > 0 else 1
        if index == last and dbm.n_labels:
            rbm: RBM = LabelRBM(
                n_in, dbm.n_labels, n_out, generator=generator, hidden_copies=hidden_copies
            )
        else:
            rbm = ReplicatedRBM(
                n_in,
                n_out,
                visible_copies=2 if index == 0 and last > 0 else 1,
                hidden_copies=hidden_copies,
                generator=generator,
            )
        rbms.append(rbm.to(weight))
    return rbms


def pretrain_dbm(
    dbm: DBM,
    x: Tensor | np.ndarray,
    configs: TrainConfig | Sequence[TrainConfig] | None = None,
    seed: int = 0,
    progress: bool = True,
    checkpoint_path: str | os.PathLike | None = None,
    resume: bool = False,
    labels: Tensor | np.ndarray | None = None,
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
    checkpoint_path : path, optional
        Written atomically after every epoch of every RBM.
    resume : bool
        Continue from ``checkpoint_path`` if it exists (with the same configurations);
        the result equals the uninterrupted run's.
    labels : Tensor or ndarray of shape (n,), optional
        Classes of ``x``, joined to the top RBM's input; required by a DBM with label
        units, refused without.
    **options
        :class:`TrainConfig` fields, applied to every RBM. Without ``configs`` or
        ``epochs=``, each RBM trains for at least 5,000 updates and 10 epochs.

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
    if not (configs is None or isinstance(configs, TrainConfig)) and len(configs) != n_rbms:
        raise ValueError(
            f"configs must hold one TrainConfig per RBM ({n_rbms}), got {len(configs)}"
        )
    h = dbm.images(x)
    y = dbm.training_labels(labels, len(h))
    if configs is None:
        options = with_budget_epochs(options, len(h), TrainConfig.batch_size, PRETRAIN_BUDGET)
    resolved = layer_configs(configs, n_rbms, **options)
    rbms = GreedyStack(layer_rbms(dbm, torch.Generator().manual_seed(seed)))
    checkpoint = None
    if checkpoint_path is not None:
        checkpoint = PretrainCheckpoint(checkpoint_path, rbms, resolved, kind="dbm-pretraining")
    device = dbm.weights[0].device
    histories = pretrain_layers(
        rbms, resolved, h, None, device, seed, progress, checkpoint, resume, (), y
    )
    dbm.load_state_dict(DBM.from_rbms(list(rbms)).state_dict())
    return histories
