"""The project's one convention for randomness.

Every random function takes a ``generator=`` (a ``torch.Generator``), and library code
never reseeds PyTorch's global generator. Where one seed has to feed several
independent streams (shuffling, sampling, monitoring), each stream's generator is
seeded with ``seed + stride * index`` for a stride named here: strides are primes,
far apart, so that the streams of nearby seeds (0, 1, 2, ...) never share a seed.

Sampling noise has two streams (``TrainConfig.rng``): a ``torch.Generator``, or a
:class:`~dbn._utils.pcg64.PCG64Stream`, faster on the CPU. dbn's sampling functions take
either as their ``generator=`` and draw through :func:`uniform_`, :func:`normal_`,
:func:`rand`, :func:`bernoulli`, :func:`categorical` and :func:`randint`, which
dispatch on its kind.

The one consumer torch gives no generator argument is ``nn.Dropout``: it draws from
the global generator. :func:`scoped_global_seed` seeds that generator inside a
``torch.random.fork_rng`` block, so a call neither depends on nor changes the caller's
global random state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor

from dbn._utils.pcg64 import PCG64Stream

__all__ = [
    "MONITOR_SEED_STRIDE",
    "Stream",
    "bernoulli",
    "categorical",
    "RNG_STREAMS",
    "SAMPLING_SEED_STRIDE",
    "SUBSET_SEED_STRIDE",
    "derive_seed",
    "new_generator",
    "noise_dtype",
    "normal_",
    "rand",
    "randint",
    "resolve_rng",
    "sampling_stream",
    "scoped_global_seed",
    "uniform_",
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


def derive_seed(generator: Stream) -> int:
    """A 62-bit seed drawn from ``generator`` (to seed a stream derived from it)."""
    return int(randint(2**62, (1,), generator, generator.device))


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


# --- the sampling streams: torch's generator or PCG64 -----------------------------------

# TrainConfig.rng: "torch" draws from a torch.Generator on the training device, as every
# run did before the choice existed (configs saved then load as "torch"); "pcg64" from
# numpy's PCG64 on the CPU; "auto" takes "pcg64" on the CPU and "torch" elsewhere.
RNG_STREAMS = ("auto", "torch", "pcg64")

Stream = torch.Generator | PCG64Stream


def resolve_rng(rng: str, device: torch.device) -> str:
    """The stream ``rng`` names on ``device``: ``"torch"`` or ``"pcg64"``.

    Examples
    --------
    >>> import torch
    >>> resolve_rng("auto", torch.device("cpu")), resolve_rng("auto", torch.device("cuda"))
    ('pcg64', 'torch')
    """
    if rng == "auto":
        return "pcg64" if device.type == "cpu" else "torch"
    if rng == "pcg64" and device.type != "cpu":
        raise ValueError(
            f"rng 'pcg64' draws on the CPU; on {device.type} use rng='torch' (or 'auto')"
        )
    return rng


def sampling_stream(rng: str, seed: int, device: torch.device) -> Stream:
    """A new stream of kind ``rng`` (resolved by :func:`resolve_rng`) seeded with ``seed``."""
    if resolve_rng(rng, device) == "pcg64":
        return PCG64Stream(seed)
    return new_generator(seed, device)


def noise_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype to draw sampling noise in: at least float32.

    Uniform numbers drawn in bfloat16 are 0 with probability about 2e-3, so
    ``uniform < p`` would switch on units whose probability is far smaller, a bias
    that costs an MNIST RBM several nats of log-likelihood; float16 has the same flaw
    at about 2e-4.
    """
    return torch.promote_types(dtype, torch.float32)


def uniform_(out: Tensor, generator: Stream | None = None) -> Tensor:
    """Fill ``out`` with uniform numbers in [0, 1) from ``generator``; returns ``out``."""
    if isinstance(generator, PCG64Stream):
        return generator.uniform_(out)
    return out.uniform_(generator=generator)


def normal_(out: Tensor, generator: Stream | None = None) -> Tensor:
    """Fill ``out`` with standard normal numbers from ``generator``; returns ``out``."""
    if isinstance(generator, PCG64Stream):
        return generator.normal_(out)
    return out.normal_(generator=generator)


def rand(
    shape: tuple[int, ...], generator: Stream | None, device: torch.device, dtype: torch.dtype
) -> Tensor:
    """A new tensor of uniform numbers in [0, 1), as ``torch.rand`` draws them."""
    return uniform_(torch.empty(shape, device=device, dtype=dtype), generator)


def bernoulli(probs: Tensor, generator: Stream | None = None) -> Tensor:
    """Binary samples with P(1) = ``probs``: ``torch.bernoulli`` for a ``torch.Generator``
    (its stream as it always was), ``uniform < probs`` for a PCG64 stream."""
    if isinstance(generator, PCG64Stream):
        noise = rand(probs.shape, generator, probs.device, noise_dtype(probs.dtype))
        return (noise < probs).to(probs.dtype)
    return torch.bernoulli(probs, generator=generator)


def categorical(probs: Tensor, generator: Stream | None = None) -> Tensor:
    """One class index per row of ``probs`` (batch, n_classes; rows summing to 1), int64:
    ``torch.multinomial`` for a ``torch.Generator``, the inverse of the cumulative
    distribution at one uniform number per row for a PCG64 stream."""
    if isinstance(generator, PCG64Stream):
        cumulative = probs.double().cumsum(1)
        uniform = rand((len(probs), 1), generator, probs.device, torch.float64)
        below = (cumulative <= uniform * cumulative[:, -1:]).sum(1)
        return below.clamp_(max=probs.shape[1] - 1)
    return torch.multinomial(probs.float(), 1, generator=generator).squeeze(1)


def randint(
    high: int, shape: tuple[int, ...], generator: Stream | None, device: torch.device
) -> Tensor:
    """Integers uniform on ``[0, high)`` (int64) on ``device``, as ``torch.randint`` draws them."""
    if isinstance(generator, PCG64Stream):
        return generator.randint(high, shape).to(device)
    return torch.randint(high, shape, generator=generator, device=device)
