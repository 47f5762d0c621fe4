"""Sampling noise from numpy's PCG64: the CPU stream of ``TrainConfig(rng="pcg64")``.

torch draws CPU uniform numbers from one Mersenne Twister, one 32-bit output per
float32 number, on one thread: a large share of a fused CD step at MNIST's shapes.
numpy's PCG64 gives 64 bits per call and its float32 ``random`` splits each 64-bit
output into two 32-bit halves, keeping the top 24 bits of each: ``k * 2**-24`` for a
uniform integer ``k < 2**24``, the grid and distribution of ``torch.rand`` in float32,
so ``uniform < p`` is exactly Bernoulli(p) for every ``p`` on that grid (the float32
probabilities), from half as many generator calls (``studies/bench.py --noise`` times
both streams). float64 numbers take 53 bits of one output, as ``torch.rand`` does in
float64.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["PCG64Stream"]

# PCG64's state as bytes: the 128-bit state and increment, the flag and value of the
# buffered 32-bit half (what the next float32 number takes when the flag is set).
_FIELDS = (("state", 16), ("inc", 16), ("has_uint32", 1), ("uinteger", 4))
STATE_BYTES = sum(size for _, size in _FIELDS)


class PCG64Stream:
    """A seeded CPU stream of uniform and normal numbers that fills tensors in place.

    dbn's sampling functions take it wherever they take a ``torch.Generator``
    (:func:`dbn.models.rbm.bernoulli_sample`, :meth:`dbn.RBM.gibbs`, the trainers'
    steps); torch's own functions do not.

    Parameters
    ----------
    seed : int
        Any non-negative integer; numpy's ``SeedSequence`` spreads it over the state.

    Examples
    --------
    >>> import torch
    >>> from dbn.utils import PCG64Stream
    >>> first = PCG64Stream(7).uniform_(torch.empty(2, 3))
    >>> torch.equal(first, PCG64Stream(7).uniform_(torch.empty(2, 3)))
    True
    >>> bool(((first * 2**24) % 1 == 0).all())  # on torch.rand's float32 grid
    True
    """

    device = torch.device("cpu")

    def __init__(self, seed: int) -> None:
        self.manual_seed(seed)

    def manual_seed(self, seed: int) -> PCG64Stream:
        """Restart the stream at ``seed``; returns the stream."""
        self._numpy = np.random.Generator(np.random.PCG64(seed))
        return self

    def uniform_(self, out: Tensor) -> Tensor:
        """Fill ``out`` (CPU, float32 or float64) with uniform numbers in [0, 1)."""
        return self._fill(out, self._numpy.random)

    def normal_(self, out: Tensor) -> Tensor:
        """Fill ``out`` (CPU, float32 or float64) with standard normal numbers."""
        return self._fill(out, self._numpy.standard_normal)

    def randint(self, high: int, size: tuple[int, ...]) -> Tensor:
        """Integers uniform on ``[0, high)``, int64, of shape ``size``."""
        return torch.from_numpy(self._numpy.integers(0, high, size=size, dtype=np.int64))

    def _fill(self, out: Tensor, draw) -> Tensor:
        if out.device.type != "cpu" or out.dtype not in (torch.float32, torch.float64):
            raise ValueError(
                f"the pcg64 stream fills float32 or float64 CPU tensors, got {out.dtype} on "
                f"{out.device}; use rng='torch' on other devices"
            )
        contiguous = out.is_contiguous()
        target = out if contiguous else torch.empty_like(out, memory_format=torch.contiguous_format)
        array = target.detach().numpy().reshape(-1)  # a view: numpy writes into the tensor
        draw(out=array, dtype=array.dtype)
        if not contiguous:
            out.copy_(target)
        return out

    def get_state(self) -> Tensor:
        """The stream's state as a uint8 tensor (what :meth:`set_state` takes)."""
        state = self._numpy.bit_generator.state
        values = {**state["state"], **{name: state[name] for name in ("has_uint32", "uinteger")}}
        packed = b"".join(int(values[name]).to_bytes(size, "little") for name, size in _FIELDS)
        return torch.frombuffer(bytearray(packed), dtype=torch.uint8)

    def set_state(self, state: Tensor) -> None:
        """Continue from a state that :meth:`get_state` returned."""
        if state.dtype != torch.uint8 or state.numel() != STATE_BYTES:
            raise ValueError(
                f"a pcg64 stream's state is {STATE_BYTES} bytes (uint8), got {state.numel()} "
                f"values of {state.dtype}: it was saved by another kind of generator"
            )
        packed, values, begin = bytes(state.tolist()), {}, 0
        for name, size in _FIELDS:
            values[name] = int.from_bytes(packed[begin : begin + size], "little")
            begin += size
        self._numpy.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": values["state"], "inc": values["inc"]},
            "has_uint32": values["has_uint32"],
            "uinteger": values["uinteger"],
        }
