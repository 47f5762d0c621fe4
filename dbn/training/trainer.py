"""The epoch skeleton every trainer shares: a subclass writes its step, the base the rest.

:class:`Trainer` holds the model on its device, its config, the optimiser built from
every parameter (:func:`dbn.optim.split_weights`), the generator, the epoch count and the
history. Its :meth:`~Trainer.fit` checks the data (and the held-out data) before anything
moves, runs the epochs the config has left with a progress bar, times each, refuses a
diverged model, appends the epoch's row and calls the callbacks; its
:meth:`~Trainer.state_dict` is everything needed to continue bit for bit, and
:meth:`~Trainer.load_state_dict` checks a saved state against the config, the model's
shape and the epoch range before it changes anything.

A subclass implements :meth:`~Trainer.train_epoch` (one pass over the data: the epoch's
metrics) and, where it needs them, the hooks :meth:`~Trainer.prepare` (checking and
converting the data once), :meth:`~Trainer.prepare_valid`, :meth:`~Trainer.start`
(first-epoch set-up), :meth:`~Trainer.monitor` (metrics measured after the epoch's
updates), :meth:`~Trainer.build_optimizer` and the pair :meth:`~Trainer.sampling_state` /
:meth:`~Trainer.load_sampling_state` (generators and chains).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import nn
from tqdm.auto import tqdm

from dbn._utils.checks import check_device, check_int, check_materialised
from dbn._utils.config import JSONConfig
from dbn._utils.rng import Stream, new_generator
from dbn.io import atomic_save, safe_load
from dbn.optim import make_optimizer, split_weights
from dbn.training.distributed import world

__all__ = ["Trainer", "TrainingDivergedError"]

Callback = Callable[["Trainer"], None]


class TrainingDivergedError(RuntimeError):
    """The parameters or the loss became NaN or infinite during training.

    Examples
    --------
    >>> import torch, dbn
    >>> from dbn.training import TrainingDivergedError
    >>> x = dbn.load_digits()["train"].x
    >>> try:
    ...     dbn.train_rbm(dbn.RBM(64, 16), x, epochs=1, lr=1e30, progress=False)
    ... except TrainingDivergedError:
    ...     print("diverged")
    diverged
    """


def training_device(model: nn.Module, device: str | torch.device | None) -> torch.device:
    """``device`` checked, or where the model's parameters are when it is None."""
    if device is not None:
        return check_device(device)
    return next(model.parameters()).device


def _is_fit(metric: str) -> bool:
    """Whether a row's entry measures the fit (shown on the bar), not a setting."""
    return any(word in metric for word in ("loss", "error", "likelihood", "gap", "reconstruction"))


class Trainer:
    """Train a model epoch by epoch under a config; save and restore the whole state.

    Parameters
    ----------
    model : nn.Module
        With a ``config()`` method giving its constructor arguments (every dbn model);
        moved to ``device``.
    config : JSONConfig
        Needs ``epochs``, ``lr``, ``momentum`` and ``weight_decay``.
    seed : int
        Seeds the trainer's generator (shuffling and every sampled state).
    device : str or torch.device, optional
        Where to train; defaults to the model's current device.
    name : str, optional
        Shown on the progress bar and in error messages; the class's ``name`` by default.

    Notes
    -----
    The optimiser is SGD with momentum, its weight cost on the weight matrices only,
    over every trainable parameter of the model (a subclass may build another in
    :meth:`build_optimizer`).

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

    name: str = "training"
    # what a checkpoint file of this trainer says it holds (dbn.load reads the model in it)
    checkpoint_kind: ClassVar[str] = "training"

    def __init__(
        self,
        model: nn.Module,
        config: JSONConfig,
        seed: int = 0,
        *,
        device: str | torch.device | None = None,
        name: str | None = None,
    ) -> None:
        check_materialised(model)
        self.device = training_device(model, device)
        self.model = model.to(self.device)
        self.config = config
        self.seed = seed
        if name is not None:
            self.name = name
        self.rank, self.world_size = world()
        # the sampling stream: a torch.Generator here; RBMTrainer may draw from PCG64
        self.generator: Stream = new_generator(seed, self.device)
        self.optimizer = self.build_optimizer()
        self.epoch = 0
        self.history: list[dict[str, Any]] = []

    # --- what a subclass writes ---------------------------------------------------------

    def build_optimizer(self) -> torch.optim.Optimizer:
        """SGD with momentum over every parameter, the weight cost on the weights only."""
        config = self.config
        return make_optimizer(
            "sgd",
            *split_weights(self.model),
            lr=config.lr,  # type: ignore[attr-defined]
            momentum=config.momentum,  # type: ignore[attr-defined]
            weight_decay=config.weight_decay,  # type: ignore[attr-defined]
        )

    def prepare(self, data: Any, labels: Any) -> tuple[Any, Any]:
        """The data and labels checked and converted once, before anything moves."""
        return data, labels

    def prepare_valid(self, valid: Any) -> Any:
        """The held-out data checked and converted once; refused by default."""
        raise ValueError(f"{self.name} training takes no held-out data")

    def start(self, data: Any, labels: Any) -> None:
        """Set-up before the first epoch (biases from the data, chains); none by default."""

    def train_epoch(self, data: Any, labels: Any = None) -> dict[str, Any]:
        """One pass over the data: the epoch's metrics (the base adds ``epoch`` and
        ``seconds``)."""
        raise NotImplementedError

    def monitor(self, data: Any, valid: Any) -> dict[str, Any]:
        """Metrics measured after the epoch's updates (on held-out data); none by default."""
        return {}

    def last_epoch(self) -> int:
        """The epoch :meth:`fit` trains to: ``config.epochs`` by default."""
        return int(self.config.epochs)  # type: ignore[attr-defined]

    def stopped(self) -> bool:
        """Whether training has stopped before :meth:`last_epoch` (early stopping)."""
        return False

    def running(self) -> contextlib.AbstractContextManager[Any]:
        """A context the epochs run in (backend flags); none by default."""
        return contextlib.nullcontext()

    def divergence_advice(self) -> str:
        """What the divergence error suggests."""
        return f"Lower the learning rate (now {self.config.lr:g})."  # type: ignore[attr-defined]

    # --- the skeleton -------------------------------------------------------------------

    def fit(
        self,
        data: Any,
        valid: Any = None,
        *,
        labels: Any = None,
        callbacks: Sequence[Callback] = (),
        progress: bool = True,
    ) -> list[dict[str, Any]]:
        """Train until ``config.epochs`` epochs are done (continuing a restored state).

        Parameters
        ----------
        data : Tensor or ndarray of shape (n_samples, n_features)
            What :meth:`prepare` accepts.
        valid : Tensor or ndarray of shape (n_valid, n_features), optional
            Held-out data, for the subclass's :meth:`monitor`.
        labels : Tensor or ndarray of shape (n_samples,), optional
            Classes of ``data``, for a trainer whose model has label units.
        callbacks : sequence of callable
            Each called with the trainer after every epoch (to checkpoint, to validate:
            a callback may add entries to ``trainer.history[-1]``).
        progress : bool
            A tqdm bar over epochs with the live metrics.

        Returns
        -------
        list of dict
            A row per epoch: ``epoch``, the subclass's metrics, ``seconds`` (the epoch's
            wall time, monitoring included), and what the callbacks added.
        """
        remaining = max(self.last_epoch() - self.epoch, 0)
        return self.train_epochs(
            data, remaining, valid, labels=labels, callbacks=callbacks, progress=progress
        )

    def train_epochs(
        self,
        data: Any,
        n_epochs: int,
        valid: Any = None,
        *,
        labels: Any = None,
        callbacks: Sequence[Callback] = (),
        progress: bool = True,
    ) -> list[dict[str, Any]]:
        """Train ``n_epochs`` more epochs, past ``config.epochs`` if need be
        (``partial_fit`` style). Arguments and return value as in :meth:`fit`."""
        check_int("n_epochs", n_epochs, minimum=0)
        data, labels = self.prepare(data, labels)
        if valid is not None:
            valid = self.prepare_valid(valid)
        if self.epoch == 0:
            self.start(data, labels)
        last = self.epoch + n_epochs
        bar = tqdm(
            total=max(last, self.last_epoch()),
            initial=self.epoch,
            desc=self.name,
            unit="epoch",
            disable=not progress or self.rank != 0,
            dynamic_ncols=True,
        )
        with bar, self.running():
            while self.epoch < last and not self.stopped():
                row = self._epoch(data, labels, valid)
                shown = {k: v for k, v in row.items() if isinstance(v, float) and _is_fit(k)}
                bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()})
                bar.update(1)
                for callback in callbacks:
                    callback(self)
        self.finish(valid)
        return self.history

    def finish(self, valid: Any) -> None:
        """Called once the epochs of :meth:`fit` or :meth:`train_epochs` are done, with
        the prepared held-out data (or None): where a trainer restores its best epoch.
        The base does nothing."""

    def _epoch(self, data: Any, labels: Any, valid: Any) -> dict[str, Any]:
        started = time.perf_counter()
        metrics = self.train_epoch(data, labels)
        self._check_finite(metrics)
        metrics.update(self.monitor(data, valid))
        if self.device.type == "cuda":  # kernels run asynchronously: time them, not their launch
            torch.cuda.synchronize(self.device)
        self.epoch += 1
        row = {"epoch": self.epoch, **metrics, "seconds": time.perf_counter() - started}
        self.history.append(row)
        return row

    def _check_finite(self, metrics: dict[str, Any]) -> None:
        finite_parameters = all(torch.isfinite(p).all() for p in self.model.parameters())
        finite_metrics = all(
            math.isfinite(value) for value in metrics.values() if isinstance(value, float)
        )
        if not (finite_parameters and finite_metrics):
            what = "parameters" if not finite_parameters else "loss"
            raise TrainingDivergedError(
                f"{self.name} diverged in epoch {self.epoch + 1}: the {what} became NaN or "
                f"infinite. {self.divergence_advice()}"
            )

    def set_lr(self, lr: float) -> None:
        """Every parameter group's learning rate."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def set_momentum(self, momentum: float) -> None:
        """Every parameter group's momentum."""
        for group in self.optimizer.param_groups:
            group["momentum"] = momentum

    # --- state --------------------------------------------------------------------------

    def sampling_state(self) -> dict[str, Any]:
        """The generators and chains, as :meth:`state_dict` stores them."""
        return {"generator": self.generator.get_state()}

    def load_sampling_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`sampling_state` stored."""
        self.generator.set_state(state["generator"])

    def check_state(self, state: dict[str, Any]) -> None:
        """Refuse a saved state this trainer cannot continue, before anything changes:
        another config, another model shape, an epoch that is not its history's length."""
        self.config.check_saved(state.get("config"), "the training state")
        model_config = self._model_config()
        if state.get("model_config") != model_config:
            raise ValueError(
                f"the training state is of a model {state.get('model_config')}, not of "
                f"{model_config}"
            )
        # a state may lie past config.epochs (train_epochs goes on, partial_fit style), but
        # its epoch counts the rows of its history: an edited count is refused
        epoch, history = state.get("epoch"), state.get("history")
        rows = len(history) if isinstance(history, list) else None
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch != rows:
            raise ValueError(
                f"the training state's epoch must be the number of its history rows "
                f"({rows}), got {epoch!r}"
            )

    def _model_config(self) -> dict[str, Any]:
        """The model's constructor arguments (a dbn model's ``config()``), or for another
        module its parameters' and buffers' shapes."""
        config = getattr(self.model, "config", None)
        if callable(config):
            return config()
        return {name: list(value.shape) for name, value in self.model.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit for bit: tensors and plain values, and the
        model's constructor arguments, so that a state alone rebuilds its model."""
        return {
            "config": self.config.to_dict(),
            "model_config": self._model_config(),
            "epoch": self.epoch,
            "seed": self.seed,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "history": list(self.history),
            **self.sampling_state(),
        }

    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`state_dict` to ``path`` as a checkpoint of :attr:`checkpoint_kind`:
        atomically (a kill mid-write keeps the last good file), never through a link,
        with the checksum :meth:`read_checkpoint` verifies."""
        atomic_save({"kind": self.checkpoint_kind, "trainer": self.state_dict()}, path)

    @classmethod
    def read_checkpoint(cls, path: str | os.PathLike[str]) -> dict[str, Any]:
        """The state in a :meth:`save_checkpoint` file, its kind and checksum verified
        (read before a run writes anything; :meth:`load_state_dict` takes it)."""
        return safe_load(path, kind=cls.checkpoint_kind)["trainer"]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from what :meth:`state_dict` returned, if :meth:`check_state` accepts
        it; refused in one line before anything changes."""
        self.check_state(state)
        self.epoch = state["epoch"]
        self.seed = int(state["seed"])
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.load_sampling_state(state)
        self.history = list(state["history"])
