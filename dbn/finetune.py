"""Supervised training of an MLP classifier, shared by the scripts and the sklearn estimator.

The loop sees only the training and validation splits: early stopping picks the epoch
with the lowest validation error, and the caller evaluates the test split once, on the
model it gets back.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from dbn.distributed import all_reduce_mean, rank_batches, world
from dbn.optim import OPTIMIZERS, make_optimizer
from dbn.rng import derive_seed, scoped_global_seed
from dbn.validation import (
    check_choice,
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
)

__all__ = ["FinetuneConfig", "FinetuneResult", "SCHEDULES", "evaluate", "finetune"]

SCHEDULES = ("none", "cosine", "step")


@dataclass
class FinetuneConfig:
    """How to fine-tune a classifier.

    Parameters
    ----------
    optimizer : {"sgd", "adam"}
        SGD uses Nesterov-free classical momentum.
    lr : float
    momentum : float
        SGD only.
    schedule : {"none", "cosine", "step"}
        Per-epoch learning-rate schedule (``step`` divides by 10 at 50 % and 75 %).
    epochs : int
    batch_size : int
    weight_decay : float
        L2 penalty on weights (not biases).
    l1 : float
        L1 penalty on weights, added to the loss.
    clip_grad_norm : float, optional
        Clip the global gradient norm to this value.
    patience : int, optional
        Stop after this many epochs without a better validation error.
    """

    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    schedule: Literal["none", "cosine", "step"] = "none"
    epochs: int = 30
    batch_size: int = 100
    weight_decay: float = 0.0
    l1: float = 0.0
    clip_grad_norm: float | None = None
    patience: int | None = None

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
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

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FinetuneResult:
    """What :func:`finetune` returns: the per-epoch history and the best epoch (1-based)."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_valid_error: float = math.inf
    stopped_early: bool = False


@torch.no_grad()
def evaluate(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 2000) -> tuple[float, float]:
    """Mean cross-entropy and error rate of ``model`` on ``(x, y)``, in eval mode.

    Parameters
    ----------
    model : nn.Module
    x : Tensor of shape (n, n_features), on the model's device
    y : Tensor of shape (n,), int64

    Returns
    -------
    (loss, error) : tuple of float
    """
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


def _weight_matrices(model: nn.Module) -> list[nn.Parameter]:
    """The weight matrices that L2 and L1 penalise (not biases or norm scales)."""
    return [p for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1]


def _optimizer(model: nn.Module, config: FinetuneConfig) -> torch.optim.Optimizer:
    weights = _weight_matrices(model)
    chosen = {id(p) for p in weights}
    others = [p for p in model.parameters() if id(p) not in chosen]
    return make_optimizer(
        config.optimizer,
        weights,
        others,
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )


def _lr_at(config: FinetuneConfig, epoch: int) -> float:
    if config.schedule == "cosine":
        return 0.5 * config.lr * (1 + math.cos(math.pi * epoch / config.epochs))
    if config.schedule == "step":
        return config.lr * (
            0.1 ** ((epoch >= config.epochs // 2) + (epoch >= 3 * config.epochs // 4))
        )
    return config.lr


def finetune(
    model: nn.Module,
    train: tuple[Tensor, Tensor],
    valid: tuple[Tensor, Tensor],
    config: FinetuneConfig,
    device: str | torch.device = "cpu",
    generator: torch.Generator | None = None,
    progress: bool = True,
    name: str = "fine-tune",
    on_epoch_end: Callable[[dict], None] | None = None,
) -> FinetuneResult:
    """Train ``model`` with cross-entropy; leave it holding the best-validation weights.

    Parameters
    ----------
    model : nn.Module
        Maps (batch, n_features) to (batch, n_classes) logits; moved to ``device``.
    train, valid : (x, y)
        ``x`` of shape (n, n_features) float, ``y`` of shape (n,) int64.
    config : FinetuneConfig
    device : str or torch.device
    generator : torch.Generator, optional
        Shuffles the training data (on ``device``; seed it alike on every rank) and seeds
        dropout's stream; without it both use PyTorch's global generator.
    progress : bool
        A tqdm bar over epochs.
    name : str
        The bar's label.
    on_epoch_end : callable, optional
        Called with each epoch's metrics.

    Returns
    -------
    FinetuneResult
        Per epoch: ``train_loss`` (running mean over batches), ``valid_loss``,
        ``valid_error``, ``lr``, ``grad_norm`` (mean global gradient norm).
    """
    device = torch.device(device)
    model.to(device)
    x, y = (t.to(device) for t in train)
    valid_x, valid_y = (t.to(device) for t in valid)
    if x.shape[0] == 0:
        raise ValueError("the training split is empty")
    rank, world_size = world()
    # Under torchrun, DDP averages the gradients of the ranks' slices of each global batch.
    network = DistributedDataParallel(model) if world_size > 1 else model
    optimizer = _optimizer(model, config)
    weights = _weight_matrices(model)
    result = FinetuneResult()
    best_state = copy.deepcopy(model.state_dict())
    # nn.Dropout draws from the global generator (torch offers no per-module one): seed
    # it from ``generator`` inside a fork, so the caller's global state is untouched.
    scope = (
        scoped_global_seed(derive_seed(generator), device)
        if generator is not None
        else contextlib.nullcontext()
    )
    with scope:
        bar = tqdm(
            range(config.epochs), desc=name, unit="epoch", disable=not progress, dynamic_ncols=True
        )
        for epoch in bar:
            lr = _lr_at(config, epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            model.train()
            total_loss = torch.zeros((), device=device)
            total_grad = torch.zeros((), device=device)
            n_batches = 0
            order = torch.randperm(len(x), generator=generator, device=device)
            for index in rank_batches(order, config.batch_size):
                loss = F.cross_entropy(network(x[index]), y[index])
                objective = loss
                if config.l1 > 0:
                    objective = objective + config.l1 * sum(w.abs().sum() for w in weights)
                optimizer.zero_grad(set_to_none=True)
                objective.backward()
                max_norm = config.clip_grad_norm if config.clip_grad_norm is not None else math.inf
                total_grad += nn.utils.clip_grad_norm_(model.parameters(), max_norm)
                optimizer.step()
                total_loss += loss.detach()
                n_batches += 1
            valid_loss, valid_error = evaluate(model, valid_x, valid_y)
            train_loss = all_reduce_mean(total_loss / n_batches).item()
            if not math.isfinite(train_loss):
                raise FloatingPointError(
                    f"{name}: the training loss became {train_loss} in epoch {epoch + 1}; "
                    f"lower the learning rate (now {lr:g}) or clip gradients"
                )
            metrics = {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "valid_loss": valid_loss,
                "valid_error": valid_error,
                "lr": lr,
                "grad_norm": total_grad.item() / n_batches,
            }
            result.history.append(metrics)
            if valid_error < result.best_valid_error:
                result.best_valid_error, result.best_epoch = valid_error, epoch + 1
                best_state = copy.deepcopy(model.state_dict())
            bar.set_postfix(loss=f"{train_loss:.4f}", valid_err=f"{100 * valid_error:.2f}%")
            if on_epoch_end is not None:
                on_epoch_end(metrics)
            if config.patience is not None and epoch + 1 - result.best_epoch >= config.patience:
                result.stopped_early = True
                break

    model.load_state_dict(best_state)
    return result
