"""The fused CD/PCD step plus the optimiser step, captured in a CUDA graph.

At 784x500 and batch 100 one step is a dozen small kernels, and on a modern GPU the
time to launch them exceeds the time to run them. Captured once, the whole step is
replayed with a single launch. Everything the graph touches lives at fixed addresses:
the batch and the chains are copied into static buffers before each replay, and the
negative samples are written into a static output.

The learning rate and momentum are baked into the captured optimiser step, so a new
graph is captured whenever they change (at most once per epoch). Batches of another
size (the last, partial one) run eagerly.

The capture itself is delegated to a recorder: :class:`CUDAGraphRecorder` on a GPU, or
:class:`RerunRecorder`, which replays by running the recorded step again on the same
static buffers, so that the buffer handling can be checked on a machine without CUDA.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dbn.training._fused import FastCD

__all__ = ["CUDAGraphRecorder", "GraphedCD", "RerunRecorder"]


class CUDAGraphRecorder:
    """Captures a step as a CUDA graph on a side stream (PyTorch's recipe).

    Parameters
    ----------
    device : torch.device
        The CUDA device the step runs on.
    generator : torch.Generator
        A CUDA generator, registered with every captured graph so that each replay
        draws fresh random numbers from it.
    """

    def __init__(self, device: torch.device, generator: torch.Generator) -> None:
        if device.type != "cuda":
            raise ValueError("cuda_graph needs the RBM on a CUDA device")
        if not hasattr(torch.cuda.CUDAGraph, "register_generator_state"):
            raise RuntimeError("CUDA graphs with a private generator need a newer PyTorch")
        self.generator = generator
        self._stream = torch.cuda.Stream(device=device)

    def warm_up(self, step: Callable[[], Tensor]) -> Tensor:
        """Run ``step`` eagerly on the capture stream and return its result: it creates the
        momentum buffers and the library handles that a capture must not allocate."""
        self._stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self._stream):
            result = step()
        torch.cuda.current_stream().wait_stream(self._stream)
        return result

    def capture(self, step: Callable[[], object]) -> Callable[[], None]:
        """Record (not run) ``step``; returns the function that replays it."""
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(self.generator)
        with torch.cuda.graph(graph, stream=self._stream):
            step()
        return graph.replay


class RerunRecorder:
    """A stand-in for :class:`CUDAGraphRecorder` on any device: nothing is recorded, and
    each replay runs the step again, reading the same static buffers a graph would."""

    def warm_up(self, step: Callable[[], Tensor]) -> Tensor:
        return step()

    def capture(self, step: Callable[[], object]) -> Callable[[], None]:
        return step


class GraphedCD:
    """Replays ``FastCD.step`` + ``optimizer.step`` as one captured graph.

    Parameters
    ----------
    fast_cd : FastCD
    optimizer : torch.optim.Optimizer
    k : int
        Gibbs steps.
    generator : torch.Generator
        The sampling generator (on the RBM's device).
    recorder : CUDAGraphRecorder or RerunRecorder, optional
        Defaults to a :class:`CUDAGraphRecorder` for the RBM's device.
    """

    def __init__(
        self,
        fast_cd: FastCD,
        optimizer: torch.optim.Optimizer,
        k: int,
        generator: torch.Generator,
        recorder: CUDAGraphRecorder | RerunRecorder | None = None,
    ) -> None:
        self.fast_cd, self.optimizer, self.k, self.generator = fast_cd, optimizer, k, generator
        self.recorder = recorder or CUDAGraphRecorder(fast_cd.rbm.weight.device, generator)
        self._shape: tuple | None = None
        self._replay: Callable[[], None] | None = None
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

    def _static_step(self) -> None:
        """The step as captured: static inputs in, static output out."""
        self._negatives.copy_(self._eager(self._batch, self._chains))

    def _capture(self, batch: Tensor, chains: Tensor | None) -> None:
        self._batch = batch.clone()
        self._chains = None if chains is None else chains.clone()
        self._negatives = torch.empty_like(batch if chains is None else chains)
        self._replay = self.recorder.capture(self._static_step)
        self._key = self._hyperparameters()

    def step(self, batch: Tensor, chains: Tensor | None) -> Tensor:
        """One training step; returns the negative samples (the new chains for PCD)."""
        shape = tuple(batch.shape)
        if self._shape is None:
            self._shape = shape
            return self.recorder.warm_up(lambda: self._eager(batch, chains))
        if shape != self._shape:
            return self._eager(batch, chains)  # the last, partial batch of an epoch
        if self._replay is None or self._hyperparameters() != self._key:
            self._capture(batch, chains)
        self._batch.copy_(batch)
        if chains is not None:
            self._chains.copy_(chains)
        self._replay()
        return self._negatives.clone()
