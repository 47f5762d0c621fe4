"""The fast CD/PCD step: the loss's gradient written straight into ``.grad``.

Autograd on ``contrastive_divergence_loss`` recomputes the positive-phase hidden
probabilities that the Gibbs chain already needs, and allocates every intermediate.
This step computes the same gradient by its closed form (Hinton 2002) ::

    ∂loss/∂W   = ⟨p(h|v) vᵀ⟩_model - ⟨p(h|v) vᵀ⟩_data
    ∂loss/∂b_h = ⟨p(h|v)⟩_model    - ⟨p(h|v)⟩_data
    ∂loss/∂b_v = ⟨v⟩_model         - ⟨v⟩_data          (Bernoulli and Gaussian alike)

into preallocated buffers, draws Bernoulli samples as ``uniform < p`` in place, and
consumes the generator in exactly the order of the plain path (``RBM.gibbs``), so both
paths give the same numbers for the same seed up to float rounding. Any
``torch.optim`` optimiser then takes the step.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dbn.rbm import RBM

__all__ = ["FastCD"]


def _threshold_(noise: Tensor, probs: Tensor) -> Tensor:
    """Overwrite uniform ``noise`` with ``1.0 where noise < probs else 0.0``.

    sign(p - u) clamped at 0 equals ``u < p`` exactly (x - y == 0 only when x == y in
    IEEE arithmetic) and runs several times faster than an in-place ``lt_``.
    """
    return torch.sub(probs, noise, out=noise).sign_().clamp_(min=0)


class FastCD:
    """Reusable buffers and the fused CD-k / PCD-k gradient for one RBM.

    Parameters
    ----------
    rbm : RBM
    """

    def __init__(self, rbm: RBM) -> None:
        self.rbm = rbm
        self._buffers: dict[tuple, Tensor] = {}

    def _buffer(self, name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
        key = (name, shape)
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = torch.empty(shape, device=like.device, dtype=like.dtype)
            self._buffers[key] = buffer
        return buffer

    def _hidden_probs(self, v: Tensor, name: str) -> Tensor:
        """Hidden probabilities in a reused buffer: (batch, n_hidden)."""
        rbm = self.rbm
        probs = self._buffer(f"{name}_probs", (v.shape[0], rbm.n_hidden), v)
        torch.addmm(rbm.hidden_bias, v, rbm.weight.T, out=probs)
        return probs.sigmoid_()

    def _sample_visible(self, h: Tensor, generator: torch.Generator | None) -> Tensor:
        rbm = self.rbm
        mean = self._buffer("visible_mean", (h.shape[0], rbm.n_visible), h)
        torch.addmm(rbm.visible_bias, h, rbm.weight, out=mean)
        sample = self._buffer("visible_sample", mean.shape, h)
        if rbm.visible == "bernoulli":
            mean.sigmoid_()
            return _threshold_(sample.uniform_(generator=generator), mean)
        return sample.normal_(generator=generator).add_(mean)

    @torch.no_grad()
    def step(
        self, v_data: Tensor, start: Tensor | None, k: int, generator: torch.Generator | None
    ) -> Tensor:
        """Run the chain, set the parameters' ``.grad`` and return the negative samples.

        Parameters
        ----------
        v_data : Tensor of shape (batch, n_visible)
        start : Tensor of shape (n_chains, n_visible) or None
            Persistent chains for PCD; ``None`` starts at ``v_data`` (CD), reusing the
            positive phase's hidden probabilities as the first Gibbs step's.
        k : int
            Gibbs steps.
        generator : torch.Generator, optional

        Returns
        -------
        Tensor of shape (n_chains, n_visible)
            The chain's final visible states (a fresh tensor: safe to keep as chains).
        """
        rbm = self.rbm
        data_probs = self._hidden_probs(v_data, "data")
        chain = v_data if start is None else start
        for step in range(k):
            if step == 0 and start is None:
                probs = data_probs
            else:
                probs = self._hidden_probs(chain, "chain")
            hidden = self._buffer("hidden_sample", probs.shape, probs)
            _threshold_(hidden.uniform_(generator=generator), probs)
            chain = self._sample_visible(hidden, generator)
        negatives = chain.clone()
        model_probs = self._hidden_probs(negatives, "model")

        n_data, n_model = v_data.shape[0], negatives.shape[0]
        for parameter in rbm.parameters():
            if parameter.grad is None:
                parameter.grad = torch.empty_like(parameter)
        grad_w = rbm.weight.grad
        torch.mm(model_probs.T, negatives, out=grad_w)
        grad_w.addmm_(data_probs.T, v_data, beta=1.0 / n_model, alpha=-1.0 / n_data)
        torch.sub(model_probs.mean(0), data_probs.mean(0), out=rbm.hidden_bias.grad)
        torch.sub(negatives.mean(0), v_data.mean(0), out=rbm.visible_bias.grad)

        return negatives
