"""One fine-tuning experiment of the initialisation study, and what it looks like at the start.

Shared by ``scripts/finetune.py`` (one run) and ``scripts/compare.py`` (the table).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dbn.activations import ACTIVATIONS
from dbn.data import DataSplit
from dbn.export import make_classifier
from dbn.finetune import FinetuneConfig, FinetuneResult, evaluate, finetune
from dbn.rng import new_generator

__all__ = ["ExperimentResult", "run_experiment", "initial_statistics"]


@dataclass
class ExperimentResult:
    """A fine-tuned model with its history, its one test evaluation and its wall time."""

    model: nn.Module
    finetune: FinetuneResult
    test_loss: float
    test_error: float
    seconds: float


def run_experiment(
    splits: dict[str, DataSplit],
    sizes: Sequence[int],
    init: str,
    config: FinetuneConfig,
    activation: str = "sigmoid",
    seed: int = 0,
    device: str | torch.device = "cpu",
    checkpoint=None,
    dropout: float = 0.0,
    input_dropout: float = 0.0,
    norm: str | None = None,
    progress: bool = True,
    on_epoch_end=None,
    checkpoint_path=None,
    resume: bool = False,
) -> ExperimentResult:
    """Build the classifier for ``init``, fine-tune on train/valid, then test it once.

    Parameters
    ----------
    splits : dict with ``train``, ``valid`` and ``test`` DataSplits
    sizes : sequence of int
        Input and hidden layer sizes.
    init : str
        ``"dbn"`` or a :mod:`dbn.init` scheme.
    config : FinetuneConfig
    seed : int
        Seeds the initialisation, the shuffling and dropout (each its own generator).
    checkpoint_path, resume
        As in :func:`dbn.finetune.finetune`; ``seconds`` then counts this process only.

    Returns
    -------
    ExperimentResult
    """
    device = torch.device(device)
    num_classes = int(splits["train"].y.max().item()) + 1
    model = make_classifier(
        sizes,
        num_classes,
        init=init,
        activation=activation,
        checkpoint=checkpoint,
        generator=new_generator(seed),
        dropout=dropout,
        input_dropout=input_dropout,
        norm=norm,
    )
    generator = new_generator(seed, device)
    started = time.perf_counter()
    result = finetune(
        model,
        (splits["train"].x, splits["train"].y),
        (splits["valid"].x, splits["valid"].y),
        config,
        device=device,
        generator=generator,
        progress=progress,
        name=f"{init}/{activation} seed {seed}",
        on_epoch_end=on_epoch_end,
        checkpoint_path=checkpoint_path,
        resume=resume,
    )
    seconds = time.perf_counter() - started
    # The test split is touched exactly once, after model selection on validation.
    test_loss, test_error = evaluate(
        model, splits["test"].x.to(device), splits["test"].y.to(device)
    )
    return ExperimentResult(model, result, test_loss, test_error, seconds)


def initial_statistics(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """Per hidden layer, at initialisation: activation mean/std, unit diversity, grad norm.

    ``unit_spread`` is the mean over examples of the standard deviation across a layer's
    units: exactly 0 when all units compute the same thing (zeros or constant init).

    Parameters
    ----------
    model : nn.Sequential
    x : Tensor of shape (batch, n_features)
    y : Tensor of shape (batch,)

    Returns
    -------
    list of dict, one per ``nn.Linear``
    """
    activations: list[torch.Tensor] = []
    linears = [m for m in model if isinstance(m, nn.Linear)]
    hooks = []
    for module in model:
        if isinstance(module, tuple(ACTIVATIONS.values())):
            hooks.append(module.register_forward_hook(lambda m, i, o: activations.append(o)))
    was_training = model.training
    model.eval()
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    model.train(was_training)
    for hook in hooks:
        hook.remove()
    rows = []
    for index, linear in enumerate(linears):
        row = {"layer": index + 1, "grad_norm": linear.weight.grad.norm().item()}
        if index < len(activations):
            out = activations[index].detach()
            row.update(
                activation_mean=out.mean().item(),
                activation_std=out.std().item(),
                unit_spread=out.std(dim=1).mean().item(),
            )
        rows.append(row)
    model.zero_grad(set_to_none=True)
    return rows
