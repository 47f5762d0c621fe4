"""Greedy layer-wise pretraining: one stack of RBMs for the DBN, the DBM and the
generative DBN.

:func:`pretrain` is the public entry point (:meth:`dbn.DBN.pretrain` runs it); the
pieces under it: :func:`layer_configs` resolves one
:class:`~dbn.training.rbm_trainer.TrainConfig` per RBM, :class:`PretrainCheckpoint`
saves and restores a run between epochs, and :func:`pretrain_layers` trains each RBM on
the hidden probabilities of the one below (Hinton, Osindero & Teh 2006). What differs
between the three models (which RBMs, labels or not, how the trained RBMs fold back
into the model) is one table, ``_PLANS``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from dbn._utils.checks import check_device
from dbn._utils.rng import derive_seed
from dbn.io import FORMAT_VERSION, CheckpointError, atomic_save, safe_load
from dbn.models.dbm import DBM
from dbn.models.dbn import DBN
from dbn.models.generative_dbn import GenerativeDBN
from dbn.models.label_rbm import LabelRBM
from dbn.models.rbm import RBM, check_visible_data
from dbn.models.replicated_rbm import ReplicatedRBM
from dbn.training._budget import PRETRAIN_BUDGET, with_budget_epochs
from dbn.training.distributed import is_main_process
from dbn.training.rbm_trainer import RBMTrainer, TrainConfig
from dbn.training.trainer import TrainingDivergedError

__all__ = [
    "FORMAT_VERSION",
    "GreedyStack",
    "PretrainCheckpoint",
    "layer_configs",
    "layer_rbms",
    "pretrain",
    "pretrain_layers",
]


def layer_configs(
    config: TrainConfig | Sequence[TrainConfig] | None, n_layers: int, **options
) -> list[TrainConfig]:
    """One training configuration per layer.

    Parameters
    ----------
    config : TrainConfig, list of TrainConfig, or None
        One for every layer, or one per layer; the defaults when None.
    n_layers : int
    **options
        TrainConfig fields overriding ``config``: a value for every layer, or a list or
        tuple with one value per layer.

    Returns
    -------
    list of TrainConfig
    """
    if config is None or isinstance(config, TrainConfig):
        bases = [config or TrainConfig()] * n_layers
    else:
        bases = list(config)
        if len(bases) != n_layers or not all(isinstance(c, TrainConfig) for c in bases):
            raise ValueError(
                f"config must be one TrainConfig or a list of {n_layers}, one per RBM; "
                f"got {len(bases)} item(s)"
            )
    for name, value in options.items():
        if isinstance(value, (list, tuple)) and len(value) != n_layers:
            raise ValueError(f"{name} has {len(value)} values for {n_layers} RBMs to train")
    configs = []
    for index, base in enumerate(bases):
        values = base.to_dict()
        for name, value in options.items():
            values[name] = value[index] if isinstance(value, (list, tuple)) else value
        configs.append(TrainConfig.from_dict(values))
    return configs


def _cpu_state(module: nn.Module) -> dict[str, Tensor]:
    return {key: value.detach().cpu() for key, value in module.state_dict().items()}


class GreedyStack(nn.ModuleList):
    """The RBMs of a greedy run that are not a DBN's own layers (a DBM's replicated RBMs,
    a generative DBN's RBMs before they are tied), as one module that
    :class:`PretrainCheckpoint` saves and restores."""

    def config(self) -> dict[str, Any]:
        return {"rbms": [rbm.config() for rbm in self]}


class PretrainCheckpoint:
    """The file that lets an interrupted pretraining continue bit for bit.

    Parameters
    ----------
    path : path
        Written atomically after every epoch (by rank 0 only in a distributed run).
    stack : nn.Module
        The DBN (or the stack of RBMs being trained); its ``config()`` and state are
        saved.
    configs : list of TrainConfig
        A resumed run must use the same ones.
    kind : str
        The file's kind: ``"dbn-training"`` (which :func:`dbn.load` reads as the DBN)
        by default.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        stack: nn.Module,
        configs: list[TrainConfig],
        kind: str = "dbn-training",
    ) -> None:
        self.path = Path(path)
        self.stack = stack
        self.configs = configs
        self.kind = kind

    def save(self, layer: int, trainer_state: dict | None, histories: list[list[dict]]) -> None:
        """Record that ``layer`` is in training (with ``trainer_state``) or, with
        ``layer == n_layers``, that every layer is done."""
        if not is_main_process():
            return
        atomic_save(
            {
                "kind": self.kind,
                "format_version": FORMAT_VERSION,
                "config": self.stack.config(),
                "train_configs": [config.to_dict() for config in self.configs],
                "layer": layer,
                "trainer": trainer_state,
                "state": _cpu_state(self.stack),
                "histories": histories,
            },
            self.path,
        )

    def restore(self) -> tuple[int, dict | None, list[list[dict]]]:
        """Load the saved weights into the stack; returns (layer, trainer state, histories)."""
        blob = safe_load(self.path, kind=self.kind)
        if blob["config"] != self.stack.config():
            raise CheckpointError(
                f"{str(self.path)!r} was written for a DBN with {blob['config']}, "
                f"not {self.stack.config()}"
            )
        if blob["train_configs"] != [config.to_dict() for config in self.configs]:
            raise CheckpointError(
                f"{str(self.path)!r} was written with other training options; resume with "
                f"the same options or start a new run"
            )
        self.stack.load_state_dict(blob["state"])
        return blob["layer"], blob["trainer"], blob["histories"]


def pretrain_layers(
    layers: Sequence[nn.Module],
    configs: list[TrainConfig],
    data: Tensor,
    valid: Tensor | None,
    device: torch.device,
    seed: int,
    progress: bool,
    checkpoint: PretrainCheckpoint | None,
    resume: bool,
    callbacks: Sequence[Callable[[RBMTrainer], None]],
    top_labels: Tensor | None = None,
    top_valid_labels: Tensor | None = None,
) -> list[list[dict]]:
    """Train ``layers`` (RBMs, on ``device``) greedily; see :meth:`dbn.DBN.pretrain`.
    With ``top_labels`` (n,), the top layer is a :class:`~dbn.models.LabelRBM` that
    trains on the features below joined with them (and validates on ``valid``'s
    joined with ``top_valid_labels``)."""
    if valid is not None and top_labels is not None and top_valid_labels is None:
        raise ValueError("valid data for a stack with top labels needs their labels too")
    n_layers = len(layers)
    start_layer, saved_trainer, histories = 0, None, [[] for _ in range(n_layers)]
    if resume and checkpoint is not None and checkpoint.path.is_file():
        start_layer, saved_trainer, histories = checkpoint.restore()
    x = data.to(device)
    v = None if valid is None else valid.to(device)
    for index, (rbm, config) in enumerate(zip(layers, configs, strict=True)):
        if top_labels is not None and index == n_layers - 1:
            x = rbm.join(x, top_labels.to(device))
            if v is not None and top_valid_labels is not None:
                v = rbm.join(v, top_valid_labels.to(device))
        if index >= start_layer:
            name = f"layer {index + 1}/{n_layers} ({rbm.n_visible}-{rbm.n_hidden})"
            trainer = RBMTrainer(rbm, config, seed=seed + index, device=device, name=name)
            trainer.layer = index
            if index == start_layer and saved_trainer is not None:
                trainer.load_state_dict(saved_trainer)

            def after_epoch(trainer: RBMTrainer, index: int = index) -> None:
                histories[index] = list(trainer.history)
                if checkpoint is not None:
                    state = trainer.state_dict()  # collective under torchrun
                    checkpoint.save(index, state, histories)

            try:
                histories[index] = trainer.fit(
                    x, v, callbacks=[after_epoch, *callbacks], progress=progress
                )
            except TrainingDivergedError as error:
                kept = f" The last good checkpoint is {checkpoint.path}." if checkpoint else ""
                raise TrainingDivergedError(f"{error}{kept}") from None
        with torch.no_grad():
            x = rbm.hidden_probs(x)
            v = None if v is None else rbm.hidden_probs(v)
    if checkpoint is not None:
        checkpoint.save(n_layers, None, histories)  # a finished run resumes as a no-op
    return histories


def layer_rbms(dbm: DBM, generator: torch.Generator | None = None) -> list[RBM]:
    """Fresh RBMs for each layer of ``dbm``, bottom first, with the paper's copies.

    The bottom RBM sees two tied copies of the pixels, the top RBM two tied copies of
    its hidden layer (:class:`~dbn.models.ReplicatedRBM`), the RBMs between them are
    plain; a DBM with label units has a :class:`~dbn.models.LabelRBM` on top, its
    features hearing the hidden layer twice and its labels once, as in Salakhutdinov's
    ``rbm_l2.m``. :meth:`dbn.models.DBM.from_rbms` composes them once trained.

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


@dataclass(frozen=True)
class _GreedyPlan:
    """What greedy pretraining needs to know of one kind of model: the one place where
    the three kinds differ.

    ``data(model, x, name)`` checks and casts a data set, ``labels(model, labels, n)``
    its classes (None where the model has no label units), ``rbms(model, seed)`` the
    RBMs to train bottom first (the top one a :class:`~dbn.models.LabelRBM` where there
    are labels), ``stack(model, rbms)`` the module a checkpoint saves, ``finish(model,
    rbms)`` folds the trained RBMs into the model, and ``kind`` names its checkpoints.
    """

    data: Callable[[Any, Any, str], Tensor]
    labels: Callable[[Any, Any, int], Tensor | None]
    rbms: Callable[[Any, int], list[RBM]]
    stack: Callable[[Any, list[RBM]], nn.Module]
    finish: Callable[[Any, list[RBM]], None]
    kind: str


def _dbn_labels(model: DBN, labels: Any, n: int) -> None:
    if labels is not None:
        raise ValueError("a DBN's greedy stack learns the data alone; pass labels=None")
    return None


def _tie_generative(model: GenerativeDBN, rbms: list[RBM]) -> None:
    for index, rbm in enumerate(rbms[:-1]):
        model.tie(index, rbm)


def _compose_dbm(model: DBM, rbms: list[RBM]) -> None:
    model.load_state_dict(DBM.from_rbms(rbms).state_dict())


_PLANS: dict[type, _GreedyPlan] = {
    DBN: _GreedyPlan(
        data=lambda model, x, name: check_visible_data(
            x, model.sizes[0], model.visible, name, dtype=model.rbms[0].weight.dtype
        ),
        labels=_dbn_labels,
        rbms=lambda model, seed: list(model.rbms),
        stack=lambda model, rbms: model,  # a checkpoint that dbn.load reads as the DBN
        finish=lambda model, rbms: None,  # its own layers trained in place
        kind="dbn-training",
    ),
    DBM: _GreedyPlan(
        data=lambda model, x, name: model.images(x, name),
        labels=lambda model, labels, n: model.training_labels(labels, n),
        rbms=lambda model, seed: layer_rbms(model, torch.Generator().manual_seed(seed)),
        stack=lambda model, rbms: GreedyStack(rbms),
        finish=_compose_dbm,
        kind="dbm-pretraining",
    ),
    GenerativeDBN: _GreedyPlan(
        data=lambda model, x, name: model.images(x, name),
        labels=lambda model, labels, n: model.training_labels(labels, n),
        rbms=lambda model, seed: (
            [model.as_rbm(i) for i in range(len(model.recognition))] + [model.top]
        ),
        stack=lambda model, rbms: GreedyStack(rbms),
        finish=_tie_generative,
        kind="generative-dbn-pretraining",
    ),
}


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def pretrain(
    model: DBN | DBM | GenerativeDBN,
    data: Tensor | np.ndarray,
    valid: Tensor | np.ndarray | None = None,
    config: TrainConfig | Sequence[TrainConfig] | None = None,
    *,
    labels: Tensor | np.ndarray | None = None,
    valid_labels: Tensor | np.ndarray | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    generator: torch.Generator | None = None,
    progress: bool = True,
    checkpoint_path: str | os.PathLike[str] | None = None,
    resume: bool = False,
    callbacks: Sequence[Callable[[RBMTrainer], None]] = (),
    **options: Any,
) -> list[list[dict[str, Any]]]:
    """Greedy layer-wise pretraining of a DBN, a DBM or a generative DBN, in place.

    One stack of RBMs for the three (Hinton, Osindero & Teh 2006), each RBM trained on
    the hidden probabilities of the one below, checkpointed after every epoch and
    resumed bit for bit:

    - :class:`~dbn.DBN`: its own layers.
    - :class:`~dbn.models.DBM`: RBMs with the layers next to the DBM's middle doubled,
      corrected for double counting, then composed by
      :meth:`~dbn.models.DBM.from_rbms` (Salakhutdinov & Hinton 2009;
      :func:`layer_rbms`); with label units, the top RBM also hears the labels.
    - :class:`~dbn.models.GenerativeDBN`: its directed layers, then the top RBM over
      the penultimate probabilities and the labels; the directed layers' recognition
      and generative weights are then tied to their RBM's.

    Parameters
    ----------
    model : DBN, DBM or GenerativeDBN
    data : Tensor or ndarray of shape (n_samples, sizes[0]), any float dtype
    valid : Tensor or ndarray of shape (n_valid, sizes[0]), optional
        Held-out data: each RBM's rows get its monitors (the free-energy gap).
    config : TrainConfig or list of TrainConfig, optional
        How to train every RBM, or each RBM, bottom first; :class:`TrainConfig`'s
        defaults when None, except the length: without ``config`` or ``epochs=``,
        each RBM trains for at least 5,000 updates and 10 epochs (as
        :func:`~dbn.training.train_rbm`).
    labels : Tensor or ndarray of shape (n_samples,), optional
        Classes of ``data``, joined to the top RBM's input: required by a generative
        DBN and a DBM with label units, refused by the others.
    valid_labels : Tensor or ndarray of shape (n_valid,), optional
        Classes of ``valid``, where ``labels`` are required.
    device : str or torch.device, optional
        Where to train; the model ends up there (default: where it is).
    seed : int
        RBM ``i`` trains with seed ``seed + i``; a DBM's RBMs also start from it.
    generator : torch.Generator, optional
        Draws ``seed`` instead.
    progress : bool
        A tqdm bar per RBM.
    checkpoint_path : path, optional
        Written atomically after every epoch with everything needed to resume (by
        rank 0 only in a distributed run; every rank reads it to resume).
    resume : bool
        Continue from ``checkpoint_path`` if it exists (with the same configurations);
        the result equals the uninterrupted run's.
    callbacks : sequence of callable
        Each called with the RBM's :class:`~dbn.training.RBMTrainer` after every
        epoch (``trainer.layer`` is the RBM's index), after its checkpoint.
    **options
        :class:`TrainConfig` fields overriding ``config`` (``epochs``, ``batch_size``,
        ``method``, ``k``, ``lr``, ...), each a value for every RBM or a list with one
        value per RBM.

    Returns
    -------
    list of list of dict
        Per RBM, its per-epoch metrics.

    Raises
    ------
    ValueError
        Data, labels, device or options the model cannot take, before anything is
        trained or moved.

    Examples
    --------
    >>> import dbn
    >>> from dbn.models import DBM, GenerativeDBN
    >>> from dbn.training import pretrain
    >>> train = dbn.load_digits()["train"]
    >>> history = pretrain(DBM([64, 32, 16]), train.x, epochs=2, progress=False)
    >>> [len(rows) for rows in history]
    [2, 2]
    >>> model = GenerativeDBN([64, 32, 32, 48], n_labels=10)
    >>> history = pretrain(model, train.x, labels=train.y, epochs=1, progress=False)
    >>> len(history)
    3
    """
    plan = _PLANS.get(type(model))
    if plan is None:
        kinds = ", ".join(kind.__name__ for kind in _PLANS)
        raise TypeError(f"greedy pretraining takes a {kinds}, got {type(model).__name__}")
    where = check_device(device) if device is not None else _model_device(model)
    data = plan.data(model, data, "data")
    labels = plan.labels(model, labels, len(data))
    if valid is None:
        if valid_labels is not None:
            raise ValueError("valid_labels were given without valid data")
    else:
        valid = plan.data(model, valid, "valid")
        if labels is not None and valid_labels is None:
            raise ValueError("valid data for a model that learns labels needs valid_labels")
        valid_labels = plan.labels(model, valid_labels, len(valid))
    if config is None:
        options = with_budget_epochs(options, len(data), TrainConfig.batch_size, PRETRAIN_BUDGET)
    if generator is not None:
        seed = derive_seed(generator)
    rbms = plan.rbms(model, seed)
    configs = layer_configs(config, len(rbms), **options)
    model.to(where)
    rbms = [rbm.to(where) for rbm in rbms]
    checkpoint = None
    if checkpoint_path is not None:
        checkpoint = PretrainCheckpoint(
            checkpoint_path, plan.stack(model, rbms), configs, kind=plan.kind
        )
    histories = pretrain_layers(
        rbms,
        configs,
        data,
        valid,
        where,
        seed,
        progress,
        checkpoint,
        resume,
        callbacks,
        top_labels=labels,
        top_valid_labels=valid_labels,
    )
    plan.finish(model, rbms)
    return histories
