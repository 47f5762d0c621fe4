"""The study notes' experiments on initialisation, runnable and checked.

The notes (``shared/notes/001_*``) train a 100-128-64-32-2 ReLU MLP on
``X = randn(1000, 100)``, ``y = X.sum(1) > 0`` (seed 42) with Adam at lr 1e-3 for 50
full-batch steps, and print the final loss and *training* accuracy of each
initialisation. :func:`synthetic_study` runs that exactly as written (one seed, the
global generator, as the notes do) and again over several weight seeds with
:mod:`dbn.init`, adding the accuracy on a held-out sample of the same distribution.
:func:`depth_statistics` measures what the notes describe in words: how activations
and gradients shrink or grow layer by layer through a deep net at initialisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dbn.models import ACTIVATIONS
from dbn.models.mlp import build_mlp
from dbn.utils import new_generator, scoped_global_seed

__all__ = ["NOTES_PRINTED", "depth_statistics", "synthetic_data", "synthetic_study"]

# What the notes print for each scheme: (final training loss, training accuracy).
NOTES_PRINTED = {
    "zeros": (0.6931, 0.5000),
    "normal": (0.3245, 0.8850),
    "xavier_uniform": (0.1532, 0.9420),
    "he_uniform": (0.0523, 0.9890),
}
SIZES = [100, 128, 64, 32]


def synthetic_data(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``X = randn(n, 100)`` from ``seed`` and ``y = X.sum(1) > 0`` as class indices."""
    x = torch.randn(n, SIZES[0], generator=new_generator(seed))
    return x, (x.sum(dim=1) > 0).long()


def _train(model: nn.Module, x: Tensor, y: Tensor, steps: int) -> list[float]:
    """The notes' loop: Adam lr 1e-3, full batch, cross-entropy; the losses per step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def _accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    return (model(x).argmax(dim=1) == y).float().mean().item()


def _as_written(scheme: str) -> nn.Sequential:
    """The notes' ``create_model``: PyTorch's layers, then ``nn.init`` on each weight from
    the global generator, biases zero."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(SIZES[-1], 2))
    for layer in model:
        if isinstance(layer, nn.Linear):
            if scheme == "zeros":
                nn.init.zeros_(layer.weight)
            elif scheme == "normal":
                nn.init.normal_(layer.weight, mean=0, std=0.01)
            elif scheme == "xavier_uniform":
                nn.init.xavier_uniform_(layer.weight)
            else:
                nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return model


def synthetic_study(
    schemes: Sequence[str], seeds: Sequence[int], steps: int = 50, n_heldout: int = 10000
) -> tuple[list[dict], dict[str, list[float]]]:
    """Experiment 1 of the notes: as written, then over weight seeds.

    Parameters
    ----------
    schemes : sequence of str
        :mod:`dbn.init` names; those of :data:`NOTES_PRINTED` also run as written.
    seeds : sequence of int
        Seeds of the weights (the data stays the notes' seed-42 sample).
    steps : int
        Full-batch Adam steps (50 in the notes).
    n_heldout : int
        Size of a held-out sample of the same distribution (seed 43).

    Returns
    -------
    rows : list of dict
        One per run: ``scheme``, ``seed`` ("as written" or the weight seed),
        ``train_loss``, ``train_accuracy``, ``heldout_accuracy``, and the notes'
        ``notes_loss`` / ``notes_accuracy`` where they print one.
    curves : dict of str to list of float
        The loss per step of the as-written runs and of seed ``seeds[0]``.
    """
    rows, curves = [], {}
    heldout = synthetic_data(n_heldout, seed=43)

    def record(scheme, seed, model, x, y):
        losses = _train(model, x, y, steps)
        printed = NOTES_PRINTED.get(scheme, (None, None))
        rows.append(
            {
                "scheme": scheme,
                "seed": seed,
                "train_loss": losses[-1],
                "train_accuracy": _accuracy(model, x, y),
                "heldout_accuracy": _accuracy(model, *heldout),
                "notes_loss": printed[0],
                "notes_accuracy": printed[1],
            }
        )
        return losses

    # As written: one seed for everything, the models built one after another from the
    # global generator, in the notes' order (inside a fork: the caller's state stays).
    with scoped_global_seed(42):
        x = torch.randn(1000, SIZES[0])
        y = (x.sum(dim=1) > 0).long()
        for scheme in [s for s in NOTES_PRINTED if s in schemes]:
            curves[f"{scheme} (as written)"] = record(
                scheme, "as written", _as_written(scheme), x, y
            )
    for seed in seeds:
        for scheme in schemes:
            model = build_mlp(SIZES, 2, "relu", init=scheme, generator=new_generator(seed))
            losses = record(scheme, seed, model, x, y)
            if seed == seeds[0]:
                curves[f"{scheme} (seed {seed})"] = losses
    return rows, curves


def depth_statistics(
    schemes: Sequence[str],
    activations: Sequence[str] = tuple(ACTIVATIONS),
    depth: int = 10,
    width: int = 256,
    n: int = 512,
    seed: int = 0,
) -> list[dict]:
    """Activation spread and gradient size layer by layer through a deep MLP at
    initialisation, for each scheme × activation (the notes' vanishing/exploding picture).

    One batch of ``randn(n, width)`` inputs and random labels of 10 classes; a
    ``depth``-hidden-layer net of ``width`` units, initialised by each scheme with the
    gain of its activation.

    Returns
    -------
    list of dict
        ``scheme``, ``activation``, ``layer`` (1-based), ``activation_std`` (of that
        layer's output), ``grad_norm`` (of that layer's weight gradient).
    """
    x = torch.randn(n, width, generator=new_generator(seed))
    y = torch.randint(10, (n,), generator=new_generator(seed + 1))
    rows = []
    for activation in activations:
        for scheme in schemes:
            model = build_mlp(
                [width] * (depth + 1), 10, activation, init=scheme, generator=new_generator(seed)
            )
            outputs: list[Tensor] = []
            for module in model:
                if isinstance(module, ACTIVATIONS[activation]):
                    module.register_forward_hook(
                        lambda m, i, o, outputs=outputs: outputs.append(o.detach())
                    )
            F.cross_entropy(model(x), y).backward()
            linears = [m for m in model if isinstance(m, nn.Linear)][:-1]
            for layer, (linear, out) in enumerate(zip(linears, outputs, strict=True), start=1):
                rows.append(
                    {
                        "scheme": scheme,
                        "activation": activation,
                        "layer": layer,
                        "activation_std": out.std().item(),
                        "grad_norm": linear.weight.grad.norm().item(),
                    }
                )
    return rows
