"""Data-parallel training on PyTorch's own engine (``torch.distributed`` + DDP).

Launch any script under ``torchrun --nproc_per_node=N`` (add ``--nnodes`` and a
rendezvous endpoint for several machines). Every rank holds the data set and shuffles
it with the same seed; each global batch of ``batch_size × world_size`` examples is cut
into one slice per rank, and DDP averages the gradients, so a step is the step one
process would take on the whole global batch. Use the learning rate that suits that
global batch size; nothing is rescaled behind your back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = [
    "DistributedContext",
    "all_reduce_mean",
    "is_main_process",
    "local_slice",
    "setup",
    "world",
]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits: ``rank`` of ``world_size``, on ``device``."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world() -> tuple[int, int]:
    """(rank, world_size); (0, 1) outside a distributed run."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    return world()[0] == 0


def setup(device: torch.device) -> DistributedContext:
    """Join the process group that torchrun describes in the environment, if any.

    Parameters
    ----------
    device : torch.device
        The requested device; under torchrun with CUDA each rank takes
        ``cuda:LOCAL_RANK``.

    Returns
    -------
    DistributedContext
        ``world_size == 1`` (and no process group) when not launched by torchrun.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedContext(0, 1, device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    return DistributedContext(dist.get_rank(), dist.get_world_size(), device)


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """The mean of ``value`` over all ranks (itself outside a distributed run)."""
    _, world_size = world()
    if world_size == 1:
        return value
    value = value.clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / world_size


def local_slice(indices: torch.Tensor, per_rank: int) -> torch.Tensor:
    """This rank's part of one global batch of indices."""
    rank, _ = world()
    return indices[rank * per_rank : (rank + 1) * per_rank]
