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
    "rank_batches",
    "setup",
    "teardown",
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


def teardown(wait_for_all: bool = True) -> None:
    """Leave the process group, if this process joined one.

    A process that exits with its gloo group still alive is aborted by PyTorch
    (``terminate called without an active exception``), which fails the whole torchrun
    job; and ranks other than 0 finish early, while rank 0 still writes the outputs.

    Parameters
    ----------
    wait_for_all : bool
        Meet the other ranks at a barrier first, so no rank leaves before every rank is
        done. Pass ``False`` after an error, when the others may never arrive.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if wait_for_all:
        dist.barrier()
    dist.destroy_process_group()


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """The mean of ``value`` over all ranks (itself outside a distributed run)."""
    _, world_size = world()
    if world_size == 1:
        return value
    value = value.clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / world_size


def rank_batches(order: torch.Tensor, batch_size: int):
    """This rank's index batches for one epoch, from a shuffled ``order`` shared by all ranks.

    Outside a distributed run, consecutive slices of ``batch_size`` (the last may be
    short). Under torchrun, each global batch of ``batch_size × world_size`` indices is
    cut into one slice per rank, and an incomplete last global batch is dropped so that
    every rank takes the same number of steps.
    """
    rank, world_size = world()
    if world_size == 1:
        return (order[begin : begin + batch_size] for begin in range(0, len(order), batch_size))
    global_size = batch_size * world_size
    n_full = len(order) // global_size * global_size
    if n_full == 0:
        raise ValueError(
            f"{len(order)} examples cannot fill one global batch of {global_size} "
            f"({batch_size} per rank x {world_size} ranks); lower batch_size"
        )
    return (
        order[begin + rank * batch_size : begin + (rank + 1) * batch_size]
        for begin in range(0, n_full, global_size)
    )
