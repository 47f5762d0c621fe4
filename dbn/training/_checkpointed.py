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
        """Everything needed to continue bit for bit: tensors and plain values."""
        return {
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "history": list(self.history),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from what :meth:`state_dict` returned, if it was written under the
        same config (a state without one predates the check)."""
        if "config" in state:
            self.config.check_saved(state["config"], "the training state")
        self.epoch = int(state["epoch"])
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.history = list(state["history"])
