"""Supervised training of an MLP classifier, shared by the scripts and the sklearn estimator.

The loop sees only the training and validation splits: early stopping picks the epoch
with the lowest validation error, and the caller evaluates the test split once, on the
model it gets back.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from dbn._utils.arrays import as_features, as_labels
from dbn._utils.checks import (
    check_choice,
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
)
from dbn._utils.config import JSONConfig
from dbn._utils.products import (
    MATMUL_CHOICES,
    check_matmul_device,
    check_routes,
    linear_routes_for,
)
from dbn._utils.rng import derive_seed, scoped_global_seed
from dbn.optim._factory import OPTIMIZERS, make_optimizer, split_weights
from dbn.optim.conjugate_gradient import ConjugateGradient
from dbn.optim.schedules import SCHEDULES, make_scheduler, ramped_momentum
from dbn.training._budget import FINETUNE_BUDGET, with_budget_epochs
from dbn.training.distributed import all_reduce_mean, is_main_process, rank_batches, world
from dbn.training.rbm_trainer import AUTOCAST_DTYPES
from dbn.training.trainer import Callback, Trainer

__all__ = [
    "CHECKPOINT_KIND",
    "FinetuneConfig",
    "FinetuneResult",
    "FinetuneTrainer",
    "FINETUNE_OPTIMIZERS",
    "evaluate",
    "finetune",
]

FINETUNE_OPTIMIZERS = (*OPTIMIZERS, "lbfgs", "cg")
# Optimisers that evaluate the loss several times a step, in a line search: they need a
# deterministic loss and the true gradient, and restart on every batch.
LINE_SEARCH_OPTIMIZERS = ("lbfgs", "cg")
CHECKPOINT_KIND = "finetune-training"


@dataclass
class FinetuneConfig(JSONConfig):
    """How to fine-tune a classifier.

    Parameters
    ----------
    optimizer : {"sgd", "adam", "lbfgs", "cg"}
        SGD uses Nesterov-free classical momentum. ``lbfgs`` (``torch.optim.LBFGS``
        with a strong-Wolfe line search, ``lbfgs_iterations`` iterations per batch)
        stands in for the conjugate gradient of Hinton & Salakhutdinov (2006); ``cg``
        is that conjugate gradient itself (``dbn.optim.conjugate_gradient``, Rasmussen's
        ``minimize.m``, ``cg_line_searches`` line searches per batch) and minimises the
        batch's summed loss, as ``backpropclassify.m`` does, in float64 and without
        autocast (the losses it reaches are below float32's resolution). Both need a
        deterministic loss (no dropout) and no gradient clipping, and restart on every
        batch.
    lr : float
        For ``cg``, ``minimize.m``'s expected reduction in the first line search of a
        batch (1.0 in the paper's code).
    momentum : float
        SGD only; the starting value when ``final_momentum`` is set.
    final_momentum : float, optional
        Momentum reached linearly after ``momentum_epochs`` epochs (Srivastava et al.
        2014 ramp it from 0.5 to 0.99).
    momentum_epochs : int
    dampened_momentum : bool
        SGD only: scale each gradient by ``1 - momentum`` as it enters the velocity
        (torch's ``dampening`` set to the momentum), the update of Hinton et al. (2012)
        and Srivastava et al. (2014), ``v <- p v + (1 - p) g``. A steady gradient then
        moves the weights by ``lr * g`` a step whatever the momentum; with torch's
        undampened default it moves them by ``lr * g / (1 - p)``, 100 times ``lr * g``
        at p = 0.99, so a momentum ramp also ramps the step size.
    schedule : {"none", "cosine", "step", "linear", "exponential"}
        Per-epoch learning-rate schedule (:mod:`dbn.optim.schedules`).
    lr_gamma : float
        The per-epoch factor of ``exponential``.
    epochs : int
        The schedules' length.
    stop_after : int, optional
        Stop after this many epochs while the schedules keep their length ``epochs``
        (the refit of select-then-refit repeats the selected run's first epochs).
    batch_size : int
    weight_decay : float
        L2 penalty on weights (not biases).
    l1 : float
        L1 penalty on weights, added to the loss.
    clip_grad_norm : float, optional
        Clip the global gradient norm to this value.
    patience : int, optional
        Stop after this many epochs without a better validation error.
    validate_every : int
        Validate (keep the best weights, check patience) after every this many epochs
        and after the last one: tiny training sets take an epoch per update or two, and
        validating each one would cost more than the training.
    head_epochs : int
        Train only the output layer, on the frozen features below, for this many first
        epochs (Hinton & Salakhutdinov 2006 train the new softmax layer for 5).
    max_norm : float, optional
        After every update, rescale each hidden unit's incoming weight vector to at most
        this L2 norm (Srivastava et al. 2014; ``torch.renorm``).
    lbfgs_iterations : int
        L-BFGS iterations (line searches) per batch. L-BFGS restarts on every batch, as
        the paper's conjugate gradient did: curvature pairs carried from one batch to
        the next mix two batches' gradients, and on the 784-500-500-2000 net that made
        the training loss jump by four orders of magnitude every few epochs.
    cg_line_searches : int
        Conjugate-gradient line searches per batch (3 in ``backpropclassify.m``).
    autocast : {None, "bfloat16", "float16"}
        Mixed precision for the training passes (``torch.autocast``): the matrix
        products run in this dtype, the parameters, gradients and optimiser stay in
        float32, and validation runs in full precision.
    matmul : {"auto", "mm", "onednn"}
        The route of the ``Linear`` layers' products on a float32 CPU batch, forward and
        backward (:class:`dbn._utils.products.LinearRoutes`): as
        :class:`dbn.TrainConfig`'s ``matmul``, chosen per layer shape; recorded in every
        history row and checkpoint, kept on resume. Not used under ``autocast``, nor where
        no layer could leave torch's route (:func:`dbn.utils.linear_routes_for`).

    Examples
    --------
    >>> import dbn
    >>> config = dbn.FinetuneConfig(epochs=20, lr=0.5, optimizer="sgd")
    >>> config.batch_size
    100
    """

    optimizer: Literal["sgd", "adam", "lbfgs", "cg"] = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    final_momentum: float | None = None
    momentum_epochs: int = 0
    dampened_momentum: bool = False
    schedule: Literal["none", "cosine", "step", "linear", "exponential"] = "none"
    lr_gamma: float = 0.998
    epochs: int = 30
    stop_after: int | None = None
    batch_size: int = 100
    weight_decay: float = 0.0
    l1: float = 0.0
    clip_grad_norm: float | None = None
    patience: int | None = None
    validate_every: int = 1
    head_epochs: int = 0
    max_norm: float | None = None
    lbfgs_iterations: int = 3
    cg_line_searches: int = 3
    autocast: Literal["bfloat16", "float16"] | None = None
    matmul: Literal["auto", "mm", "onednn"] = "auto"

    # configs saved before ``matmul`` existed multiplied through torch's own route
    LEGACY_DEFAULTS: ClassVar[dict[str, Any]] = {"matmul": "mm"}

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, FINETUNE_OPTIMIZERS)
        check_choice("matmul", self.matmul, MATMUL_CHOICES)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_positive("lr_gamma", self.lr_gamma)
        if self.final_momentum is not None:
            check_fraction("final_momentum", self.final_momentum)
        check_int("momentum_epochs", self.momentum_epochs, minimum=0)
        if self.dampened_momentum and self.optimizer != "sgd":
            raise ValueError(
                f"dampened_momentum applies to optimizer 'sgd' only, not {self.optimizer!r}"
            )
        if self.stop_after is not None:
            check_int("stop_after", self.stop_after)
        check_int("head_epochs", self.head_epochs, minimum=0)
        if self.max_norm is not None:
            check_positive("max_norm", self.max_norm)
        check_int("lbfgs_iterations", self.lbfgs_iterations)
        check_int("cg_line_searches", self.cg_line_searches)
        if self.optimizer == "cg" and self.autocast is not None:
            raise ValueError(
                "optimizer 'cg' runs without autocast: its line searches need float32 "
                "logits (bfloat16 ones make the small losses of late training a step "
                "function, on which every search fails)"
            )
        if self.optimizer in LINE_SEARCH_OPTIMIZERS and self.clip_grad_norm is not None:
            raise ValueError(
                f"optimizer {self.optimizer!r} takes no clip_grad_norm (its line search "
                "needs the true gradient)"
            )
        check_positive("lr", self.lr)
        check_int("epochs", self.epochs)
        check_int("batch_size", self.batch_size)
        check_fraction("momentum", self.momentum)
        check_nonnegative("weight_decay", self.weight_decay)
        check_nonnegative("l1", self.l1)
        if self.clip_grad_norm is not None:
            check_positive("clip_grad_norm", self.clip_grad_norm)
        if self.patience is not None:
            check_int("patience", self.patience)
        check_int("validate_every", self.validate_every)
        check_choice("autocast", self.autocast, AUTOCAST_DTYPES)


@dataclass
class FinetuneResult:
    """What :func:`finetune` returns: the per-epoch history (each row with its epoch's
    ``seconds``), the best epoch (1-based) with its validation error and loss, and
    ``seconds``, the time spent in the epochs (training and validation) summed over every
    process that trained the network, so a resumed run reports its whole cost.

    The best epoch has the lowest validation error, ties going to the lower validation
    loss: on a few hundred held-out examples the error moves in coarse steps and ties
    often, and the first epoch to reach a tied error is often an undertrained one.

    Examples
    --------
    >>> import dbn
    >>> from dbn.models import build_mlp
    >>> train, valid = dbn.load_digits()["train"], dbn.load_digits()["valid"]
    >>> model = build_mlp([64, 32], num_classes=10)
    >>> config = dbn.FinetuneConfig(epochs=3)
    >>> result = dbn.finetune(model, (train.x, train.y), (valid.x, valid.y), config, progress=False)
    >>> {'epoch', 'train_loss', 'valid_error', 'seconds'} <= set(result.history[0])
    True
    >>> 1 <= result.best_epoch <= 3
    True
    >>> result  # doctest: +ELLIPSIS
    FinetuneResult(epochs=3, best_epoch=..., best_valid_error=..., stopped_early=False, ...)
    """

    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_valid_error: float = math.inf
    best_valid_loss: float = math.inf
    stopped_early: bool = False

    @property
    def seconds(self) -> float:
        """The epochs' wall time summed over the history, restored epochs included."""
        return sum(row["seconds"] for row in self.history)

    def __repr__(self) -> str:
        # the history is a row an epoch: its length, not every row
        return (
            f"FinetuneResult(epochs={len(self.history)}, best_epoch={self.best_epoch}, "
            f"best_valid_error={self.best_valid_error:.4f}, "
            f"stopped_early={self.stopped_early}, seconds={self.seconds:.1f})"
        )


@torch.no_grad()
def _dtype_of(model: nn.Module) -> torch.dtype:
    """The dtype data must take to enter ``model``: its first parameter's."""
    return next(model.parameters(), torch.empty(0)).dtype


def _input_width(model: nn.Module) -> int | None:
    """The features a row that a sequential ``model``'s first linear layer takes (what
    :func:`dbn.to_mlp` and :func:`~dbn.models.build_mlp` build); None for other models,
    whose first linear layer need not see the input."""
    if isinstance(model, nn.Sequential):
        for module in model.modules():
            if isinstance(module, nn.Linear):
                return module.in_features
    return None


def _output_width(model: nn.Module) -> int | None:
    """The classes a sequential ``model``'s last linear layer scores; None for others."""
    if isinstance(model, nn.Sequential):
        linears = [module for module in model.modules() if isinstance(module, nn.Linear)]
        return linears[-1].out_features if linears else None
    return None


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters(), torch.empty(0)).device


def _as_pair(
    name: str, pair: object, dtype: torch.dtype, device: torch.device | None = None
) -> tuple[Tensor, Tensor]:
    """An ``(X, y)`` pair of tensors or arrays as (float features, int64 labels)."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(f"{name} must be an (X, y) pair, got {type(pair).__name__}")
    x = as_features(f"{name} X", pair[0], dtype, device)
    if x.dim() != 2:
        raise ValueError(f"{name} X must have shape (n_samples, n_features), got {tuple(x.shape)}")
    if len(x) == 0:
        raise ValueError(f"the {name} split is empty")
    return x, as_labels(f"{name} y", pair[1], len(x), device)


def evaluate(
    model: nn.Module, x: Tensor | np.ndarray, y: Tensor | np.ndarray, batch_size: int = 2000
) -> tuple[float, float]:
    """Mean cross-entropy and error rate of ``model`` on ``(x, y)``, in eval mode.

    Parameters
    ----------
    model : nn.Module
    x : Tensor or ndarray of shape (n, n_features), any float dtype
        Converted to the model's dtype and device.
    y : Tensor or ndarray of shape (n,), integer class labels

    Returns
    -------
    (loss, error) : tuple of float

    Examples
    --------
    >>> import torch, dbn
    >>> test = dbn.load_digits()["test"]
    >>> untrained = torch.nn.Linear(64, 10)
    >>> loss, error = dbn.evaluate(untrained, test.x, test.y)
    >>> 0.0 <= error <= 1.0
    True
    """
    x, y = _as_pair("x and y", (x, y), _dtype_of(model), _device_of(model))
    was_training = model.training
    model.eval()
    loss, wrong = torch.zeros((), device=x.device), torch.zeros((), device=x.device)
    for begin in range(0, len(x), batch_size):
        logits = model(x[begin : begin + batch_size])
        target = y[begin : begin + batch_size]
        loss += F.cross_entropy(logits, target, reduction="sum")
        wrong += (logits.argmax(1) != target).sum()
    model.train(was_training)
    return loss.item() / len(x), wrong.item() / len(x)


class FinetuneTrainer(Trainer):
    """Fine-tunes a classifier epoch by epoch and can save and restore its whole state.

    Parameters
    ----------
    model : nn.Sequential
        Maps (batch, n_features) to (batch, n_classes) logits, its last module the
        output ``Linear``; moved to ``device``.
    config : FinetuneConfig
    device : str or torch.device, optional
        Where to train; defaults to the model's current device.
    generator : torch.Generator, optional
        Shuffles the training data (on ``device``; seed it alike on every rank) and
        seeds dropout; without it both use PyTorch's global generator.
    name : str
        The progress bar's label, and the name in error messages.

    Notes
    -----
    :meth:`fit` takes the training features and ``labels=`` their classes, and
    ``valid=(x, y)`` for early stopping and the best epoch's weights, which the model
    holds when :meth:`fit` returns; without ``valid`` it keeps the last epoch's weights
    (the refit of select-then-refit). :attr:`result` sums the run up.

    Examples
    --------
    >>> import dbn
    >>> from dbn.models import build_mlp
    >>> from dbn.training import FinetuneTrainer
    >>> train = dbn.load_digits()["train"]
    >>> model = build_mlp([64, 32], num_classes=10)
    >>> trainer = FinetuneTrainer(model, dbn.FinetuneConfig(epochs=2))
    >>> history = trainer.fit(train.x, labels=train.y, progress=False)
    >>> trainer.epoch, len(history), sorted(history[0])
    (2, 2, ['epoch', 'grad_norm', 'lr', 'matmul', 'momentum', 'seconds', 'train_loss'])
    """

    name = "fine-tune"
    checkpoint_kind = CHECKPOINT_KIND
    config: FinetuneConfig

    def __init__(
        self,
        model: nn.Module,
        config: FinetuneConfig,
        *,
        device: str | torch.device | None = None,
        generator: torch.Generator | None = None,
        name: str = "fine-tune",
    ) -> None:
        if config.head_epochs and world()[1] > 1:
            raise ValueError("head_epochs is not available under DDP; train in one process")
        if config.optimizer in LINE_SEARCH_OPTIMIZERS and any(
            isinstance(m, nn.Dropout) and m.p > 0 for m in model.modules()
        ):
            raise ValueError(
                f"optimizer {config.optimizer!r} needs a deterministic loss: use no dropout"
            )
        super().__init__(model, config, device=device, name=name)
        check_matmul_device(config.matmul, self.device)
        # autocast picks its own products; otherwise each layer shape takes its route,
        # where one could leave torch's own
        self.linear_routes = (
            linear_routes_for(model, config.matmul, config.batch_size, self.device)
            if config.autocast is None
            else None
        )
        # the caller's generator itself, so that its stream stays the one the shipped
        # classifiers were trained with
        self.generator = generator  # type: ignore[assignment]
        # Under torchrun, DDP averages the gradients of the ranks' slices of each batch.
        self.network = DistributedDataParallel(model) if self.world_size > 1 else model
        self.scheduler = make_scheduler(
            self.optimizer, config.schedule, config.epochs, config.lr_gamma
        )
        self.weights = split_weights(model)[0]
        # max-norm applies to hidden units: every weight matrix but the output layer's
        self.hidden_weights = self.weights[:-1]
        # nn.Dropout draws from the global generator (torch offers no per-module one):
        # each epoch seeds it from this seed and the epoch's number inside a fork, so the
        # caller's global state is untouched and a resumed run draws the same masks.
        self.dropout_seed = derive_seed(generator) if generator is not None else None
        self.result = FinetuneResult(history=self.history)
        self.best_state = copy.deepcopy(model.state_dict())

    def build_optimizer(self) -> torch.optim.Optimizer:
        """The config's optimiser; the line-search ones take their weight cost in the
        objective (neither has a ``weight_decay`` of its own)."""
        config = self.config
        if config.optimizer == "cg":
            return ConjugateGradient(
                self.model.parameters(), lr=config.lr, line_searches=config.cg_line_searches
            )
        if config.optimizer == "lbfgs":
            return torch.optim.LBFGS(
                self.model.parameters(),
                lr=config.lr,
                max_iter=config.lbfgs_iterations,
                # torch's default budget (1.25 evaluations an iteration) cuts the line
                # searches short; each may take up to its own 25 evaluations, as in the
                # paper's minimize.m (up to 20 a line search)
                max_eval=25 * config.lbfgs_iterations,
                history_size=config.lbfgs_iterations,
                line_search_fn="strong_wolfe",
            )
        return make_optimizer(
            config.optimizer,
            *split_weights(self.model),
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        )

    def running(self) -> contextlib.AbstractContextManager[Any]:
        """The ``Linear`` layers by their routes (none under autocast)."""
        return self.linear_routes or contextlib.nullcontext()

    def matmul_routes(self) -> dict[str, str] | None:
        """The ``Linear`` layers' routes so far, by layer shape; None where every layer
        keeps torch's own route unrouted (autocast, ``"mm"``, or layers too small to
        time: :func:`dbn.utils.linear_routes_for`)."""
        return None if self.linear_routes is None else dict(self.linear_routes.routes)

    def divergence_advice(self) -> str:
        """Lower the rate, or clip the gradients."""
        return f"Lower the learning rate (now {self.config.lr:g}) or clip gradients."

    def last_epoch(self) -> int:
        """``stop_after`` where it comes before ``epochs``."""
        return min(self.config.stop_after or self.config.epochs, self.config.epochs)

    def stopped(self) -> bool:
        """Whether early stopping ended the run."""
        return self.result.stopped_early

    # --- data ---------------------------------------------------------------------------

    def _checked(self, what: str, x: Any, y: Any) -> tuple[Tensor, Tensor]:
        x, y = _as_pair(what, (x, y), _dtype_of(self.model), self.device)
        width, classes = _input_width(self.model), _output_width(self.model)
        if width is not None and x.shape[1] != width:
            raise ValueError(f"{what} has {x.shape[1]} features a row; the model takes {width}")
        if classes is not None and int(y.max()) >= classes:
            raise ValueError(
                f"{what} has label {int(y.max())}; the model scores {classes} classes "
                f"(0 to {classes - 1})"
            )
        return x, y

    def prepare(self, x: Any, labels: Any) -> tuple[Tensor, Tensor]:
        """Features and labels checked (an (n, n_features) float matrix, n labels, widths
        and classes the model has) and moved to the device once."""
        return self._checked("train", x, labels)

    def prepare_valid(self, valid: Any) -> tuple[Tensor, Tensor]:
        """An ``(x, y)`` pair checked like the training data."""
        if not isinstance(valid, (tuple, list)) or len(valid) != 2:
            raise ValueError(f"valid must be an (X, y) pair, got {type(valid).__name__}")
        return self._checked("valid", *valid)

    # --- the step -----------------------------------------------------------------------

    def _objective(self, x: Tensor, y: Tensor, head_only: bool) -> tuple[Tensor, Tensor]:
        """(cross-entropy, cross-entropy plus the L1 cost) of one batch ``(x, y)``."""
        config = self.config
        dtype = AUTOCAST_DTYPES[config.autocast]
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            if head_only:
                with torch.no_grad():
                    features = self.model[:-1](x)  # type: ignore[index]
                logits = self.model[-1](features)  # type: ignore[index]
            else:
                logits = self.network(x)
            if config.optimizer == "cg":
                # float32 rounds a confident example's loss (below about 6e-8) to zero
                # while its gradient stays, so late in training the searches saw a
                # flat function and failed; float64, as minimize.m has, resolves it
                logits = logits.double()
            loss = F.cross_entropy(logits, y)
        objective = loss
        if config.l1 > 0:
            objective = objective + config.l1 * sum(w.abs().sum() for w in self.weights)
        if config.optimizer in LINE_SEARCH_OPTIMIZERS and config.weight_decay > 0:
            objective = objective + 0.5 * config.weight_decay * sum(
                w.pow(2).sum() for w in self.weights
            )
        if config.optimizer == "cg":
            # minimize.m's first step, lr / (1 + |g|^2), assumes the summed error of
            # backpropclassify.m; its Wolfe conditions do not depend on the scale
            objective = objective * len(y)
        return loss, objective

    def train_epoch(self, x: Tensor, labels: Tensor | None = None) -> dict[str, Any]:
        """One pass: the mean ``train_loss``, the epoch's ``lr`` (and ``momentum``), and
        ``grad_norm`` (the mean global gradient norm, before clipping)."""
        assert labels is not None  # prepare() gave every example its label
        lr = self.optimizer.param_groups[0]["lr"]
        scope = (
            scoped_global_seed(self.dropout_seed + self.epoch, self.device)
            if self.dropout_seed is not None
            else contextlib.nullcontext()
        )
        with scope:
            train_loss, grad_norm = self._passes(x, labels)
        if self.scheduler is not None:
            self.scheduler.step()
        metrics: dict[str, Any] = {"train_loss": train_loss, "lr": lr}
        if "momentum" in self.optimizer.param_groups[0]:
            metrics["momentum"] = self.optimizer.param_groups[0]["momentum"]
        metrics["grad_norm"] = grad_norm
        metrics["matmul"] = self.matmul_routes()
        return metrics

    def _passes(self, x: Tensor, y: Tensor) -> tuple[float, float]:
        """The epoch's batches of ``(x, y)``; the mean training loss and the mean
        gradient norm."""
        config, model, optimizer = self.config, self.model, self.optimizer
        if config.optimizer == "sgd":
            momentum = ramped_momentum(
                config.momentum, config.final_momentum, config.momentum_epochs, self.epoch
            )
            for group in optimizer.param_groups:
                group["momentum"] = momentum
                group["dampening"] = momentum if config.dampened_momentum else 0.0
        head_only = self.epoch < config.head_epochs
        model.train()
        total_loss = torch.zeros((), device=self.device)
        total_grad = torch.zeros((), device=self.device)
        n_batches = 0
        order = torch.randperm(len(x), generator=self.generator, device=self.device)
        for index in rank_batches(order, config.batch_size):

            def closure(index: Tensor = index) -> Tensor:
                optimizer.zero_grad(set_to_none=True)
                loss, objective = self._objective(x[index], y[index], head_only)
                objective.backward()
                closure.loss = loss.detach()  # type: ignore[attr-defined]
                return objective

            if config.optimizer in LINE_SEARCH_OPTIMIZERS:
                optimizer.state.clear()  # a fresh start on every batch (see FinetuneConfig)
                optimizer.step(closure)
                grads = [p.grad for p in model.parameters() if p.grad is not None]
                total_grad += torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
            else:
                closure()
                if config.clip_grad_norm is None:  # the norm alone, for the epoch's row
                    grads = [p.grad for p in model.parameters() if p.grad is not None]
                    total_grad += nn.utils.get_total_norm(grads)
                else:
                    total_grad += nn.utils.clip_grad_norm_(
                        model.parameters(), config.clip_grad_norm
                    )
                optimizer.step()
            if config.max_norm is not None:
                with torch.no_grad():
                    for weight in self.hidden_weights:
                        weight.copy_(torch.renorm(weight, p=2, dim=0, maxnorm=config.max_norm))
            total_loss += closure.loss  # type: ignore[attr-defined]
            n_batches += 1
        return all_reduce_mean(total_loss / n_batches).item(), total_grad.item() / n_batches

    def monitor(self, x: Tensor, valid: tuple[Tensor, Tensor] | None) -> dict[str, Any]:
        """In the epochs that validate: ``valid_loss`` and ``valid_error``; keeps the best
        epoch's weights (the lowest error, ties to the lower loss) and stops early after
        ``patience`` epochs without a better one."""
        done = self.epoch + 1
        if valid is None or (done % self.config.validate_every and done != self.last_epoch()):
            return {}
        result, patience = self.result, self.config.patience
        valid_loss, valid_error = evaluate(self.model, *valid)
        if (valid_error, valid_loss) < (result.best_valid_error, result.best_valid_loss):
            result.best_valid_error, result.best_valid_loss = valid_error, valid_loss
            result.best_epoch = done
            self.best_state = copy.deepcopy(self.model.state_dict())
        if patience is not None and done - result.best_epoch >= patience:
            result.stopped_early = True
        return {"valid_loss": valid_loss, "valid_error": valid_error}

    def finish(self, valid: Any) -> None:
        """After the epochs: the best-validation weights back in the model (with
        ``valid``; without, the last epoch's stay)."""
        if valid is not None:
            self.model.load_state_dict(self.best_state)

    # --- state --------------------------------------------------------------------------

    def sampling_state(self) -> dict[str, Any]:
        """The shuffling generator (None: the global one), the dropout seed and the
        layers' product routes."""
        generator = None if self.generator is None else self.generator.get_state()
        return {
            "generator": generator,
            "dropout_seed": self.dropout_seed,
            "matmul": self.matmul_routes(),
        }

    def check_state(self, state: dict[str, Any]) -> None:
        """The base's checks, and known product routes."""
        super().check_state(state)
        check_routes(state.get("matmul"))

    def load_sampling_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`sampling_state` stored."""
        if self.generator is not None and state["generator"] is not None:
            self.generator.set_state(state["generator"])
        self.dropout_seed = state["dropout_seed"]
        if self.linear_routes is not None:
            # the routes that ran keep running: a route chosen anew could round otherwise
            self.linear_routes.routes.update(state.get("matmul") or {})

    def state_dict(self) -> dict[str, Any]:
        """The base's state, the scheduler's, the best epoch's weights and the result."""
        summary = {k: v for k, v in asdict(self.result).items() if k != "history"}
        return {
            **super().state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "best_state": {k: v.detach().cpu() for k, v in self.best_state.items()},
            "result": summary,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from what :meth:`state_dict` returned, checked as the base checks."""
        super().load_state_dict(state)
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.best_state = {k: v.to(self.device) for k, v in state["best_state"].items()}
        # states written before ``seconds`` was read off the history carry it: dropped
        summary = {k: v for k, v in state["result"].items() if k != "seconds"}
        self.result = FinetuneResult(**summary, history=self.history)


def finetune(
    model: nn.Module,
    train: tuple[Tensor | np.ndarray, Tensor | np.ndarray],
    valid: tuple[Tensor | np.ndarray, Tensor | np.ndarray] | None = None,
    config: FinetuneConfig | None = None,
    device: str | torch.device = "cpu",
    generator: torch.Generator | None = None,
    progress: bool = True,
    name: str = "fine-tune",
    callbacks: Sequence[Callback] = (),
    checkpoint_path: str | os.PathLike | None = None,
    resume: bool = False,
    validation_fraction: float = 0.1,
    **options: Any,
) -> FinetuneResult:
    """Train ``model`` with cross-entropy; leave it holding the best-validation weights.

    Parameters
    ----------
    model : nn.Module
        Maps (batch, n_features) to (batch, n_classes) logits, e.g. from :func:`dbn.to_mlp`.
    train : (X, y)
        ``X`` of shape (n, n_features), any float dtype; ``y`` of shape (n,), integer
        class labels of any integer dtype; tensors or NumPy arrays.
    valid : (X, y), optional
        Chooses the kept weights (the best epoch's). When None, a random
        ``validation_fraction`` of ``train`` is held out for it, as scikit-learn's
        ``MLPClassifier(early_stopping=True)`` does.
    config : FinetuneConfig, optional
        Every option; :class:`FinetuneConfig`'s defaults when None, except the length:
        without ``config`` or ``epochs=``, at least 3,000 updates and 30 epochs.
    device, generator, name
        As in :class:`FinetuneTrainer`.
    progress : bool
        A tqdm bar over epochs.
    callbacks : sequence of callable
        Each called with the trainer after every epoch, after the epoch's checkpoint is
        written (its row is ``trainer.history[-1]``).
    checkpoint_path : path, optional
        Written atomically after every epoch with everything needed to resume.
    resume : bool
        Continue from ``checkpoint_path`` if it exists.
    validation_fraction : float
        The share of ``train`` held out when ``valid`` is None; 0 trains on all of it
        and keeps the last epoch's weights.
    **options
        :class:`FinetuneConfig` fields overriding ``config``'s, e.g. ``lr=0.5``.

    Returns
    -------
    FinetuneResult
        Per epoch: ``train_loss`` (running mean over batches), ``valid_loss``,
        ``valid_error``, ``lr``, ``grad_norm`` (mean global gradient norm).

    Examples
    --------
    >>> import torch, dbn
    >>> digits = dbn.load_digits()
    >>> train, valid = digits["train"], digits["valid"]
    >>> _ = torch.manual_seed(0)  # the output layer's initial weights
    >>> model = dbn.to_mlp(dbn.DBN([64, 32]), num_classes=10)
    >>> config = dbn.FinetuneConfig(epochs=5, lr=0.5)
    >>> result = dbn.finetune(model, (train.x, train.y), (valid.x, valid.y), config, progress=False)
    >>> len(result.history), result.best_valid_error < 0.5
    (5, True)
    """
    check_fraction("validation_fraction", validation_fraction)
    x, y = _as_pair("train", train, _dtype_of(model))
    if valid is None and validation_fraction > 0:
        cpu_generator = (
            generator if generator is not None and generator.device.type == "cpu" else None
        )
        order = torch.randperm(len(x), generator=cpu_generator)
        n_valid = max(1, int(round(validation_fraction * len(x))))
        if n_valid >= len(x):
            raise ValueError(f"validation_fraction {validation_fraction} leaves no training data")
        valid = (x[order[:n_valid]], y[order[:n_valid]])
        x, y = x[order[n_valid:]], y[order[n_valid:]]
    if config is None:
        options = with_budget_epochs(options, len(x), FinetuneConfig.batch_size, FINETUNE_BUDGET)
    values = {} if config is None else config.to_dict()
    values.update(options)
    config = FinetuneConfig.from_dict(values)
    if checkpoint_path is not None and Path(checkpoint_path).exists():
        if not Path(checkpoint_path).is_file():
            raise ValueError(f"checkpoint_path {str(checkpoint_path)!r} is not a regular file")
    trainer = FinetuneTrainer(model, config, device=device, generator=generator, name=name)
    # the data checked before a restored state changes the model
    x, y = trainer.prepare(x, y)
    valid = None if valid is None else trainer.prepare_valid(valid)
    if resume and checkpoint_path is not None and Path(checkpoint_path).is_file():
        trainer.load_state_dict(trainer.read_checkpoint(checkpoint_path))

    def checkpoint(trainer: Trainer) -> None:
        if checkpoint_path is not None and is_main_process():
            trainer.save_checkpoint(checkpoint_path)

    trainer.fit(x, valid, labels=y, callbacks=[checkpoint, *callbacks], progress=progress)
    return trainer.result
