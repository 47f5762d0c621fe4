"""Training of one RBM: CD-k, persistent CD and reconstruction, with per-epoch monitoring.

The defaults follow Hinton's "A Practical Guide to Training Restricted Boltzmann
Machines" (2010): SGD with learning rate 0.1, momentum 0.5 raised to 0.9 after five
epochs, an L2 weight cost of 2e-4 on the weights (not the biases), mini-batches of 100,
initial weights N(0, 0.01²) and visible biases log(p / (1 - p)) from the data.

The hot loop keeps the whole data set on the training device, shuffles it with one
gather per epoch and takes batches as slices; metrics are computed once per epoch on a
fixed monitoring subset, so the loop never waits for the device.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Literal

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from dbn.cudagraph import GraphedCD
from dbn.distributed import all_reduce_mean, rank_batches, world
from dbn.fastpath import FastCD
from dbn.losses import contrastive_divergence_loss, mask_corrupt, reconstruction_loss
from dbn.monitor import epoch_metrics
from dbn.rbm import RBM, check_visible_data

__all__ = ["TrainConfig", "RBMTrainer", "TrainingDivergedError", "train_rbm"]

METHODS = ("cd", "pcd", "recon")
OPTIMIZERS = ("sgd", "adam")
AUTOCAST_DTYPES = {None: None, "bfloat16": torch.bfloat16, "float16": torch.float16}


class TrainingDivergedError(RuntimeError):
    """The parameters or the loss became NaN or infinite during training."""


@dataclass
class TrainConfig:
    """How to train one RBM.

    Parameters
    ----------
    method : {"cd", "pcd", "recon"}
        Contrastive divergence, persistent CD, or tied-weight autoencoder training.
    k : int
        Gibbs steps per update for ``cd`` and ``pcd``.
    epochs : int
        Passes over the training data.
    batch_size : int
        Examples per update.
    lr : float
        Learning rate.
    optimizer : {"sgd", "adam"}
    momentum, final_momentum : float
        SGD momentum before and from ``momentum_switch_epoch`` on.
    momentum_switch_epoch : int
        First epoch (0-based) that uses ``final_momentum``.
    weight_decay : float
        L2 cost applied to the weights only.
    lr_decay : {"none", "linear"}
        ``"linear"`` lowers the learning rate each epoch towards zero at the last
        epoch, as Tieleman (2008) does for PCD; it lets the chains settle.
    n_chains : int, optional
        Number of persistent chains for ``pcd``; defaults to ``batch_size``.
    corruption : float
        Masking-noise level for denoising ``recon`` training, in [0, 1).
    init_visible_bias : bool
        Set the visible biases from the data before the first epoch.
    monitor_size : int
        Examples (of the training and of the held-out data) used for the epoch metrics.
    fast : bool
        Use the fused CD/PCD step of :mod:`dbn.fastpath` (same numbers as the plain
        autograd step for the same seed, up to float rounding; faster).
    cuda_graph : bool
        On CUDA, replay the fused step and the optimiser step as one CUDA graph
        (:mod:`dbn.cudagraph`). Experimental: not yet measured on a GPU by this project.
    allow_tf32 : bool
        Let CUDA matmuls use TF32 while this RBM trains (faster on Ampere and newer,
        about 3 fewer significant digits).
    autocast : {None, "bfloat16", "float16"}
        Mixed precision: the Gibbs chain and the gradient's products run in this dtype
        (the plain path under ``torch.autocast``), while the parameters, gradients,
        optimiser and epoch metrics stay in full precision. Worth it on GPUs with
        bfloat16/float16 tensor cores; probabilities then carry about 3 significant
        digits (bfloat16), and samples follow those rounded probabilities (their noise
        is drawn in float32, see :func:`dbn.rbm.noise_dtype`).
    """

    method: Literal["cd", "pcd", "recon"] = "cd"
    k: int = 1
    epochs: int = 10
    batch_size: int = 100
    lr: float = 0.1
    optimizer: Literal["sgd", "adam"] = "sgd"
    momentum: float = 0.5
    final_momentum: float = 0.9
    momentum_switch_epoch: int = 5
    weight_decay: float = 2e-4
    lr_decay: Literal["none", "linear"] = "none"
    n_chains: int | None = None
    corruption: float = 0.0
    init_visible_bias: bool = True
    monitor_size: int = 1000
    fast: bool = True
    cuda_graph: bool = False
    allow_tf32: bool = False
    autocast: Literal["bfloat16", "float16"] | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        positive_ints = {"k": self.k, "batch_size": self.batch_size}
        positive_ints["monitor_size"] = self.monitor_size
        if self.n_chains is not None:
            positive_ints["n_chains"] = self.n_chains
        for name, value in positive_ints.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("epochs", "momentum_switch_epoch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive finite number, got {self.lr!r}")
        for name in ("momentum", "final_momentum"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must lie in [0, 1), got {getattr(self, name)!r}")
        if self.lr_decay not in ("none", "linear"):
            raise ValueError(f"lr_decay must be 'none' or 'linear', got {self.lr_decay!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0 <= self.corruption < 1:
            raise ValueError(f"corruption must lie in [0, 1), got {self.corruption!r}")
        if self.autocast not in AUTOCAST_DTYPES:
            raise ValueError(
                f"autocast must be one of {tuple(AUTOCAST_DTYPES)}, got {self.autocast!r}"
            )

    @property
    def compute_dtype(self) -> torch.dtype | None:
        """The reduced dtype of ``autocast``, or None for the parameters' own dtype."""
        return AUTOCAST_DTYPES[self.autocast]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown training options: {sorted(unknown)}")
        return cls(**values)


def _build_optimizer(rbm: RBM, config: TrainConfig) -> torch.optim.Optimizer:
    groups = [
        {"params": [rbm.weight], "weight_decay": config.weight_decay},
        {"params": [rbm.hidden_bias, rbm.visible_bias], "weight_decay": 0.0},
    ]
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)


def _initial_visible_bias(rbm: RBM, data: Tensor) -> Tensor:
    """log(p / (1 - p)) of each unit's mean for Bernoulli units, the mean for Gaussian ones."""
    mean = data.mean(dim=0)
    if rbm.visible == "gaussian":
        return mean
    # Clamp so that always-off pixels (MNIST's border) get a large, finite negative bias.
    p = mean.clamp(1e-3, 1 - 1e-3)
    return torch.log(p) - torch.log1p(-p)


class _Objective(nn.Module):
    """The training loss as a module, so that DistributedDataParallel can wrap it."""

    def __init__(self, rbm: RBM, method: str) -> None:
        super().__init__()
        self.rbm = rbm
        self.method = method

    def forward(self, batch: Tensor, other: Tensor) -> Tensor:
        """CD loss of ``batch`` against negatives ``other``, or the reconstruction loss
        of ``batch`` encoded from its corrupted copy ``other``."""
        if self.method == "recon":
            return reconstruction_loss(self.rbm, batch, other)
        return contrastive_divergence_loss(self.rbm, batch, other)


class RBMTrainer:
    """Trains one RBM epoch by epoch and can save and restore its whole state.

    Parameters
    ----------
    rbm : RBM
        The model; moved to ``device``.
    config : TrainConfig
    seed : int
        Seeds the shuffling (the same on every rank of a distributed run) and the
        sampling (Gibbs chains and corruption; different on every rank).
    device : str or torch.device, optional
        Where to train; defaults to the RBM's current device.
    name : str
        Shown on the progress bar and in error messages.
    check_range : bool
        Refuse data outside [0, 1] for Bernoulli units. Only the scikit-learn wrapper
        turns this off, to accept what ``BernoulliRBM`` accepts.
    """

    def __init__(
        self,
        rbm: RBM,
        config: TrainConfig,
        seed: int = 0,
        device: str | torch.device | None = None,
        name: str = "RBM",
        check_range: bool = True,
    ) -> None:
        self.device = torch.device(device) if device is not None else rbm.weight.device
        self.rbm = rbm.to(self.device)
        self.config = config
        self.seed = seed
        self.name = name
        self.check_range = check_range
        self.rank, self.world_size = world()
        self.shuffle_generator = torch.Generator(self.device).manual_seed(seed)
        self.generator = torch.Generator(self.device).manual_seed(seed + 7919 * (self.rank + 1))
        self.optimizer = _build_optimizer(self.rbm, config)
        objective = _Objective(self.rbm, config.method)
        # Under torchrun the loss goes through DDP, whose all-reduce averages the
        # gradients over ranks; the fused step writes .grad itself, so it is single-process.
        self.objective = DistributedDataParallel(objective) if self.world_size > 1 else objective
        fast = config.fast and config.method != "recon" and self.world_size == 1
        self.fast_cd = FastCD(self.rbm, config.compute_dtype) if fast else None
        self.graphed = None
        if config.cuda_graph:
            if self.fast_cd is None or self.device.type != "cuda":
                raise ValueError(
                    "cuda_graph needs a CUDA device, method 'cd' or 'pcd', fast=True and a "
                    "single process"
                )
            self.graphed = GraphedCD(self.fast_cd, self.optimizer, config.k, self.generator)
        self.chains: Tensor | None = None
        self.epoch = 0
        self.history: list[dict] = []

    # --- state for checkpoints ----------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything needed to continue training bit for bit: tensors and plain values.

        In a distributed run this is a collective call (every rank must make it): the
        per-rank sampling generators and PCD chains are gathered, so that each rank
        resumes its own.
        """
        per_rank = {
            "chains": None if self.chains is None else self.chains.cpu(),
            "generator": self.generator.get_state(),
        }
        ranks = [per_rank]
        if self.world_size > 1:
            ranks = [None] * self.world_size
            dist.all_gather_object(ranks, per_rank)
        return {
            "epoch": self.epoch,
            "seed": self.seed,
            "rbm": {key: value.detach().cpu() for key, value in self.rbm.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "shuffle_generator": self.shuffle_generator.get_state(),
            "ranks": ranks,
            "history": list(self.history),
        }

    def load_state_dict(self, state: dict) -> None:
        if len(state["ranks"]) != self.world_size:
            raise ValueError(
                f"the checkpoint was written by {len(state['ranks'])} process(es); resume it "
                f"with the same number, not {self.world_size}"
            )
        self.epoch = int(state["epoch"])
        self.seed = int(state["seed"])
        self.rbm.load_state_dict(state["rbm"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.shuffle_generator.set_state(state["shuffle_generator"])
        mine = state["ranks"][self.rank]
        self.chains = None if mine["chains"] is None else mine["chains"].to(self.device)
        self.generator.set_state(mine["generator"])
        self.history = list(state["history"])

    # --- training -----------------------------------------------------------------------

    def _prepare(self, data: Tensor, name: str) -> Tensor:
        check_visible_data(
            data, self.rbm.n_visible, self.rbm.visible, name, check_range=self.check_range
        )
        return data.to(self.device, self.rbm.weight.dtype)

    def _start(self, data: Tensor) -> None:
        """First-epoch set-up: visible biases from the data and the persistent chains."""
        config = self.config
        with torch.no_grad():
            if config.init_visible_bias:
                self.rbm.visible_bias.copy_(_initial_visible_bias(self.rbm, data))
            if config.method == "pcd":
                n_chains = config.n_chains or config.batch_size
                start = torch.randint(
                    len(data), (n_chains,), generator=self.generator, device=self.device
                )
                self.chains = data[start].clone()

    def _step(self, batch: Tensor) -> Tensor | None:
        config, rbm = self.config, self.rbm
        if self.fast_cd is not None:
            start = self.chains if config.method == "pcd" else None
            if self.graphed is not None:
                negatives = self.graphed.step(batch, start)
            else:
                negatives = self.fast_cd.step(batch, start, config.k, self.generator)
                self.optimizer.step()
            if config.method == "pcd":
                self.chains = negatives
            return None
        dtype = config.compute_dtype
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            if config.method == "recon":
                corrupted = mask_corrupt(batch, config.corruption, self.generator)
                loss = self.objective(batch, corrupted)
            else:
                with torch.no_grad():
                    start = self.chains if config.method == "pcd" else batch
                    negatives = rbm.gibbs(start, config.k, self.generator).to(batch.dtype)
                if config.method == "pcd":
                    self.chains = negatives
                loss = self.objective(batch, negatives)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        # the CD loss value says nothing about the fit; only recon reports its objective
        return loss.detach() if config.method == "recon" else None

    def train_epoch(self, data: Tensor) -> Tensor | None:
        """One pass over ``data`` (validated, on the device); the mean recon loss, on device."""
        config = self.config
        lr = config.lr
        if config.lr_decay == "linear":
            lr *= 1 - self.epoch / max(config.epochs, 1)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if config.optimizer == "sgd":
            momentum = (
                config.final_momentum
                if self.epoch >= config.momentum_switch_epoch
                else config.momentum
            )
            for group in self.optimizer.param_groups:
                group["momentum"] = momentum
        total = torch.zeros((), device=self.device)
        n_batches = 0
        for batch in self._batches(data):
            loss = self._step(batch)
            if loss is not None:
                total += loss
            n_batches += 1
        return all_reduce_mean(total / n_batches) if config.method == "recon" else None

    def _batches(self, data: Tensor):
        """This rank's mini-batches for one epoch, in a shuffled order shared by all ranks."""
        size = self.config.batch_size
        order = torch.randperm(len(data), generator=self.shuffle_generator, device=self.device)
        if self.world_size == 1:
            shuffled = data[order]  # one gather, then slices
            return (shuffled[begin : begin + size] for begin in range(0, len(data), size))
        return (data[index] for index in rank_batches(order, size))

    def _check_finite(self, loss: float) -> None:
        finite = all(torch.isfinite(p).all() for p in self.rbm.parameters())
        if not (finite and math.isfinite(loss)):
            raise TrainingDivergedError(
                f"{self.name} diverged in epoch {self.epoch + 1}: the "
                f"{'parameters' if not finite else 'loss'} became NaN or infinite. "
                f"Lower the learning rate (now {self.config.lr:g}), or standardise the data "
                f"for Gaussian units."
            )

    def fit(
        self,
        data: Tensor,
        valid: Tensor | None = None,
        progress: bool = True,
        on_epoch_end: Callable[[RBMTrainer], None] | None = None,
    ) -> list[dict]:
        """Train until ``config.epochs`` epochs are done (continuing a restored state).

        Parameters
        ----------
        data : Tensor of shape (n_samples, n_visible)
            Training data: in [0, 1] for Bernoulli units, standardised for Gaussian ones.
        valid : Tensor of shape (n_valid, n_visible), optional
            Held-out data for the free-energy gap (Hinton's overfitting signal).
        progress : bool
            Show a tqdm bar over epochs with the live metrics.
        on_epoch_end : callable, optional
            Called with the trainer after every epoch (e.g. to write a checkpoint).

        Returns
        -------
        list of dict
            Per-epoch metrics: ``epoch``, ``loss`` (``recon`` only), ``recon_error``,
            ``pseudo_likelihood`` (Bernoulli only), ``free_energy_gap`` (with ``valid``).
        """
        data = self._prepare(data, "data")
        if self.config.batch_size > len(data):
            warnings.warn(
                f"{self.name}: batch_size {self.config.batch_size} exceeds the "
                f"{len(data)} training examples; each epoch is a single batch",
                stacklevel=2,
            )
        if valid is not None:
            valid = self._prepare(valid, "valid")
        if self.epoch == 0:
            self._start(data)
        monitor_data = data[: self.config.monitor_size]
        monitor_valid = None if valid is None else valid[: self.config.monitor_size]
        bar = tqdm(
            total=self.config.epochs,
            initial=self.epoch,
            desc=self.name,
            unit="epoch",
            disable=not progress or self.rank != 0,
            dynamic_ncols=True,
        )
        tf32 = self.config.allow_tf32 and self.device.type == "cuda"
        previous_tf32 = torch.backends.cuda.matmul.allow_tf32
        with bar:
            torch.backends.cuda.matmul.allow_tf32 = tf32 or previous_tf32
            try:
                self._run_epochs(data, monitor_data, monitor_valid, bar, on_epoch_end)
            finally:
                torch.backends.cuda.matmul.allow_tf32 = previous_tf32
        return self.history

    def _run_epochs(self, data, monitor_data, monitor_valid, bar, on_epoch_end) -> None:
        while self.epoch < self.config.epochs:
            loss = self.train_epoch(data)
            metrics = {"epoch": self.epoch + 1}
            if loss is not None:
                metrics["loss"] = loss.item()
            self._check_finite(metrics.get("loss", 0.0))
            monitor_seed = self.seed * 100003 + self.epoch
            metrics.update(epoch_metrics(self.rbm, monitor_data, monitor_valid, monitor_seed))
            self.history.append(metrics)
            self.epoch += 1
            bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items() if k != "epoch"})
            bar.update(1)
            if on_epoch_end is not None:
                on_epoch_end(self)


def train_rbm(
    rbm: RBM,
    data: Tensor,
    config: TrainConfig | None = None,
    valid: Tensor | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    **options,
) -> list[dict]:
    """Train ``rbm`` in place on ``data``; keyword ``options`` override ``config`` fields.

    Examples
    --------
    >>> rbm = RBM(64, 32)
    >>> history = train_rbm(rbm, digits, method="pcd", epochs=20, lr=0.05)  # doctest: +SKIP
    """
    values = (config or TrainConfig()).to_dict()
    values.update(options)
    trainer = RBMTrainer(rbm, TrainConfig.from_dict(values), seed=seed, device=device)
    return trainer.fit(data, valid=valid, progress=progress)
