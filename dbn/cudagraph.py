"""The fused CD/PCD step plus the optimiser step, captured in a CUDA graph.

At 784x500 and batch 100 one step is a dozen small kernels, and on a modern GPU the
time to launch them exceeds the time to run them. Captured once, the whole step is
replayed with a single launch. Everything the graph touches lives at fixed addresses:
the batch and the chains are copied into static buffers before each replay.

The learning rate and momentum are baked into the captured optimiser step, so a new
graph is captured whenever they change (at most once per epoch). Batches of another
size (the last, partial one) run eagerly.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dbn.fastpath import FastCD

__all__ = ["GraphedCD"]


class GraphedCD:
    """Replays ``FastCD.step`` + ``optimizer.step`` as one CUDA graph.

    Parameters
    ----------
    fast_cd : FastCD
        Its RBM must live on a CUDA device.
    optimizer : torch.optim.Optimizer
    k : int
        Gibbs steps.
    generator : torch.Generator
        A CUDA generator, registered with every captured graph.
    """

    def __init__(self, fast_cd: FastCD, optimizer, k: int, generator: torch.Generator) -> None:
        if fast_cd.rbm.weight.device.type != "cuda":
            raise ValueError("cuda_graph needs the RBM on a CUDA device")
        if not hasattr(torch.cuda.CUDAGraph, "register_generator_state"):
            raise RuntimeError("CUDA graphs with a private generator need a newer PyTorch")
        self.fast_cd, self.optimizer, self.k, self.generator = fast_cd, optimizer, k, generator
        self._stream = torch.cuda.Stream(device=fast_cd.rbm.weight.device)
        self._shape: tuple | None = None
        self._graph: torch.cuda.CUDAGraph | None = None
        self._key: tuple | None = None
        self._batch: Tensor | None = None
        self._chains: Tensor | None = None
        self._negatives: Tensor | None = None

    def _hyperparameters(self) -> tuple:
        return tuple((group["lr"], group.get("momentum")) for group in self.optimizer.param_groups)

    def _eager(self, batch: Tensor, chains: Tensor | None) -> Tensor:
        negatives = self.fast_cd.step(batch, chains, self.k, self.generator)
        self.optimizer.step()
        return negatives

    def _warm_up(self, batch: Tensor, chains: Tensor | None) -> Tensor:
        """A real, eager step on the capture stream: it creates the momentum buffers and
        the library handles that a capture must not allocate (PyTorch's recipe)."""
        self._stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self._stream):
            negatives = self._eager(batch, chains)
        torch.cuda.current_stream().wait_stream(self._stream)
        return negatives

    def _capture(self, batch: Tensor, chains: Tensor | None) -> None:
        """Record (not run) one step reading from static copies of its inputs."""
        self._batch = batch.clone()
        self._chains = None if chains is None else chains.clone()
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(self.generator)
        with torch.cuda.graph(graph, stream=self._stream):
            self._negatives = self._eager(self._batch, self._chains)
        self._graph, self._key = graph, self._hyperparameters()

    def step(self, batch: Tensor, chains: Tensor | None) -> Tensor:
        """One training step; returns the negative samples (the new chains for PCD)."""
        shape = tuple(batch.shape)
        if self._shape is None:
            self._shape = shape
            return self._warm_up(batch, chains)
        if shape != self._shape:
            return self._eager(batch, chains)  # the last, partial batch of an epoch
        if self._graph is None or self._hyperparameters() != self._key:
            self._capture(batch, chains)
        self._batch.copy_(batch)
        if chains is not None:
            self._chains.copy_(chains)
        self._graph.replay()
        return self._negatives.clone()
