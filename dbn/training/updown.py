"""The up-down fine-tuning of a generative DBN (its greedy start: :func:`~dbn.training.pretrain`).

The up-down algorithm is the contrastive wake-sleep of Hinton, Osindero & Teh (2006),
appendix B, one mini-batch at a time:

- **up (wake)**: sample each layer from the recognition weights, from the pixels to the
  penultimate layer, then the top RBM's hidden units given it and the labels;
- **top**: k steps of alternating Gibbs sampling in the associative memory from there
  (the labels as softmax probabilities, everything else sampled);
- **down (sleep)**: from the chain's penultimate states, sample down the generative
  weights to the pixels' probabilities.

Its updates are the gradients of one loss, so that any ``torch.optim`` optimiser runs
it: the generative weights learn to predict each wake layer from the one above
(cross-entropy, the delta rule), the top RBM takes the CD update from the energies of
the sampled states, and the recognition weights learn to predict each sleep layer from
the one below. Every sampled state is a constant of the loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dbn._utils.checks import (
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
)
from dbn._utils.config import JSONConfig
from dbn.models.generative_dbn import GenerativeDBN
from dbn.models.rbm import bernoulli_sample
from dbn.training.trainer import Trainer

__all__ = ["UpDownConfig", "UpDownTrainer", "balanced_order", "updown_loss"]


@dataclass
class UpDownConfig(JSONConfig):
    """How to fine-tune a generative DBN by the up-down algorithm.

    Parameters
    ----------
    epochs : int
        The paper's 300.
    cd_steps : list of int
        Gibbs steps in the top RBM, the epochs split evenly among the entries: the
        paper's ``[3, 6, 10]`` (3 for the first 100 epochs, 6, then 10).
    lr : float
        The one learning rate of every parameter (the paper's pseudo-code uses one).
    momentum : float
    weight_decay : float
        L2 cost on the weights (not the biases).
    batch_size : int
    balanced_batches : bool
        The paper's class-balanced mini-batches: each holds ``batch_size / n_labels``
        images of every class. Each epoch draws that many batches as the smallest class
        fills, every class's images in a new random order (a larger class leaves some
        of its images out of an epoch, others in the next); False shuffles all images.

    Examples
    --------
    >>> from dbn.training import UpDownConfig
    >>> config = UpDownConfig(epochs=30, cd_steps=[3, 6, 10])
    >>> [config.k_at(epoch) for epoch in (0, 9, 10, 19, 20, 29)]
    [3, 3, 6, 6, 10, 10]
    """

    epochs: int = 300
    cd_steps: list[int] = field(default_factory=lambda: [3, 6, 10])
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-5
    batch_size: int = 100
    balanced_batches: bool = False

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs)
        if not self.cd_steps:
            raise ValueError("cd_steps must name at least one number of Gibbs steps")
        for k in self.cd_steps:
            check_int("each cd_steps value", k)
        check_positive("lr", self.lr)
        check_fraction("momentum", self.momentum)
        check_nonnegative("weight_decay", self.weight_decay)
        check_int("batch_size", self.batch_size)

    def k_at(self, epoch: int) -> int:
        """The Gibbs steps of 0-based ``epoch``."""
        part = min(epoch * len(self.cd_steps) // self.epochs, len(self.cd_steps) - 1)
        return self.cd_steps[part]


def balanced_order(
    labels: Tensor, n_classes: int, batch_size: int, generator: torch.Generator | None = None
) -> Tensor:
    """An epoch's order of class-balanced mini-batches: every consecutive ``batch_size``
    indices hold ``batch_size / n_classes`` of each class.

    Parameters
    ----------
    labels : Tensor of shape (n,), int64
        Classes below ``n_classes``; each class needs a batch's share of images.
    n_classes : int
        Divides ``batch_size``.
    batch_size : int
    generator : torch.Generator, optional
        Draws each class's order.

    Returns
    -------
    Tensor of shape (n_batches * batch_size,), int64
        ``n_batches`` is as many as the smallest class fills.

    Examples
    --------
    >>> import torch
    >>> from dbn.training.updown import balanced_order
    >>> labels = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    >>> order = balanced_order(labels, 2, 2, torch.Generator().manual_seed(0))
    >>> labels[order].view(-1, 2).sort(dim=1).values.tolist()
    [[0, 1], [0, 1], [0, 1]]
    """
    share = batch_size // n_classes
    members = [torch.nonzero(labels == c).squeeze(1) for c in range(n_classes)]
    n_batches = min(len(m) for m in members) // share
    drawn = [
        m[torch.randperm(len(m), generator=generator, device=m.device)[: n_batches * share]]
        for m in members
    ]
    return torch.stack([d.view(n_batches, share) for d in drawn], dim=1).reshape(-1)


def _sample(probs: Tensor, generator: torch.Generator | None) -> Tensor:
    return bernoulli_sample(probs, generator).to(probs.dtype)


def updown_loss(
    model: GenerativeDBN,
    x: Tensor,
    labels: Tensor,
    k: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The loss whose gradient is one up-down update of ``model`` on a mini-batch.

    Parameters
    ----------
    model : GenerativeDBN
    x : Tensor of shape (batch, sizes[0])
    labels : Tensor of shape (batch,), int64
    k : int
        Gibbs steps in the top RBM.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor
        A scalar: the wake, top and sleep terms summed, each a mean over the batch.

    Examples
    --------
    >>> import torch
    >>> from dbn.models import GenerativeDBN
    >>> from dbn.training import updown_loss
    >>> model = GenerativeDBN([16, 8, 8, 12], n_labels=3)
    >>> x = torch.bernoulli(torch.full((4, 16), 0.5))
    >>> updown_loss(model, x, torch.tensor([0, 1, 2, 0]), k=2).backward()
    >>> model.generative[0].weight.grad.shape
    torch.Size([16, 8])
    """
    top = model.top
    with torch.no_grad():
        wake = [x]  # up: the data, then sampled states of each directed layer
        for layer in model.recognition:
            wake.append(_sample(torch.sigmoid(layer(wake[-1])), generator))
        positive = top.join(wake[-1], labels)
        top_positive = _sample(top.hidden_probs(positive), generator)
        top_negative = top_positive
        for _ in range(k):  # the associative memory's chain, from the wake states
            means = top.visible_probs(top_negative)
            pen, label_probs = means.split([top.n_features, top.n_labels], dim=1)
            negative = torch.cat([_sample(pen, generator), label_probs], dim=1)
            top_negative = _sample(top.hidden_probs(negative), generator)
        sleep = [negative[:, : top.n_features]]  # down from the chain's penultimate states
        for index in reversed(range(len(model.generative))):
            probs = torch.sigmoid(model.generative[index](sleep[0]))
            sleep.insert(0, probs if index == 0 else _sample(probs, generator))
    loss = top.energy(positive, top_positive).mean() - top.energy(negative, top_negative).mean()
    for index, (generative, recognition) in enumerate(
        zip(model.generative, model.recognition, strict=True)
    ):
        # wake: predict each layer from the sampled one above, with the generative weights
        loss = loss + _cross_entropy(generative(wake[index + 1]), wake[index])
        # sleep: predict each sleep layer from the one below, with the recognition weights
        loss = loss + _cross_entropy(recognition(sleep[index]), sleep[index + 1])
    return loss


def _cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Summed over units, mean over the batch: its gradient is the delta rule."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / len(target)


class UpDownTrainer(Trainer):
    """Up-down fine-tuning epoch by epoch, its whole state saved and restored exactly.

    Parameters
    ----------
    model : GenerativeDBN
    config : UpDownConfig
    seed : int
        Seeds the shuffling and every sampled state.

    Examples
    --------
    >>> import dbn
    >>> from dbn.models import GenerativeDBN
    >>> from dbn.training import UpDownConfig, UpDownTrainer
    >>> train = dbn.load_digits()["train"]
    >>> trainer = UpDownTrainer(GenerativeDBN([64, 32, 32, 48]), UpDownConfig(epochs=3))
    >>> history = trainer.fit(train.x, labels=train.y, progress=False)
    >>> [row["k"] for row in history]  # cd_steps [3, 6, 10], a third of the epochs each
    [3, 6, 10]
    """

    name = "up-down"
    checkpoint_kind = "updown-training"
    model: GenerativeDBN
    config: UpDownConfig

    def prepare(self, x: Any, labels: Any) -> tuple[Tensor, Tensor]:
        """The images and their classes, checked once (for balanced batches: that the
        classes divide a batch and each fills one)."""
        x = self.model.images(x)
        labels = self.model.training_labels(labels, len(x))
        if self.config.balanced_batches:
            n_classes, size = self.model.n_labels, self.config.batch_size
            if size % n_classes:
                raise ValueError(
                    f"balanced batches need batch_size {size} to be a multiple of the "
                    f"{n_classes} classes"
                )
            fewest = int(torch.bincount(labels, minlength=n_classes).min())
            if fewest < size // n_classes:
                raise ValueError(
                    f"balanced batches need {size // n_classes} images of every class; "
                    f"one class has {fewest}"
                )
        return x, labels

    def train_epoch(self, x: Tensor, labels: Tensor) -> dict[str, Any]:
        """One pass over the shuffled data: the epoch's ``k`` and mean ``loss``."""
        config = self.config
        k = config.k_at(self.epoch)
        if config.balanced_batches:
            order = balanced_order(labels, self.model.n_labels, config.batch_size, self.generator)
        else:
            order = torch.randperm(len(x), generator=self.generator, device=self.device)
        total = 0.0
        for begin in range(0, len(order), config.batch_size):
            index = order[begin : begin + config.batch_size]
            loss = updown_loss(self.model, x[index], labels[index], k, self.generator)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(index)
        return {"k": k, "loss": total / len(order)}
