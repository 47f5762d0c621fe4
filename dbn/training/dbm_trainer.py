"""Joint training of a DBM: mean-field for the data, persistent chains for the model.

Salakhutdinov & Hinton (2009), section 2.2 and 4. For each mini-batch the data-dependent
statistics come from the fully factorised mean-field posterior q(h | v) (a fixed number
of updates from a bottom-up start, optionally damped); the model's statistics come from
persistent Markov chains ("fantasy particles") advanced by k block Gibbs sweeps per
update, the stochastic approximation procedure. The update is the gradient of

    mean_batch E(v, q) - mean_chains E(x),

with every state held constant (the energy is bilinear, so the expected energy under a
factorised q is the energy of its marginals), plus an optional sparsity penalty on the
mean-field marginals. Any ``torch.optim`` optimiser runs it; the recipe uses SGD with
momentum and an L2 weight cost, its learning rate falling linearly over the epochs (the
paper) or divided by a constant every update down to a floor (Salakhutdinov's code).
A DBM with label units trains with them clamped to the targets in the mean-field phase
and sampled with the other layers in the chains, as that code does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from dbn._utils.arrays import as_labels
from dbn._utils.checks import (
    check_choice,
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
)
from dbn._utils.config import JSONConfig
from dbn.models.dbm import DBM
from dbn.models.rbm import bernoulli_sample
from dbn.training.rbm_trainer import AUTOCAST_DTYPES, check_autocast_device
from dbn.training.trainer import Trainer, training_device

NEGATIVE_STATISTICS = ("states", "probabilities")

__all__ = ["DBMConfig", "DBMTrainer", "dbm_loss", "label_error", "dbm_reconstruction_error"]


@dataclass
class DBMConfig(JSONConfig):
    """How to train a DBM jointly.

    Parameters
    ----------
    epochs : int
    lr : float
        Initial learning rate.
    lr_final : float
        ``"linear"``: the learning rate falls linearly, epoch by epoch, from ``lr`` to
        this; ``"exponential"``: the floor it falls to.
    lr_schedule : {"linear", "exponential"}
        ``"exponential"`` divides the learning rate by ``lr_divisor`` before every
        update, as Salakhutdinov's code does.
    lr_divisor : float
    momentum, final_momentum : float
        SGD momentum before and from ``momentum_switch_epoch`` on.
    momentum_switch_epoch : int
    weight_decay : float
        L2 cost on the weights (not the biases).
    batch_size : int
    n_chains : int
        Persistent chains (fantasy particles).
    gibbs_steps : int
        Block Gibbs sweeps of the chains per update.
    mean_field_steps : int
        Mean-field updates per mini-batch.
    damping : float in [0, 1)
        Share of the old marginals each mean-field update keeps.
    sparsity_target : float or list of float, optional
        Target mean activation of every hidden layer, or one per hidden layer (bottom
        first); no penalty when None.
    sparsity_cost : float
    binarize : bool
        Train on a fresh binary sample of each mini-batch's pixels (``v ~ Bernoulli(x)``),
        as Salakhutdinov's code does, rather than on the intensities.
    negative_statistics : {"states", "probabilities"}
        What the persistent chains contribute to the gradient: their sampled states,
        or :meth:`~dbn.models.DBM.chain_marginals` (each odd layer's probabilities
        given the states, each even hidden layer's given those), as Salakhutdinov's
        ``dbm_mf.m`` does. The same expectation; the probabilities are less noisy.
    autocast : {None, "bfloat16", "float16"}
        Mixed precision: the mean field, the chains' sweeps and the gradient's products
        run in this dtype (under ``torch.autocast``), while the parameters, gradients,
        optimiser, persistent chains and epoch metrics stay in full precision; sampling
        noise is drawn in float32 (:func:`dbn.models.rbm.noise_dtype`). Worth it where
        the hardware has bfloat16/float16 matrix units (tensor cores, AMX).

    Examples
    --------
    >>> from dbn.training import DBMConfig
    >>> config = DBMConfig(epochs=10, lr=0.005, lr_final=0.0)
    >>> [round(config.lr_at(epoch), 4) for epoch in (0, 5, 9)]
    [0.005, 0.0025, 0.0005]
    >>> code = DBMConfig(lr=0.001, lr_final=1e-4, lr_schedule="exponential")
    >>> [round(code.lr_at_update(t), 6) for t in (1000, 100_000, 1_000_000)]
    [0.000985, 0.000223, 0.0001]
    """

    epochs: int = 300
    lr: float = 0.005
    lr_final: float = 0.0
    lr_schedule: Literal["linear", "exponential"] = "linear"
    lr_divisor: float = 1.000015
    momentum: float = 0.5
    final_momentum: float = 0.9
    momentum_switch_epoch: int = 5
    weight_decay: float = 2e-4
    batch_size: int = 100
    n_chains: int = 100
    gibbs_steps: int = 5
    mean_field_steps: int = 10
    damping: float = 0.0
    sparsity_target: float | list[float] | None = None
    sparsity_cost: float = 0.0
    binarize: bool = False
    negative_statistics: Literal["states", "probabilities"] = "states"
    autocast: Literal["bfloat16", "float16"] | None = None

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs)
        check_positive("lr", self.lr)
        check_nonnegative("lr_final", self.lr_final)
        check_choice("lr_schedule", self.lr_schedule, ("linear", "exponential"))
        if not 1 <= self.lr_divisor < math.inf:
            raise ValueError(f"lr_divisor must be a finite number >= 1, got {self.lr_divisor!r}")
        check_fraction("momentum", self.momentum)
        check_fraction("final_momentum", self.final_momentum)
        check_int("momentum_switch_epoch", self.momentum_switch_epoch, minimum=0)
        check_nonnegative("weight_decay", self.weight_decay)
        check_int("batch_size", self.batch_size)
        check_int("n_chains", self.n_chains)
        check_int("gibbs_steps", self.gibbs_steps)
        check_int("mean_field_steps", self.mean_field_steps, minimum=0)
        if not 0 <= self.damping < 1:
            raise ValueError(f"damping must be in [0, 1), got {self.damping!r}")
        target = self.sparsity_target
        listed = [] if target is None else [target] if isinstance(target, (int, float)) else target
        for target in listed:
            if not 0 < target < 1:
                raise ValueError(f"sparsity_target values must be in (0, 1), got {target!r}")
        check_nonnegative("sparsity_cost", self.sparsity_cost)
        check_choice("negative_statistics", self.negative_statistics, NEGATIVE_STATISTICS)
        check_choice("autocast", self.autocast, AUTOCAST_DTYPES)

    def lr_at(self, epoch: int) -> float:
        """The linear schedule's learning rate of 0-based ``epoch``."""
        return self.lr + (self.lr_final - self.lr) * epoch / self.epochs

    def lr_at_update(self, update: int) -> float:
        """The exponential schedule's learning rate of 1-based ``update``."""
        return max(self.lr / self.lr_divisor**update, self.lr_final)

    def sparsity_targets(self, n_hidden_layers: int) -> list[float] | None:
        """One sparsity target per hidden layer, or None without a penalty."""
        target = self.sparsity_target
        if target is None or self.sparsity_cost == 0:
            return None
        if isinstance(target, (int, float)):
            return [float(target)] * n_hidden_layers
        if len(target) != n_hidden_layers:
            raise ValueError(
                f"sparsity_target lists {len(target)} targets for {n_hidden_layers} hidden layers"
            )
        return list(target)


def dbm_loss(
    dbm: DBM,
    v: Tensor,
    chains: list[Tensor],
    config: DBMConfig,
    generator: torch.Generator | None = None,
    labels: Tensor | None = None,
) -> tuple[Tensor, list[Tensor], Tensor]:
    """The loss whose gradient is one joint-training update, and the advanced chains.

    Parameters
    ----------
    dbm : DBM
    v : Tensor of shape (batch, sizes[0])
    chains : list of Tensor
        The persistent chains' states, ``chains[i]`` of shape (n_chains, sizes[i]),
        then the labels' (n_chains, n_labels) if the model has them.
    config : DBMConfig
    generator : torch.Generator, optional
    labels : Tensor of shape (batch,) or (batch, n_labels), optional
        The batch's classes, or their label states, clamped in the mean-field phase;
        required by a model with label units.

    Returns
    -------
    loss : Tensor
        A scalar.
    chains : list of Tensor
        The chains after ``config.gibbs_steps`` sweeps.
    reconstruction : Tensor
        The batch's mean squared error of p(v | q_1), summed over pixels: a scalar.

    Examples
    --------
    >>> import torch
    >>> from dbn.models import DBM
    >>> from dbn.training import DBMConfig, dbm_loss
    >>> dbm = DBM([16, 8, 4])
    >>> v = torch.bernoulli(torch.full((6, 16), 0.5))
    >>> loss, chains, _ = dbm_loss(dbm, v, dbm.random_states(10), DBMConfig())
    >>> loss.backward()
    >>> dbm.weights[1].grad.shape, chains[2].shape
    (torch.Size([4, 8]), torch.Size([10, 4]))
    """
    dbm.check_labels_given(labels)  # mean_field checks their values
    targets = config.sparsity_targets(dbm.n_layers - 1)
    with torch.no_grad():
        marginals = dbm.mean_field(v, config.mean_field_steps, config.damping, labels)
        for _ in range(config.gibbs_steps):
            chains = dbm.sweep(chains, generator)
        error = (dbm.visible_probs(marginals[0]).to(v.dtype) - v).pow(2).sum(dim=1).mean()
        negative = (
            dbm.chain_marginals(chains) if config.negative_statistics == "probabilities" else chains
        )
    positive = [v, *marginals]
    loss = dbm.energy(positive).mean() - dbm.energy(negative).mean()
    for index, target in enumerate(targets or [], start=1):
        logits = dbm.layer_input(positive, index)
        penalty = F.binary_cross_entropy_with_logits(
            logits, torch.full_like(logits, target), reduction="sum"
        )
        loss = loss + config.sparsity_cost * penalty / len(v)
    return loss, chains, error


class DBMTrainer(Trainer):
    """Joint DBM training epoch by epoch, its whole state saved and restored exactly.

    Parameters
    ----------
    dbm : DBM
        Pretrained (:func:`~dbn.training.pretrain`) or not.
    config : DBMConfig
    seed : int
        Seeds the shuffling, the chains' start and every sampled state.

    Examples
    --------
    >>> import dbn
    >>> from dbn.models import DBM
    >>> from dbn.training import DBMConfig, DBMTrainer
    >>> train = dbn.load_digits()["train"]
    >>> trainer = DBMTrainer(DBM([64, 32, 16]), DBMConfig(epochs=2, n_chains=20))
    >>> [row["epoch"] for row in trainer.fit(train.x, progress=False)]
    [1, 2]
    """

    name = "DBM"
    checkpoint_kind = "dbm-training"
    model: DBM
    config: DBMConfig

    def __init__(
        self,
        dbm: DBM,
        config: DBMConfig,
        seed: int = 0,
        *,
        device: str | torch.device | None = None,
    ) -> None:
        check_autocast_device(config.autocast, training_device(dbm, device))
        super().__init__(dbm, config, seed, device=device)
        self.chains: list[Tensor] | None = None

    def sampling_state(self) -> dict[str, Any]:
        """The generator and the persistent chains."""
        chains = None if self.chains is None else [c.cpu() for c in self.chains]
        return {**super().sampling_state(), "chains": chains}

    def load_sampling_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`sampling_state` stored."""
        super().load_sampling_state(state)
        weight = self.model.weights[0]
        chains = state["chains"]
        self.chains = None if chains is None else [c.to(weight) for c in chains]

    def _start_chains(self, x: Tensor, labels: Tensor | None) -> list[Tensor]:
        """Chains started at training images (with their labels) and samples of their
        bottom-up marginals."""
        order = torch.randperm(len(x), generator=self.generator, device=self.device)
        picked = order[: self.config.n_chains]
        start = x[picked]
        if len(start) < self.config.n_chains:
            raise ValueError(
                f"n_chains={self.config.n_chains} exceeds the {len(x)} training examples"
            )
        clamped = None if labels is None else self.model.label_states(labels[picked], len(start))
        with torch.no_grad():
            hidden = self.model.initial_marginals(start, clamped)
        if clamped is not None:
            hidden = hidden[:-1]
        states = [
            bernoulli_sample(start, self.generator),
            *(bernoulli_sample(q, self.generator) for q in hidden),
        ]
        return [s.to(x.dtype) for s in states] + ([] if clamped is None else [clamped])

    def prepare(self, x: Any, labels: Any) -> tuple[Tensor, Tensor | None]:
        """The images checked, and a labelled model's classes checked and made one-hot
        once, so that each batch's labels need no conversion or range check."""
        x = self.model.images(x)
        y = self.model.training_labels(labels, len(x))
        return x, None if y is None else self.model.label_states(y, len(x))

    def train_epoch(self, x: Tensor, labels: Tensor | None = None) -> dict[str, Any]:
        """One pass over the shuffled data (and their label states, for a model with
        label units): the epoch's ``lr`` and ``reconstruction``."""
        config = self.config
        if self.chains is None:
            self.chains = self._start_chains(x, labels)
        self.set_momentum(
            config.final_momentum if self.epoch >= config.momentum_switch_epoch else config.momentum
        )
        exponential = config.lr_schedule == "exponential"
        reduced = AUTOCAST_DTYPES[config.autocast]
        n_batches = math.ceil(len(x) / config.batch_size)
        if not exponential:
            self.set_lr(config.lr_at(self.epoch))
        order = torch.randperm(len(x), generator=self.generator, device=self.device)
        total = torch.zeros((), dtype=torch.float64)
        for number, begin in enumerate(range(0, len(x), config.batch_size), start=1):
            if exponential:
                self.set_lr(config.lr_at_update(self.epoch * n_batches + number))
            index = order[begin : begin + config.batch_size]
            batch = x[index]
            if config.binarize:
                batch = bernoulli_sample(batch, self.generator).to(batch.dtype)
            with torch.autocast(x.device.type, dtype=reduced, enabled=reduced is not None):
                loss, chains, error = dbm_loss(
                    self.model,
                    batch,
                    self.chains,
                    config,
                    self.generator,
                    None if labels is None else labels[index],
                )
            # the chains persist in full precision (their states are 0 or 1 in any dtype)
            self.chains = [state.to(x.dtype) for state in chains]
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += error.double() * len(index)
        return {"lr": self.optimizer.param_groups[0]["lr"], "reconstruction": total.item() / len(x)}

    def prepare_valid(self, valid: Any) -> Tensor:
        """Held-out pixels, checked like the training images."""
        return self.model.images(valid)

    def monitor(self, x: Tensor, valid: Tensor | None) -> dict[str, Any]:
        """With held-out pixels, their ``valid_reconstruction`` (as ``reconstruction``)."""
        if valid is None:
            return {}
        return {"valid_reconstruction": dbm_reconstruction_error(self.model, valid, self.config)}


@torch.no_grad()
def dbm_reconstruction_error(
    dbm: DBM, x: Tensor, config: DBMConfig, batch_size: int = 1000
) -> float:
    """Mean over ``x`` of the squared error of p(v | q_1), summed over pixels.

    Parameters
    ----------
    dbm : DBM
    x : Tensor of shape (n, sizes[0])
    config : DBMConfig
        Its mean-field settings.
    batch_size : int

    Returns
    -------
    float

    Examples
    --------
    >>> import torch
    >>> from dbn.models import DBM
    >>> from dbn.training import DBMConfig, dbm_reconstruction_error
    >>> dbm_reconstruction_error(DBM([16, 8, 4], weight_std=0.0), torch.zeros(3, 16), DBMConfig())
    4.0
    """
    total = 0.0
    for chunk in torch.split(x, batch_size):
        q1 = dbm.mean_field(chunk, config.mean_field_steps, config.damping)[0]
        error = (dbm.visible_probs(q1) - chunk).pow(2).sum(dim=1)
        total += math.fsum(error.double().tolist())
    return total / len(x)


@torch.no_grad()
def label_error(
    dbm: DBM, x: Tensor, labels: Tensor, config: DBMConfig, batch_size: int = 1000
) -> float:
    """Share of ``x`` whose most probable label under mean field, argmax q(y | x), is
    not ``labels``: a model with label units classifying by itself.

    Parameters
    ----------
    dbm : DBM
        With label units.
    x : Tensor of shape (n, sizes[0])
    labels : Tensor of shape (n,)
    config : DBMConfig
        Its mean-field settings.
    batch_size : int

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> import torch
    >>> from dbn.models import DBM
    >>> from dbn.training import DBMConfig, label_error
    >>> dbm = DBM([16, 8, 4], n_labels=3)
    >>> 0 <= label_error(dbm, torch.rand(6, 16), torch.zeros(6, dtype=torch.long), DBMConfig()) <= 1
    True
    """
    labels = as_labels("labels", labels, len(x), x.device)
    predicted = dbm.predict_proba(x, config.mean_field_steps, batch_size).argmax(dim=1)
    return (predicted != labels).double().mean().item()
