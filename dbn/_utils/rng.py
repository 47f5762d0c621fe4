"""The project's one convention for randomness.

Every random function takes a ``generator=`` (a ``torch.Generator``), and library code
never reseeds PyTorch's global generator. Where one seed has to feed several
independent streams (shuffling, sampling, monitoring), each stream's generator is
seeded with ``seed + stride * index`` for a stride named here: strides are primes,
far apart, so that the streams of nearby seeds (0, 1, 2, ...) never share a seed.

The one consumer torch gives no generator argument is ``nn.Dropout``: it draws from
the global generator. :func:`scoped_global_seed` seeds that generator inside a
``torch.random.fork_rng`` block, so a call neither depends on nor changes the caller's
global random state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = [
    "MONITOR_SEED_STRIDE",
    "SAMPLING_SEED_STRIDE",
    "SUBSET_SEED_STRIDE",
    "derive_seed",
    "new_generator",
    "scoped_global_seed",
]

# Gibbs sampling of rank r uses seed + SAMPLING_SEED_STRIDE * (r + 1); the shuffle uses
# the seed itself, identical on every rank.
SAMPLING_SEED_STRIDE = 7919
# Epoch e's monitoring subset draws (pseudo-likelihood's flipped units) use
# seed * MONITOR_SEED_STRIDE + e, a stream that never meets the sampling one.
MONITOR_SEED_STRIDE = 100003
# The label-budget study draws seed s's labelled subset of size n with
# seed * SUBSET_SEED_STRIDE + n, apart from the seed s that initialises and shuffles.
SUBSET_SEED_STRIDE = 1000003


def new_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``.

    Examples
    --------
    >>> import torch
    >>> from dbn.utils import new_generator
    >>> first = torch.rand(3, generator=new_generator(7))
    >>> torch.equal(first, torch.rand(3, generator=new_generator(7)))
    True
    """
    return torch.Generator(device).manual_seed(seed)


def derive_seed(generator: torch.Generator) -> int:
    """A 62-bit seed drawn from ``generator`` (to seed a stream derived from it)."""
    return int(torch.randint(2**62, (1,), generator=generator, device=generator.device))


@contextlib.contextmanager
def scoped_global_seed(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Seed the global generators for the block, then restore the caller's state.

    Parameters
    ----------
    seed : int
    device : torch.device or str
        A CUDA device's generator is forked and seeded too.

    Examples
    --------
    >>> import torch
    >>> from dbn.utils import scoped_global_seed
    >>> before = torch.random.get_rng_state()
    >>> with scoped_global_seed(3):
    ...     first = torch.rand(2)
    >>> with scoped_global_seed(3):
    ...     second = torch.rand(2)
    >>> torch.equal(first, second), torch.equal(torch.random.get_rng_state(), before)
    (True, True)
    """
    device = torch.device(device)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.default_generator.manual_seed(seed)
        if devices:
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        yield
