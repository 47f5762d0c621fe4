"""The epoch skeleton that trainers share: a subclass writes its epoch, the base the rest.

:class:`Trainer` holds the model, its config, the optimiser built from every parameter
(:func:`dbn.optim.split_weights`), the generator, the epoch count and the history. Its
:meth:`~Trainer.fit` runs the epochs the config has left, times each, refuses a
diverged model, appends the epoch's row and calls the callbacks; its
:meth:`~Trainer.state_dict` is everything needed to continue bit for bit, and
:meth:`~Trainer.load_state_dict` checks a saved state against the config, the model's
shape and the epoch range before it changes anything. A subclass implements
:meth:`~Trainer.train_epoch` (one pass over the data; the epoch's metrics) and, where
its data need it, :meth:`~Trainer.prepare` (checking and converting the data once).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import nn
from tqdm.auto import tqdm

from dbn._utils.checks import check_materialised
from dbn._utils.config import JSONConfig
from dbn._utils.rng import new_generator
from dbn.optim import make_optimizer, split_weights
from dbn.training.rbm_trainer import TrainingDivergedError

__all__ = ["Trainer"]

Callback = Callable[["Trainer"], None]


class Trainer:
    """Train a model epoch by epoch under a config; save and restore the whole state.

    Parameters
    ----------
    model : nn.Module
        With a ``config()`` method giving its constructor arguments (every dbn model).
    config : JSONConfig
        Needs ``epochs``, ``lr``, ``momentum`` and ``weight_decay``.
    seed : int
        Seeds the trainer's generator (shuffling and every sampled state).

    Notes
    -----
    The optimiser is SGD with momentum, its weight cost on the weight matrices only,
    over every trainable parameter of the model.

    Examples
    --------
    >>> import dbn
    >>> from dbn.models import DBM
    >>> from dbn.training import DBMConfig, DBMTrainer, Trainer
    >>> trainer = DBMTrainer(DBM([64, 16, 8]), DBMConfig(epochs=2, n_chains=10))
    >>> isinstance(trainer, Trainer)
    True
    >>> x = dbn.load_digits()["train"].x
    >>> rows = trainer.fit(x, callbacks=[lambda t: print("epoch", t.epoch)], progress=False)
    epoch 1
    epoch 2
    >>> sorted(rows[0])
    ['epoch', 'lr', 'reconstruction', 'seconds']
    """

    name: ClassVar[str] = "training"

    def __init__(self, model: nn.Module, config: JSONConfig, seed: int = 0) -> None:
        check_materialised(model)
        self.model = model
        self.config = config
        self.generator = new_generator(seed)
        weights, others = split_weights(model)
        self.optimizer = make_optimizer(
            "sgd",
            weights,
            others,
            lr=config.lr,  # type: ignore[attr-defined]
            momentum=config.momentum,  # type: ignore[attr-defined]
            weight_decay=config.weight_decay,  # type: ignore[attr-defined]
        )
        self.epoch = 0
        self.history: list[dict[str, Any]] = []

    def prepare(self, data: Any, labels: Any) -> tuple[Any, Any]:
        """The data and labels checked and converted once, before the first epoch."""
        return data, labels

    def train_epoch(self, data: Any, labels: Any) -> dict[str, Any]:
        """One pass over the data: the epoch's metrics (the base adds ``epoch`` and
        ``seconds``)."""
        raise NotImplementedError

    def fit(
        self,
        data: Any,
        labels: Any = None,
        *,
        callbacks: Sequence[Callback] = (),
        progress: bool = True,
    ) -> list[dict[str, Any]]:
        """Train until ``config.epochs`` epochs are done (continuing a restored state).

        Parameters
        ----------
        data : Tensor or ndarray
            What :meth:`prepare` accepts.
        labels : Tensor or ndarray, optional
        callbacks : sequence of callable
            Each called with the trainer after every epoch (to checkpoint, to validate:
            a callback may add entries to ``trainer.history[-1]``).
        progress : bool

        Returns
        -------
        list of dict
            A row per epoch: ``epoch``, the subclass's metrics, ``seconds``, and what
            the callbacks added.
        """
        data, labels = self.prepare(data, labels)
        epochs = self.config.epochs  # type: ignore[attr-defined]
        for _ in tqdm(range(self.epoch, epochs), desc=self.name, disable=not progress):
            started = time.perf_counter()
            metrics = self.train_epoch(data, labels)
            self._check_finite(metrics)
            self.epoch += 1
            self.history.append(
                {"epoch": self.epoch, **metrics, "seconds": time.perf_counter() - started}
            )
            for callback in callbacks:
                callback(self)
        return self.history

    def _check_finite(self, metrics: dict[str, Any]) -> None:
        finite_metrics = all(
            math.isfinite(value) for value in metrics.values() if isinstance(value, float)
        )
        if not finite_metrics or not all(torch.isfinite(p).all() for p in self.model.parameters()):
            raise TrainingDivergedError(f"{self.name} training diverged in epoch {self.epoch + 1}")

    def set_lr(self, lr: float) -> None:
        """Every parameter group's learning rate."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def set_momentum(self, momentum: float) -> None:
        """Every parameter group's momentum."""
        for group in self.optimizer.param_groups:
            group["momentum"] = momentum

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit for bit: tensors and plain values, and the
        model's constructor arguments, so that a state alone rebuilds its model."""
        return {
            "config": self.config.to_dict(),
            "model_config": self.model.config(),  # type: ignore[operator]
            "epoch": self.epoch,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "history": list(self.history),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from what :meth:`state_dict` returned, if it was written under the
        same config, for a model of the same shape, at an epoch the config has; checked
        before anything changes, refused in one line."""
        self.config.check_saved(state.get("config"), "the training state")
        model_config = self.model.config()  # type: ignore[operator]
        if state.get("model_config") != model_config:
            raise ValueError(
                f"the training state is of a model {state.get('model_config')}, not of "
                f"{model_config}"
            )
        epoch, epochs = state.get("epoch"), self.config.epochs  # type: ignore[attr-defined]
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch <= epochs:
            raise ValueError(f"the training state's epoch must lie in 0..{epochs}, got {epoch!r}")
        self.epoch = epoch
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.history = list(state["history"])
