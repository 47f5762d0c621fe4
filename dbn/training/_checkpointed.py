"""The state that an epoch-by-epoch trainer saves and restores to continue bit for bit."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dbn._utils.config import JSONConfig

__all__ = ["CheckpointedTrainer"]


class CheckpointedTrainer:
    """What the up-down and the DBM trainers share: their model, optimiser, generator,
    epoch count and history as one plain dictionary, tied to the config that wrote it.
    A subclass adds its own entries by extending :meth:`state_dict` and
    :meth:`load_state_dict`."""

    model: nn.Module
    config: JSONConfig
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    epoch: int
    history: list[dict[str, Any]]

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit for bit: tensors and plain values, and the
        model's constructor arguments, so that a state alone rebuilds its model."""
        return {
            "config": self.config.to_dict(),
            "model_config": self.model.config(),  # type: ignore[operator]
            "epoch": self.epoch,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "history": list(self.history),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from what :meth:`state_dict` returned, if it was written under the
        same config, for a model of the same shape, at an epoch the config has; checked
        before anything changes, refused in one line."""
        self.config.check_saved(state.get("config"), "the training state")
        model_config = self.model.config()  # type: ignore[operator]
        if state.get("model_config") != model_config:
            raise ValueError(
                f"the training state is of a model {state.get('model_config')}, not of "
                f"{model_config}"
            )
        epoch, epochs = state.get("epoch"), self.config.epochs  # type: ignore[attr-defined]
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch <= epochs:
            raise ValueError(f"the training state's epoch must lie in 0..{epochs}, got {epoch!r}")
        self.epoch = epoch
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.history = list(state["history"])
