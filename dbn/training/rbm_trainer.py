"""Training of one RBM: CD-k, persistent CD and reconstruction, with per-epoch monitoring.

The defaults follow Hinton's "A Practical Guide to Training Restricted Boltzmann
Machines" (2010): SGD with learning rate 0.1, momentum 0.5 raised to 0.9 after five
epochs, an L2 weight cost of 2e-4 on the weights (not the biases), mini-batches of 100,
initial weights N(0, 0.01²) and visible biases log(p / (1 - p)) from the data.

The hot loop keeps the whole data set on the training device, shuffles it with one
gather per epoch and takes batches as slices; metrics are computed once per epoch on a
fixed monitoring subset, so the loop waits for the device only once an epoch (at its end,
to time it).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from dbn._utils.checks import (
    check_choice,
    check_fraction,
    check_int,
    check_materialised,
    check_nonnegative,
    check_positive,
)
from dbn._utils.config import JSONConfig
from dbn._utils.products import MATMUL_CHOICES, check_matmul_device, check_routes
from dbn._utils.rng import (
    MONITOR_SEED_STRIDE,
    RNG_STREAMS,
    SAMPLING_SEED_STRIDE,
    derive_seed,
    new_generator,
    randint,
    resolve_rng,
    sampling_stream,
)
from dbn.models.rbm import RBM, bernoulli_sample, check_visible_data
from dbn.optim._factory import OPTIMIZERS, make_optimizer, split_weights
from dbn.training._budget import PRETRAIN_BUDGET, with_budget_epochs
from dbn.training._cudagraph import GraphedCD
from dbn.training._fused import FastCD
from dbn.training.distributed import all_reduce_mean, rank_batches, world
from dbn.training.monitors import epoch_metrics
from dbn.training.objectives import RBMObjective, mask_corrupt
from dbn.training.tempering import ParallelTempering
from dbn.training.trainer import Trainer, training_device

__all__ = [
    "STEPS",
    "TrainConfig",
    "RBMTrainer",
    "resolve_step",
    "train_rbm",
]

METHODS = ("cd", "pcd", "pt", "recon")
LR_DECAYS = ("none", "linear", "inverse_k")
PERSISTED_LAYERS = ("visible", "hidden")
AUTOCAST_DTYPES = {None: None, "bfloat16": torch.bfloat16, "float16": torch.float16}
# "auto" takes the fused step where it applies and the loss step elsewhere.
STEPS = ("auto", "loss", "fused", "cuda_graph")


@dataclass
class TrainConfig(JSONConfig):
    """How to train one RBM.

    Parameters
    ----------
    method : {"cd", "pcd", "pt", "recon"}
        Contrastive divergence, persistent CD, parallel tempering
        (:class:`dbn.training.tempering.ParallelTempering`: persistent chains at
        ``n_temperatures`` temperatures that swap states; the β = 1 chains give the
        negative phase), or tied-weight autoencoder training.
    k : int
        Gibbs steps per update for ``cd``, ``pcd`` and ``pt`` (at every temperature);
        the first epoch's when ``k_final`` is set.
    k_final : int, optional
        Grow k linearly over the epochs from ``k`` (first epoch) to ``k_final`` (last),
        as Salakhutdinov & Murray (2008) trained their CD-25 models; None keeps k.
    k_every : int, optional
        Grow k by one every ``k_every`` epochs, from ``k`` in the first: with ``k=1``
        and ``k_every=20``, Salakhutdinov's ``rbm_l2.m`` schedule k = ceil(epoch / 20)
        (1-based epochs). Not together with ``k_final``.
    n_temperatures : int
        ``pt``: number of inverse temperatures, evenly spaced from 1 to ``min_beta``.
    min_beta : float
        ``pt``: the hottest inverse temperature, in [0, 1).
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
        L2 cost applied to the weights only (the optimiser's ``weight_decay``).
    l1 : float
        L1 cost on the weights, added to the loss (Hinton's guide, section 10).
    sparsity_target : float in (0, 1), optional
        Target probability of each hidden unit on the data (Hinton's guide, section 11);
        None for no sparsity penalty.
    sparsity_cost : float
        Weight of the sparsity penalty (used with ``sparsity_target``).
    lr_decay : {"none", "linear", "inverse_k"}
        ``"linear"`` lowers the learning rate each epoch towards zero at the last
        epoch, as Tieleman (2008) does for PCD; it lets the chains settle.
        ``"inverse_k"`` divides it by the epoch's k, as ``rbm_l2.m`` does with its
        growing k.
    n_chains : int, optional
        Number of persistent chains for ``pcd`` (per temperature for ``pt``); defaults
        to ``batch_size``.
    persist : {"visible", "hidden"}
        What the ``pcd`` chains keep between updates. ``"visible"`` (Tieleman 2008):
        their visible states, whose hidden states are drawn afresh under the updated
        weights. ``"hidden"`` (scikit-learn's ``BernoulliRBM``): the hidden states drawn
        at the end of the last update, which the next update takes down first; the
        same Markov chain cut at the other layer, one matrix product fewer a step.
    corruption : float
        Masking-noise level for denoising ``recon`` training, in [0, 1).
    binarize : bool
        Train on a fresh binary sample of each mini-batch (``v ~ Bernoulli(x)``), as
        Salakhutdinov's DBM code does, rather than on the values themselves (Bernoulli
        visible units only).
    init_visible_bias : bool
        Set the visible biases from the data before the first epoch.
    monitor_size : int
        Examples (of the training and of the held-out data) used for the epoch metrics.
    monitor_every : int
        Compute the epoch metrics every this many epochs and after the last one; the
        other epochs' history rows carry only ``epoch``, ``step`` (and ``loss``).
    step : {"auto", "loss", "fused", "cuda_graph"}
        How a training step is computed. ``"loss"``: autograd on
        :class:`dbn.training.objectives.RBMObjective` (the reference; extensions of the loss go
        here). ``"fused"``: the same gradient in closed form (:mod:`dbn.training._fused`;
        equal to the loss step for the same seed up to float rounding; faster).
        ``"cuda_graph"``: the fused step and the optimiser step replayed as one CUDA
        graph (:mod:`dbn.training._cudagraph`; CUDA only). ``"auto"`` takes ``"fused"`` where it
        applies (CD and PCD in one process) and ``"loss"`` elsewhere. A requested
        ``"fused"`` that does not apply falls back to ``"loss"`` with a warning; the
        step that ran is in the trainer's ``step`` and in every history row.
    allow_tf32 : bool
        Let CUDA matmuls use TF32 while this RBM trains (faster on Ampere and newer,
        about 3 fewer significant digits).
    autocast : {None, "bfloat16", "float16"}
        Mixed precision: the Gibbs chain and the gradient's products run in this dtype
        (the plain path under ``torch.autocast``), while the parameters, gradients,
        optimiser and epoch metrics stay in full precision. Worth it on GPUs with
        bfloat16/float16 tensor cores; probabilities then carry about 3 significant
        digits (bfloat16), and samples follow those rounded probabilities (their noise
        is drawn in float32, see :func:`dbn.models.rbm.noise_dtype`).
    rng : {"auto", "torch", "pcg64"}
        The stream the sampling noise is drawn from. ``"torch"``: a ``torch.Generator`` on
        the training device, the stream of every run before this option existed (a
        config saved then loads as ``"torch"``, so its command reproduces it bit for
        bit). ``"pcg64"``: numpy's PCG64 (:class:`dbn.utils.PCG64Stream`), the same
        float32 grid at about 1.5 times the rate, CPU only. ``"auto"`` takes
        ``"pcg64"`` on the CPU and ``"torch"`` elsewhere; the stream that ran is in the
        trainer's ``rng`` and in every history row.
    matmul : {"auto", "mm", "onednn"}
        The route of the fused step's matrix products on the CPU. ``"mm"``: MKL's GEMM
        through ``torch.mm``, the route of every run before this option existed (a config
        saved then loads as ``"mm"``). ``"onednn"``: oneDNN's linear (CPU only), about
        twice MKL's rate on some CPUs (AMD EPYC Zen 5) and slower on others. ``"auto"``
        times both at each product's first shape and takes oneDNN only where it is
        clearly faster (:mod:`dbn._utils.products`); the routes that ran are in every
        history row (``matmul``, by product) and in checkpoints, and a resumed run keeps
        them. The two routes round differently: pin the route a run recorded to
        reproduce it bit for bit.

    Examples
    --------
    >>> import dbn
    >>> config = dbn.TrainConfig(method="pcd", epochs=5, lr=0.05)
    >>> config.momentum, config.batch_size  # Hinton's guide's defaults
    (0.5, 100)
    >>> dbn.TrainConfig(method="gibbs")
    Traceback (most recent call last):
        ...
    ValueError: method must be one of ['cd', 'pcd', 'pt', 'recon'], got 'gibbs'
    """

    method: Literal["cd", "pcd", "pt", "recon"] = "cd"
    k: int = 1
    k_final: int | None = None
    k_every: int | None = None
    n_temperatures: int = 10
    min_beta: float = 0.0
    epochs: int = 10
    batch_size: int = 100
    lr: float = 0.1
    optimizer: Literal["sgd", "adam"] = "sgd"
    momentum: float = 0.5
    final_momentum: float = 0.9
    momentum_switch_epoch: int = 5
    weight_decay: float = 2e-4
    l1: float = 0.0
    sparsity_target: float | None = None
    sparsity_cost: float = 0.0
    lr_decay: Literal["none", "linear", "inverse_k"] = "none"
    n_chains: int | None = None
    persist: Literal["visible", "hidden"] = "visible"
    corruption: float = 0.0
    binarize: bool = False
    init_visible_bias: bool = True
    monitor_size: int = 1000
    monitor_every: int = 1
    step: Literal["auto", "loss", "fused", "cuda_graph"] = "auto"
    allow_tf32: bool = False
    autocast: Literal["bfloat16", "float16"] | None = None
    rng: Literal["auto", "torch", "pcg64"] = "auto"
    matmul: Literal["auto", "mm", "onednn"] = "auto"

    # configs saved before ``rng`` and ``matmul`` existed drew every sample from torch's
    # generator and ran every product through torch.mm
    LEGACY_DEFAULTS: ClassVar[dict[str, Any]] = {"rng": "torch", "matmul": "mm"}

    def __post_init__(self) -> None:
        check_choice("method", self.method, METHODS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("lr_decay", self.lr_decay, LR_DECAYS)
        check_choice("step", self.step, STEPS)
        check_choice("autocast", self.autocast, AUTOCAST_DTYPES)
        check_choice("persist", self.persist, PERSISTED_LAYERS)
        check_choice("rng", self.rng, RNG_STREAMS)
        check_choice("matmul", self.matmul, MATMUL_CHOICES)
        if self.persist == "hidden" and self.method != "pcd":
            raise ValueError(f"persist 'hidden' applies to method 'pcd', not {self.method!r}")
        for name in ("k", "batch_size", "monitor_size", "monitor_every"):
            check_int(name, getattr(self, name))
        if self.n_chains is not None:
            check_int("n_chains", self.n_chains)
        if self.k_final is not None:
            check_int("k_final", self.k_final)
        if self.k_every is not None:
            check_int("k_every", self.k_every)
            if self.k_final is not None:
                raise ValueError(
                    f"k_final and k_every are two k schedules: set one, got "
                    f"k_final={self.k_final!r} and k_every={self.k_every!r}"
                )
        check_int("n_temperatures", self.n_temperatures, minimum=2)
        if not 0.0 <= self.min_beta < 1.0:
            raise ValueError(f"min_beta must lie in [0, 1), got {self.min_beta!r}")
        check_int("epochs", self.epochs, minimum=0)
        check_int("momentum_switch_epoch", self.momentum_switch_epoch, minimum=0)
        check_positive("lr", self.lr)
        check_fraction("momentum", self.momentum)
        check_fraction("final_momentum", self.final_momentum)
        check_fraction("corruption", self.corruption)
        for name in ("weight_decay", "l1", "sparsity_cost"):
            check_nonnegative(name, getattr(self, name))
        if self.sparsity_target is not None and not 0 < self.sparsity_target < 1:
            raise ValueError(f"sparsity_target must lie in (0, 1), got {self.sparsity_target!r}")

    def k_at(self, epoch: int) -> int:
        """Gibbs steps per update in ``epoch`` (0-based): ``k``, the linear schedule
        from ``k`` to ``k_final``, or ``k`` plus one every ``k_every`` epochs.

        Examples
        --------
        >>> config = TrainConfig(epochs=200, k=1, k_every=20, lr_decay="inverse_k")
        >>> [config.k_at(epoch) for epoch in (0, 19, 20, 199)]
        [1, 1, 2, 10]
        """
        if self.k_every is not None:
            return self.k + epoch // self.k_every
        if self.k_final is None or self.epochs <= 1:
            return self.k if self.k_final is None else self.k_final
        return round(self.k + (self.k_final - self.k) * epoch / (self.epochs - 1))

    @property
    def compute_dtype(self) -> torch.dtype | None:
        """The reduced dtype of ``autocast``, or None for the parameters' own dtype."""
        return AUTOCAST_DTYPES[self.autocast]


def resolve_step(
    config: TrainConfig, device: torch.device, world_size: int = 1, rbm: RBM | None = None
) -> str:
    """The step that will run for ``config`` on ``device``: the one place it is chosen.

    ``rbm``, when given, is the model to train: one whose conditionals are not the plain
    RBM's (``plain_conditionals`` False: a softmax label group,
    :class:`~dbn.models.LabelRBM`, or a DBM's :class:`~dbn.models.ReplicatedRBM`)
    takes the loss step, which samples through the model's own methods.

    Returns
    -------
    {"loss", "fused", "cuda_graph"}

    Raises
    ------
    ValueError
        ``"cuda_graph"`` where it cannot run (no CUDA device, reconstruction, DDP).

    Warns
    -----
    UserWarning
        A requested ``"fused"`` that does not apply; the loss step runs instead.

    Examples
    --------
    >>> import torch, dbn
    >>> from dbn.training import resolve_step
    >>> resolve_step(dbn.TrainConfig(method="pcd"), torch.device("cpu"))
    'fused'
    >>> resolve_step(dbn.TrainConfig(method="recon"), torch.device("cpu"))
    'loss'
    """
    if config.step == "loss":
        return "loss"
    unfused = None
    if config.method == "recon":
        unfused = "the reconstruction objective has no fused step"
    elif world_size > 1:
        unfused = "under DDP the gradients are averaged through autograd"
    elif rbm is not None and not rbm.plain_conditionals:
        unfused = (
            f"{type(rbm).__name__} samples by its own conditionals, which only the loss step uses"
        )
    if config.step == "cuda_graph":
        if device.type != "cuda":
            raise ValueError(f"step 'cuda_graph' needs a CUDA device, got {str(device)!r}")
        if unfused is not None:
            raise ValueError(f"step 'cuda_graph' cannot run: {unfused}")
        if config.method == "pt":
            raise ValueError("step 'cuda_graph' runs CD and PCD; parallel tempering needs 'fused'")
        if config.k_final is not None or config.k_every is not None:
            raise ValueError("step 'cuda_graph' replays a fixed k; a k schedule needs 'fused'")
        return "cuda_graph"
    if unfused is None:
        return "fused"
    if config.step == "fused":
        warnings.warn(f"step 'fused' does not apply ({unfused}); the loss step runs", stacklevel=3)
    return "loss"


def check_autocast_device(autocast: str | None, device: torch.device) -> None:
    """Refuse bfloat16 mixed precision on a GPU without bfloat16 arithmetic."""
    if (
        autocast == "bfloat16"
        and device.type == "cuda"
        and not torch.cuda.is_bf16_supported(including_emulation=False)
    ):
        raise ValueError(
            f"autocast 'bfloat16' needs a GPU with bfloat16 support; {device} "
            f"({torch.cuda.get_device_name(device)}) has none: use 'float16' or None"
        )


@contextlib.contextmanager
def _tf32(allowed: bool) -> Iterator[None]:
    """TF32 matrix products on CUDA while the block runs, if ``allowed``; the previous
    setting restored after."""
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = allowed or previous
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


def _initial_visible_bias(rbm: RBM, data: Tensor) -> Tensor:
    """log(p / (1 - p)) of each unit's mean for Bernoulli units, the mean for Gaussian ones."""
    mean = data.mean(dim=0)
    if rbm.visible == "gaussian":
        return mean
    # Clamp so that always-off pixels (MNIST's border) get a large, finite negative bias.
    p = mean.clamp(1e-3, 1 - 1e-3)
    return torch.log(p) - torch.log1p(-p)


class RBMTrainer(Trainer):
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

    Attributes
    ----------
    layer : int
        The RBM's index in a greedy stack (set by the stack, for its callbacks); 0 alone.

    Examples
    --------
    >>> import dbn
    >>> from dbn.training import RBMTrainer
    >>> trainer = RBMTrainer(dbn.RBM(64, 16), dbn.TrainConfig(epochs=2), seed=0)
    >>> history = trainer.fit(dbn.load_digits()["train"].x, progress=False)
    >>> trainer.epoch, trainer.step
    (2, 'fused')
    >>> sorted(history[-1])[:4]
    ['epoch', 'k', 'lr', 'matmul']
    """

    name = "RBM"
    model: RBM
    config: TrainConfig

    def __init__(
        self,
        rbm: RBM,
        config: TrainConfig,
        seed: int = 0,
        device: str | torch.device | None = None,
        name: str = "RBM",
        check_range: bool = True,
    ) -> None:
        check_materialised(rbm)
        if config.binarize and rbm.visible != "bernoulli":
            raise ValueError(f"binarize samples Bernoulli visible units, not {rbm.visible!r}")
        target = training_device(rbm, device)
        # the step decides the optimiser (capturable for a CUDA graph): chosen first
        self.step = resolve_step(config, target, world()[1], rbm)
        check_autocast_device(config.autocast, target)
        check_matmul_device(config.matmul, target)
        super().__init__(rbm, config, seed, device=target, name=name)
        self.check_range = check_range
        self.layer = 0
        self.shuffle_generator = new_generator(seed, self.device)
        sampling_seed = seed + SAMPLING_SEED_STRIDE * (self.rank + 1)
        self.rng = resolve_rng(config.rng, self.device)
        self.generator = sampling_stream(self.rng, sampling_seed, self.device)
        penalties: dict[str, Any] = dict(
            l1=config.l1,
            sparsity_target=config.sparsity_target,
            sparsity_cost=config.sparsity_cost,
        )
        objective = RBMObjective(self.model, config.method, **penalties)
        # Under torchrun the loss goes through DDP, whose all-reduce averages the
        # gradients over ranks; the fused step writes .grad itself, so it is single-process.
        self.objective = DistributedDataParallel(objective) if self.world_size > 1 else objective
        self.fast_cd: FastCD | None = None
        if self.step != "loss":
            self.fast_cd = FastCD(
                self.model,
                config.compute_dtype,
                persist=config.persist,
                matmul=config.matmul,
                **penalties,
            )
        self.graphed: GraphedCD | None = None
        if self.step == "cuda_graph" and self.fast_cd is not None:
            # a CUDA graph runs on CUDA, where the stream is torch's (resolve_rng)
            assert isinstance(self.generator, torch.Generator)
            self.graphed = GraphedCD(self.fast_cd, self.optimizer, config.k, self.generator)
        self.chains: Tensor | None = None
        self.tempering: ParallelTempering | None = None

    @property
    def rbm(self) -> RBM:
        """The RBM being trained (the trainer's ``model``)."""
        return self.model

    def build_optimizer(self) -> torch.optim.Optimizer:
        """The config's optimiser, its weight cost on the weights only."""
        config = self.config
        return make_optimizer(
            config.optimizer,
            *split_weights(self.model),
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
            capturable=self.step == "cuda_graph",
            fused=self.device.type == "cpu",
        )

    def divergence_advice(self) -> str:
        """Lower the rate, or standardise Gaussian units' data."""
        return (
            f"Lower the learning rate (now {self.config.lr:g}), or standardise the data "
            f"for Gaussian units."
        )

    def running(self) -> contextlib.AbstractContextManager[Any]:
        """TF32 matrix products on CUDA where the config allows them."""
        return _tf32(self.config.allow_tf32 and self.device.type == "cuda")

    def matmul_routes(self) -> dict[str, str] | None:
        """The fused step's product routes so far, by product (None for the loss step,
        whose products are autograd's: ``torch.mm``)."""
        return None if self.fast_cd is None else dict(self.fast_cd.products.routes)

    # --- state for checkpoints ----------------------------------------------------------

    def sampling_state(self) -> dict[str, Any]:
        """The shuffling generator, the fused step's product routes, and each rank's
        chains and sampling generator.

        In a distributed run this is a collective call (every rank must make it): the
        per-rank sampling generators and PCD chains are gathered, so that each rank
        resumes its own.
        """
        per_rank = {
            "chains": None if self.chains is None else self.chains.cpu(),
            "tempering": None if self.tempering is None else self.tempering.state_dict(),
            "generator": self.generator.get_state(),
        }
        ranks: list[Any] = [per_rank]
        if self.world_size > 1:
            ranks = [None] * self.world_size
            dist.all_gather_object(ranks, per_rank)
        return {
            "shuffle_generator": self.shuffle_generator.get_state(),
            "matmul": self.matmul_routes(),
            "ranks": ranks,
        }

    def check_state(self, state: dict[str, Any]) -> None:
        """The base's checks, known product routes, and as many processes as wrote the
        state."""
        super().check_state(state)
        check_routes(state.get("matmul"))
        if len(state["ranks"]) != self.world_size:
            raise ValueError(
                f"the checkpoint was written by {len(state['ranks'])} process(es); resume it "
                f"with the same number, not {self.world_size}"
            )

    def load_sampling_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`sampling_state` stored, this rank's part."""
        self.shuffle_generator.set_state(state["shuffle_generator"])
        if self.fast_cd is not None:
            # the routes that ran keep running: a route chosen anew could round otherwise
            self.fast_cd.products.routes.update(state.get("matmul") or {})
        mine = state["ranks"][self.rank]
        self.chains = None if mine["chains"] is None else mine["chains"].to(self.device)
        if mine.get("tempering") is not None:
            self.tempering = self._new_tempering(mine["tempering"]["visible"][0].to(self.device))
            self.tempering.load_state_dict(mine["tempering"])
        self.generator.set_state(mine["generator"])

    # --- training -----------------------------------------------------------------------

    def _checked(self, data: Tensor | np.ndarray, name: str) -> Tensor:
        data = check_visible_data(
            data,
            self.model.n_visible,
            self.model.visible,
            name,
            check_range=self.check_range,
            dtype=self.model.weight.dtype,
        )
        return data.to(self.device)

    def prepare(self, data: Any, labels: Any) -> tuple[Tensor, None]:
        """The data checked (width, range, dtype) and moved to the device once."""
        if labels is not None:
            raise ValueError("an RBM trains without labels")
        data = self._checked(data, "data")
        if self.config.batch_size > len(data):
            warnings.warn(
                f"{self.name}: batch_size {self.config.batch_size} exceeds the "
                f"{len(data)} training examples; each epoch is a single batch",
                stacklevel=4,
            )
        return data, None

    def prepare_valid(self, valid: Any) -> Tensor:
        """Held-out data checked like the training data, for the free-energy gap."""
        return self._checked(valid, "valid")

    def start(self, data: Tensor, labels: Any = None) -> None:
        """First-epoch set-up: visible biases from the data and the persistent chains.

        :meth:`fit` and :meth:`train_epochs` call it before epoch 1; call it yourself
        only to drive :meth:`train_epoch` directly.

        Parameters
        ----------
        data : Tensor of shape (n_samples, n_visible)
            Validated training data on the trainer's device.
        labels : None
        """
        config = self.config
        with torch.no_grad():
            if config.init_visible_bias:
                self.model.visible_bias.copy_(_initial_visible_bias(self.model, data))
            if config.method in ("pcd", "pt"):
                n_chains = config.n_chains or config.batch_size
                start = randint(len(data), (n_chains,), self.generator, self.device)
                if config.method == "pt":
                    self.tempering = self._new_tempering(data[start])
                elif config.persist == "hidden":
                    self.chains = self.model.sample_hidden(data[start], self.generator)
                else:
                    self.chains = data[start].clone()

    def _new_tempering(self, start: Tensor) -> ParallelTempering:
        config = self.config
        return ParallelTempering(self.model, start, config.n_temperatures, config.min_beta)

    def _kept_hidden(self, batch: Tensor) -> Tensor:
        """PCD's kept hidden states; drawn from ``batch`` when :meth:`train_epoch` runs
        without :meth:`start`."""
        if self.chains is None:
            with torch.no_grad():
                self.chains = self.model.sample_hidden(batch, self.generator)
        return self.chains

    def _train_step(self, batch: Tensor, k: int) -> Tensor | None:
        config, rbm = self.config, self.model
        kept_hidden = self._kept_hidden(batch) if config.persist == "hidden" else None
        tempered = None
        if self.tempering is not None:  # PT samples first; the step takes its states
            tempered = self.tempering.sample(k, self.generator)
        if self.fast_cd is not None:
            if tempered is not None:
                self.fast_cd.step(batch, tempered, 0, self.generator)
                self.optimizer.step()
                return None
            start = self.chains if config.method == "pcd" else None
            if self.graphed is not None:
                chains = self.graphed.step(batch, start)
            else:
                chains = self.fast_cd.step(batch, start, k, self.generator)
                self.optimizer.step()
            if config.method == "pcd":
                self.chains = chains
            return None
        dtype = config.compute_dtype
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            if config.method == "recon":
                corrupted = mask_corrupt(batch, config.corruption, self.generator)
                loss = self.objective(batch, corrupted)
            elif tempered is not None:
                loss = self.objective(batch, tempered.to(batch.dtype))
            elif kept_hidden is not None:
                with torch.no_grad():
                    # down from the kept hidden states, then k - 1 full steps; the next
                    # hidden states are drawn under the weights of this update's gradient
                    negatives = rbm.sample_visible(kept_hidden, self.generator)
                    if k > 1:
                        negatives = rbm.gibbs(negatives, k - 1, self.generator)
                    negatives = negatives.to(batch.dtype)
                    self.chains = rbm.sample_hidden(negatives, self.generator).to(batch.dtype)
                loss = self.objective(batch, negatives)
            else:
                with torch.no_grad():
                    # PCD continues its chains (set up by start()); CD starts at the data
                    start = batch if config.method != "pcd" or self.chains is None else self.chains
                    negatives = rbm.gibbs(start, k, self.generator).to(batch.dtype)
                if config.method == "pcd":
                    self.chains = negatives
                loss = self.objective(batch, negatives)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        # the CD loss value says nothing about the fit; only recon reports its objective
        return loss.detach() if config.method == "recon" else None

    def train_epoch(self, data: Tensor, labels: Any = None) -> dict[str, Any]:
        """One pass over ``data`` (validated, on the device), without monitoring.

        Returns
        -------
        dict
            ``step`` (the step that ran), this epoch's ``lr`` (and ``momentum``), ``k``
            (CD, PCD, PT), ``swap_rate`` (PT), and ``loss`` (``recon``: the mean
            reconstruction loss, the one value the loop waits for).
        """
        config = self.config
        lr = config.lr
        if config.lr_decay == "linear":
            lr *= 1 - self.epoch / max(config.epochs, 1)
        elif config.lr_decay == "inverse_k":
            lr /= config.k_at(self.epoch)
        self.set_lr(lr)
        if config.optimizer == "sgd":
            self.set_momentum(
                config.final_momentum
                if self.epoch >= config.momentum_switch_epoch
                else config.momentum
            )
        total = torch.zeros((), device=self.device)
        n_batches = 0
        k = config.k_at(self.epoch)
        for batch in self._batches(data):
            if config.binarize:
                batch = bernoulli_sample(batch, self.generator).to(batch.dtype)
            loss = self._train_step(batch, k)
            if loss is not None:
                total += loss
            n_batches += 1
        metrics: dict[str, Any] = {
            "step": self.step,
            "rng": self.rng,
            "matmul": self.matmul_routes(),
        }
        group = self.optimizer.param_groups[0]
        metrics["lr"] = group["lr"]
        if "momentum" in group:
            metrics["momentum"] = group["momentum"]
        if config.method in ("cd", "pcd", "pt"):
            metrics["k"] = k
        if self.tempering is not None:
            metrics["swap_rate"] = self.tempering.swap_rate()
        if config.method == "recon":
            metrics["loss"] = all_reduce_mean(total / n_batches).item()
        return metrics

    def monitor(self, data: Tensor, valid: Tensor | None) -> dict[str, Any]:
        """Reconstruction error, pseudo-likelihood and the free-energy gap on the first
        ``monitor_size`` examples, every ``monitor_every`` epochs and after the last."""
        config = self.config
        done = self.epoch + 1
        if done % config.monitor_every and done < config.epochs:
            return {}
        monitor_valid = None if valid is None else valid[: config.monitor_size]
        seed = self.seed * MONITOR_SEED_STRIDE + self.epoch
        return epoch_metrics(self.model, data[: config.monitor_size], monitor_valid, seed)

    def _batches(self, data: Tensor) -> Iterator[Tensor]:
        """This rank's mini-batches for one epoch, in a shuffled order shared by all ranks."""
        size = self.config.batch_size
        order = torch.randperm(len(data), generator=self.shuffle_generator, device=self.device)
        if self.world_size == 1:
            shuffled = data[order]  # one gather, then slices
            return (shuffled[begin : begin + size] for begin in range(0, len(data), size))
        return (data[index] for index in rank_batches(order, size))


def train_rbm(
    rbm: RBM,
    data: Tensor | np.ndarray,
    config: TrainConfig | None = None,
    valid: Tensor | np.ndarray | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    generator: torch.Generator | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """Train ``rbm`` in place on ``data``; keyword ``options`` override ``config`` fields.

    Parameters
    ----------
    rbm : RBM
    data : Tensor or ndarray of shape (n_samples, n_visible), any float dtype
        In [0, 1] for Bernoulli visible units; converted once to the RBM's dtype.
    config : TrainConfig, optional
        Every option; :class:`TrainConfig`'s defaults when None, except the length:
        without ``config`` or ``epochs=``, the training lasts at least 5,000 updates
        and 10 epochs (ten epochs of a small data set are too few updates to learn).
    valid : Tensor or ndarray of shape (n_valid, n_visible), optional
        Held-out data for the free-energy gap.
    seed : int
        Seeds the trainer's own generator (sampling, shuffling, monitoring).
    device : str or torch.device, optional
    progress : bool
        A tqdm bar over epochs.
    generator : torch.Generator, optional
        Draws the trainer's seed instead of ``seed``.
    **options
        :class:`TrainConfig` fields, e.g. ``method="pcd", lr=0.05``.

    Returns
    -------
    list of dict
        Per-epoch metrics, as :meth:`RBMTrainer.fit` gives them.

    Examples
    --------
    >>> import torch, dbn
    >>> x = dbn.load_digits()["train"].x
    >>> rbm = dbn.RBM(64, 32, generator=torch.Generator().manual_seed(0))
    >>> history = dbn.train_rbm(rbm, x, method="pcd", epochs=20, lr=0.05, progress=False)
    >>> len(history), history[-1]["recon_error"] < history[0]["recon_error"]
    (20, True)
    """
    if config is None:
        options = with_budget_epochs(options, len(data), TrainConfig.batch_size, PRETRAIN_BUDGET)
    values = (config or TrainConfig()).to_dict()
    values.update(options)
    if generator is not None:
        seed = derive_seed(generator)
    trainer = RBMTrainer(rbm, TrainConfig.from_dict(values), seed=seed, device=device)
    return trainer.fit(data, valid=valid, progress=progress)
