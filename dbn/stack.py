"""Deep Belief Network: RBMs stacked by greedy layer-wise pretraining.

Hinton, Osindero & Teh (2006), "A fast learning algorithm for deep belief nets": train
the first RBM on the data, then each next RBM on the hidden probabilities of the one
below, and so on up. The stack then initialises a feed-forward network
(:func:`dbn.to_mlp`) or, run top-down, generates data (:meth:`DBN.generate`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from dbn.checkpoint import CheckpointError, atomic_save, safe_load
from dbn.distributed import is_main_process
from dbn.rbm import RBM, check_visible_data
from dbn.train import RBMTrainer, TrainConfig, TrainingDivergedError

__all__ = ["DBN", "load", "FORMAT_VERSION"]

FORMAT_VERSION = 1


def _per_layer(options: dict, n_layers: int) -> list[dict]:
    """Split keyword options into one dict per layer; a list gives one value per layer."""
    layers = [{} for _ in range(n_layers)]
    for name, value in options.items():
        if isinstance(value, (list, tuple)):
            if len(value) != n_layers:
                raise ValueError(
                    f"{name} has {len(value)} values but the DBN has {n_layers} layers"
                )
            for layer, item in zip(layers, value, strict=True):
                layer[name] = item
        else:
            for layer in layers:
                layer[name] = value
    return layers


class DBN(nn.Module):
    """A stack of RBMs.

    Parameters
    ----------
    sizes : sequence of int
        Units per layer from the data up, e.g. ``[784, 500, 500, 2000]``.
    visible : {"bernoulli", "gaussian"}
        Type of the data layer's units; the higher layers are always Bernoulli.
    generator : torch.Generator, optional
        Source of the initial weights.

    Attributes
    ----------
    layers : nn.ModuleList of RBM
        ``layers[i]`` has ``sizes[i]`` visible and ``sizes[i + 1]`` hidden units.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        visible: Literal["bernoulli", "gaussian"] = "bernoulli",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least two entries (visible, hidden), got {sizes!r}")
        self.sizes = sizes
        self.visible = visible
        self.layers = nn.ModuleList(
            RBM(n_in, n_out, visible=visible if index == 0 else "bernoulli", generator=generator)
            for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
        )

    def config(self) -> dict:
        """The constructor arguments, JSON-able."""
        return {"sizes": list(self.sizes), "visible": self.visible}

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, visible={self.visible!r}"

    # --- inference ----------------------------------------------------------------------

    @torch.no_grad()
    def transform(self, x: Tensor, n_layers: int | None = None) -> Tensor:
        """Deterministic features: hidden probabilities passed up through the layers.

        Parameters
        ----------
        x : Tensor of shape (batch, sizes[0])
        n_layers : int, optional
            How many layers to go up; all by default.

        Returns
        -------
        Tensor of shape (batch, sizes[n_layers])
        """
        for rbm in self.layers[:n_layers]:
            x = rbm.hidden_probs(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.transform(x)

    @torch.no_grad()
    def generate(
        self,
        n: int,
        gibbs_steps: int = 1000,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Sample from the top RBM by Gibbs sampling, then pass down to the data layer.

        Parameters
        ----------
        n : int
            Number of samples.
        gibbs_steps : int
            Gibbs steps in the top-level RBM (the associative memory).
        generator : torch.Generator, optional
            On the DBN's device.

        Returns
        -------
        Tensor of shape (n, sizes[0])
            Mean-field values of the data layer (pixel intensities for Bernoulli units).
        """
        top = self.layers[-1]
        device = top.weight.device
        start = torch.rand((n, top.n_visible), generator=generator, device=device)
        v = top.gibbs(torch.bernoulli(start, generator=generator), gibbs_steps, generator)
        for rbm in reversed(self.layers[:-1]):
            v = rbm.visible_probs(v)
        return v

    # --- pretraining --------------------------------------------------------------------

    def pretrain(
        self,
        data: Tensor,
        valid: Tensor | None = None,
        *,
        epochs: int | Sequence[int] = 10,
        batch_size: int | Sequence[int] = 100,
        method: str | Sequence[str] = "cd",
        k: int | Sequence[int] = 1,
        lr: float | Sequence[float] = 0.1,
        device: str | torch.device | None = None,
        seed: int = 0,
        progress: bool = True,
        checkpoint_path: str | os.PathLike | None = None,
        resume: bool = False,
        on_epoch_end: Callable[[int, RBMTrainer], None] | None = None,
        **options,
    ) -> list[list[dict]]:
        """Greedy layer-wise training, each layer on the hidden probabilities of the one below.

        Parameters
        ----------
        data : Tensor of shape (n_samples, sizes[0])
        valid : Tensor of shape (n_valid, sizes[0]), optional
            Held-out data for each layer's free-energy gap.
        epochs, batch_size, method, k, lr
            Training options for every layer, or a list with one value per layer.
        device : str or torch.device, optional
            Where to train; the DBN ends up there.
        seed : int
            Layer ``i`` trains with seed ``seed + i``.
        progress : bool
            A tqdm bar per layer.
        checkpoint_path : path, optional
            Written atomically after every epoch with everything needed to resume (by
            rank 0 only in a distributed run; every rank reads it to resume).
        resume : bool
            Continue from ``checkpoint_path`` if it exists.
        on_epoch_end : callable, optional
            Called as ``on_epoch_end(layer_index, trainer)`` after every epoch.
        **options
            Further :class:`~dbn.train.TrainConfig` fields (momentum, weight_decay,
            corruption, ...), each a value or a per-layer list.

        Returns
        -------
        list of list of dict
            Per layer, the per-epoch metrics.
        """
        n_layers = len(self.layers)
        options.update(epochs=epochs, batch_size=batch_size, method=method, k=k, lr=lr)
        configs = [TrainConfig.from_dict(layer) for layer in _per_layer(options, n_layers)]
        check_visible_data(data, self.sizes[0], self.visible, "data")
        if valid is not None:
            check_visible_data(valid, self.sizes[0], self.visible, "valid")
        device = torch.device(device) if device is not None else self.layers[0].weight.device
        self.to(device)

        start_layer, saved_trainer, histories = 0, None, [[] for _ in range(n_layers)]
        if resume and checkpoint_path is not None and Path(checkpoint_path).is_file():
            start_layer, saved_trainer, histories = self._restore(checkpoint_path, configs)

        x = data.to(device)
        v = None if valid is None else valid.to(device)
        for index, (rbm, config) in enumerate(zip(self.layers, configs, strict=True)):
            if index >= start_layer:
                name = f"layer {index + 1}/{n_layers} ({rbm.n_visible}-{rbm.n_hidden})"
                trainer = RBMTrainer(rbm, config, seed=seed + index, device=device, name=name)
                if index == start_layer and saved_trainer is not None:
                    trainer.load_state_dict(saved_trainer)

                def after_epoch(trainer: RBMTrainer, index: int = index) -> None:
                    histories[index] = list(trainer.history)
                    if checkpoint_path is not None:
                        state = trainer.state_dict()  # collective under torchrun
                        if is_main_process():
                            self._save_training(checkpoint_path, configs, index, state, histories)
                    if on_epoch_end is not None:
                        on_epoch_end(index, trainer)

                try:
                    histories[index] = trainer.fit(x, v, progress, on_epoch_end=after_epoch)
                except TrainingDivergedError as error:
                    kept = (
                        f" The last good checkpoint is {checkpoint_path}."
                        if checkpoint_path
                        else ""
                    )
                    raise TrainingDivergedError(f"{error}{kept}") from None
            x = rbm.hidden_probs(x).detach()
            v = None if v is None else rbm.hidden_probs(v).detach()
        if checkpoint_path is not None and is_main_process():
            # a finished run resumes as a no-op
            self._save_training(checkpoint_path, configs, n_layers, None, histories)
        return histories

    def _save_training(self, path, configs, layer, trainer_state, histories) -> None:
        atomic_save(
            {
                "kind": "dbn-training",
                "format_version": FORMAT_VERSION,
                "config": self.config(),
                "train_configs": [config.to_dict() for config in configs],
                "layer": layer,
                "trainer": trainer_state,
                "state": {key: value.detach().cpu() for key, value in self.state_dict().items()},
                "histories": histories,
            },
            path,
        )

    def _restore(self, path, configs):
        blob = safe_load(path, kind="dbn-training")
        if blob["config"] != self.config():
            raise CheckpointError(
                f"{str(path)!r} was written for a DBN with {blob['config']}, not {self.config()}"
            )
        if blob["train_configs"] != [config.to_dict() for config in configs]:
            raise CheckpointError(
                f"{str(path)!r} was written with other training options; resume with the same "
                f"options or start a new run"
            )
        self.load_state_dict(blob["state"])
        return blob["layer"], blob["trainer"], blob["histories"]

    # --- saving -------------------------------------------------------------------------

    def save(self, path: str | os.PathLike, **extra) -> Path:
        """Write the DBN atomically: its config, its tensors and any JSON-able ``extra``."""
        return atomic_save(
            {
                "kind": "dbn",
                "format_version": FORMAT_VERSION,
                "config": self.config(),
                "state": {key: value.detach().cpu() for key, value in self.state_dict().items()},
                "extra": extra,
            },
            path,
        )


def load(path: str | os.PathLike) -> DBN | RBM:
    """Load what :meth:`DBN.save` (or a training checkpoint) wrote, without running code.

    Parameters
    ----------
    path : path

    Returns
    -------
    DBN or RBM
        A DBN for ``dbn`` and ``dbn-training`` checkpoints, an RBM for ``rbm`` ones.

    Raises
    ------
    dbn.checkpoint.CheckpointError
        For a missing, corrupt, unsafe or foreign file.
    """
    blob = safe_load(path)
    kind = blob.get("kind")
    version = blob.get("format_version", FORMAT_VERSION)
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{str(path)!r} has format version {version}; this dbn reads up to {FORMAT_VERSION}. "
            f"Upgrade dbn."
        )
    try:
        if kind in ("dbn", "dbn-training"):
            model = DBN(**blob["config"])
        elif kind == "rbm":
            model = RBM(**blob["config"])
        else:
            raise CheckpointError(f"{str(path)!r} is not a dbn checkpoint (kind {kind!r})")
        model.load_state_dict(blob["state"])
    except (KeyError, TypeError, RuntimeError, ValueError) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(f"{str(path)!r} does not hold a valid {kind}: {error}") from None
    return model
