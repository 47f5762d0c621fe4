"""Greedy layer-wise pretraining of a stack of RBMs, in pieces.

:func:`layer_configs` resolves one :class:`~dbn.training.rbm_trainer.TrainConfig` per layer,
:class:`PretrainCheckpoint` saves and restores a run between epochs, and
:func:`pretrain_layers` trains each layer on the hidden probabilities of the one below
(Hinton, Osindero & Teh 2006). :meth:`dbn.DBN.pretrain` is the public entry point.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from dbn._utils.checks import check_device
from dbn._utils.rng import derive_seed
from dbn.io import FORMAT_VERSION, CheckpointError, atomic_save, safe_load
from dbn.models.dbn import DBN
from dbn.models.rbm import check_visible_data
from dbn.training._budget import PRETRAIN_BUDGET, with_budget_epochs
from dbn.training.distributed import is_main_process
from dbn.training.rbm_trainer import RBMTrainer, TrainConfig
from dbn.training.trainer import TrainingDivergedError

__all__ = [
    "FORMAT_VERSION",
    "GreedyStack",
    "PretrainCheckpoint",
    "layer_configs",
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
            raise ValueError(f"config must be a TrainConfig or a list of {n_layers} of them")
    for name, value in options.items():
        if isinstance(value, (list, tuple)) and len(value) != n_layers:
            raise ValueError(f"{name} has {len(value)} values but the DBN has {n_layers} layers")
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


def pretrain_dbn(
    dbn: DBN,
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
    """Greedy layer-wise training of ``dbn``'s RBMs; what :meth:`dbn.DBN.pretrain` runs,
    with the same arguments and return value.

    Examples
    --------
    >>> import dbn
    >>> from dbn.training import pretrain_dbn
    >>> stack = dbn.DBN([64, 32])
    >>> history = pretrain_dbn(stack, dbn.load_digits()["train"].x, epochs=2, progress=False)
    >>> len(history[0])
    2
    """
    if config is None:
        options = with_budget_epochs(options, len(data), TrainConfig.batch_size, PRETRAIN_BUDGET)
    if generator is not None:
        seed = derive_seed(generator)
    configs = layer_configs(config, len(dbn.layers), **options)
    dtype = dbn.rbms[0].weight.dtype
    data = check_visible_data(data, dbn.sizes[0], dbn.visible, "data", dtype=dtype)
    if valid is not None:
        valid = check_visible_data(valid, dbn.sizes[0], dbn.visible, "valid", dtype=dtype)
    where = check_device(device) if device is not None else dbn.rbms[0].weight.device
    dbn.to(where)
    checkpoint = None
    if checkpoint_path is not None:
        checkpoint = PretrainCheckpoint(checkpoint_path, dbn, configs)
    return pretrain_layers(
        dbn.rbms,
        configs,
        data,
        valid,
        where,
        seed,
        progress,
        checkpoint,
        resume,
        callbacks,
    )
