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

The weight gradient is one matrix product: the data and model rows are stacked, with
the scales ``-1/n_data`` and ``1/n_model`` folded into the hidden side, so the
difference of the two statistics is accumulated inside the product. In bfloat16 or
float16 that difference is rounded once, instead of the two large, nearly equal
terms being rounded and then subtracted.

The penalties of :class:`dbn.training.objectives.RBMObjective` have closed forms too: the L1 cost
adds ``l1 · sign(W)`` to the weight gradient, and the sparsity target ``p`` with cost
``c`` adds ``c (q - p)`` per data row to the hidden side (``q = p(h|v_data)``), which
folds into the same product as the data rows' scale ``(c - 1) q - c p``.

The three products (the hidden and visible sides' and the weight gradient's) run by the
routes of :class:`dbn._utils.products.Products`: MKL's or oneDNN's, whichever this
CPU runs faster (``matmul``).

With a ``compute_dtype`` below the parameters' own (mixed precision), the chain and the
products run in that dtype on cast copies of the parameters, while the parameters,
their gradients and the optimiser stay in full precision.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dbn._utils.products import Products
from dbn._utils.rng import Stream, normal_, uniform_
from dbn.models.rbm import RBM, noise_dtype

__all__ = ["FastCD"]


def _threshold(noise: Tensor, probs: Tensor, out: Tensor) -> Tensor:
    """``1.0 where noise < probs else 0.0`` into ``out`` (``noise`` itself, or a tensor
    of its dtype).

    sign(p - u) clamped at 0 equals ``u < p`` exactly (x - y == 0 only when x == y in
    IEEE arithmetic) and runs several times faster than an in-place ``lt_``.
    """
    return torch.sub(probs, noise, out=out).sign_().clamp_(min=0)


class FastCD:
    """Reusable buffers and the fused CD-k / PCD-k gradient for one RBM.

    Parameters
    ----------
    rbm : RBM
    compute_dtype : torch.dtype, optional
        The dtype of the chain and of the products; defaults to the parameters' dtype.
        ``torch.bfloat16`` or ``torch.float16`` give mixed precision.
    l1 : float
        L1 weight cost (as :func:`dbn.training.objectives.weight_l1_penalty`).
    sparsity_target : float, optional
        Target hidden probability of
        :func:`dbn.training.objectives.sparsity_penalty`; None for none.
    sparsity_cost : float
        Weight of the sparsity penalty.
    persist : {"visible", "hidden"}
        The layer whose states PCD chains keep between steps (see
        :class:`dbn.training.TrainConfig`'s ``persist``): ``step``'s ``start`` and return
        value are visible or hidden states.
    matmul : {"auto", "mm", "onednn"}
        The products' route (:class:`dbn._utils.products.Products`).
    routes : dict of str to str, optional
        Routes already chosen (a resumed run's), by product: ``"hidden"``,
        ``"visible"``, ``"gradient"``.
    """

    def __init__(
        self,
        rbm: RBM,
        compute_dtype: torch.dtype | None = None,
        l1: float = 0.0,
        sparsity_target: float | None = None,
        sparsity_cost: float = 0.0,
        persist: str = "visible",
        matmul: str = "auto",
        routes: dict[str, str] | None = None,
    ) -> None:
        self.rbm = rbm
        self.products = Products(matmul, routes)
        self.persist = persist
        self.compute_dtype = compute_dtype or rbm.weight.dtype
        self.l1 = l1
        self.sparsity = (
            (sparsity_target, sparsity_cost)
            if sparsity_target is not None and sparsity_cost > 0
            else None
        )
        self._buffers: dict[tuple, Tensor] = {}

    def _buffer(
        self, name: str, shape: tuple[int, ...], like: Tensor, dtype: torch.dtype | None = None
    ) -> Tensor:
        """A tensor of ``shape`` kept between steps on ``like``'s device, in ``dtype``
        (default ``compute_dtype``)."""
        key = (name, shape)
        buffer = self._buffers.get(key)
        if buffer is None:
            dtype = dtype or self.compute_dtype
            buffer = torch.empty(shape, device=like.device, dtype=dtype)
            self._buffers[key] = buffer
        return buffer

    def _sample(
        self,
        name: str,
        mean: Tensor,
        bernoulli: bool,
        generator: Stream | None,
        out: Tensor | None = None,
    ) -> Tensor:
        """Bernoulli(mean) or N(mean, 1) samples in ``compute_dtype``, with the noise drawn
        in at least float32 (see :func:`dbn.models.rbm.noise_dtype`), into ``out`` (the
        chains' rows of the stacked buffer) when given: copied there in mixed precision,
        written there directly otherwise."""
        noise = self._buffer(f"{name}_noise", tuple(mean.shape), mean, noise_dtype(mean.dtype))
        direct = out is not None and out.dtype == noise.dtype
        target = out if direct else noise
        if bernoulli:
            _threshold(uniform_(noise, generator), mean, target)
        else:
            torch.add(normal_(noise, generator), mean, out=target)
        if direct:
            return out
        if out is not None:
            return out.copy_(noise)
        return self._in_compute_dtype(name, noise)

    def _in_compute_dtype(self, name: str, tensor: Tensor) -> Tensor:
        """``tensor`` itself when it has the compute dtype, else a copy in a reused buffer."""
        if tensor.dtype == self.compute_dtype:
            return tensor
        return self._buffer(name, tuple(tensor.shape), tensor).copy_(tensor)

    def _hidden_probs(self, v: Tensor, weight: Tensor, bias: Tensor, out: Tensor) -> Tensor:
        """p(h=1 | v) into ``out``: (batch, n_hidden)."""
        return self.products.linear("hidden", v, weight, bias, out).sigmoid_()

    def _sample_visible(
        self,
        h: Tensor,
        weight: Tensor,
        bias: Tensor,
        generator: Stream | None,
        out: Tensor | None = None,
    ) -> Tensor:
        mean = self._buffer("visible_mean", (h.shape[0], self.rbm.n_visible), h)
        self.products.linear("visible", h, weight.T, bias, mean)
        bernoulli = self.rbm.visible == "bernoulli"
        if bernoulli:
            mean.sigmoid_()
        return self._sample("visible_sample", mean, bernoulli, generator, out)

    @torch.no_grad()
    def step(
        self, v_data: Tensor, start: Tensor | None, k: int, generator: Stream | None
    ) -> Tensor:
        """Run the chain, set the parameters' ``.grad`` and return the chains' new states.

        Parameters
        ----------
        v_data : Tensor of shape (batch, n_visible)
        start : Tensor of shape (n_chains, n_visible) or (n_chains, n_hidden), or None
            Persistent chains for PCD, in the layer that ``persist`` names; ``None``
            starts at ``v_data`` (CD), reusing the positive phase's hidden probabilities
            as the first Gibbs step's.
        k : int
            Gibbs steps.
        generator : torch.Generator, optional

        Returns
        -------
        Tensor of shape (n_chains, n_visible) or (n_chains, n_hidden)
            The chain's final visible states, or for hidden chains the hidden states
            drawn from the last ones, in ``v_data``'s dtype (a fresh tensor: safe to
            keep as chains).
        """
        if start is not None and self.persist == "hidden":
            return self._step_from_hidden(v_data, start, k, generator)
        rbm = self.rbm
        weight, hidden_bias, visible_bias = self._parameters()
        data = self._in_compute_dtype("data", v_data)
        chain = data if start is None else self._in_compute_dtype("start", start)
        n_data, n_model = data.shape[0], chain.shape[0]
        stacked_visible, stacked_hidden = self._stacked(data, n_model)
        data_probs, model_probs = stacked_hidden[:n_data], stacked_hidden[n_data:]
        negatives = stacked_visible[n_data:]
        if start is None:
            self._hidden_probs(data, weight, hidden_bias, out=data_probs)
        else:
            # the data and the chains go up in one product, the chains' probabilities
            # held in the model rows until the chain's end overwrites them: one larger
            # product runs faster than two small ones
            negatives.copy_(chain)
            self._hidden_probs(stacked_visible, weight, hidden_bias, out=stacked_hidden)
        for step in range(k):
            if step == 0:
                probs = data_probs if start is None else model_probs
            else:
                probs = self._buffer("chain_probs", (n_model, rbm.n_hidden), data)
                self._hidden_probs(chain, weight, hidden_bias, out=probs)
            hidden = self._sample("hidden_sample", probs, True, generator)
            # sampled straight into the chains' rows of the stacked buffer
            chain = self._sample_visible(hidden, weight, visible_bias, generator, negatives)
        self._hidden_probs(negatives, weight, hidden_bias, out=model_probs)
        self._write_gradients(data, stacked_visible, stacked_hidden)
        return negatives.to(v_data.dtype, copy=True)

    def _step_from_hidden(
        self, v_data: Tensor, start: Tensor, k: int, generator: Stream | None
    ) -> Tensor:
        """:meth:`step` for chains kept as hidden states: down first, then the data and
        the chains' last visible states up in one product (five products' work for
        PCD-1 where visible chains take six)."""
        rbm = self.rbm
        weight, hidden_bias, visible_bias = self._parameters()
        data = self._in_compute_dtype("data", v_data)
        hidden = self._in_compute_dtype("start", start)
        n_data, n_model = data.shape[0], hidden.shape[0]
        stacked_visible, stacked_hidden = self._stacked(data, n_model)
        model_probs, negatives = stacked_hidden[n_data:], stacked_visible[n_data:]
        chain = self._sample_visible(hidden, weight, visible_bias, generator, negatives)
        for _ in range(k - 1):
            probs = self._buffer("chain_probs", (n_model, rbm.n_hidden), data)
            self._hidden_probs(chain, weight, hidden_bias, out=probs)
            hidden = self._sample("hidden_sample", probs, True, generator)
            chain = self._sample_visible(hidden, weight, visible_bias, generator, negatives)
        self._hidden_probs(stacked_visible, weight, hidden_bias, out=stacked_hidden)
        kept = self._sample("hidden_sample", model_probs, True, generator)
        kept = kept.to(v_data.dtype, copy=True)  # the sample's buffer is reused next step
        self._write_gradients(data, stacked_visible, stacked_hidden)
        return kept

    def _parameters(self) -> tuple[Tensor, Tensor, Tensor]:
        """The weight, hidden and visible biases in ``compute_dtype``."""
        rbm = self.rbm
        return (
            self._in_compute_dtype("weight", rbm.weight),
            self._in_compute_dtype("hidden_bias", rbm.hidden_bias),
            self._in_compute_dtype("visible_bias", rbm.visible_bias),
        )

    def _stacked(self, data: Tensor, n_model: int) -> tuple[Tensor, Tensor]:
        """The stacked visible and hidden rows, ``(n_data + n_model, n_visible)`` and
        ``(n_data + n_model, n_hidden)``: the data's first (copied into the visible
        rows here), the chains' after them."""
        rows = data.shape[0] + n_model
        stacked_visible = self._buffer("stacked_visible", (rows, self.rbm.n_visible), data)
        stacked_hidden = self._buffer("stacked_hidden", (rows, self.rbm.n_hidden), data)
        stacked_visible[: data.shape[0]].copy_(data)
        return stacked_visible, stacked_hidden

    def _row_scales(self, n_data: int, n_model: int, like: Tensor) -> Tensor:
        """``-1/n_data`` for each data row, ``1/n_model`` for each chain, in full precision."""
        key = ("row_scales", (n_data, n_model))
        scales = self._buffers.get(key)
        if scales is None:
            scales = torch.full(
                (n_data + n_model,), 1.0 / n_model, device=like.device, dtype=self.rbm.weight.dtype
            )
            scales[:n_data] = -1.0 / n_data
            self._buffers[key] = scales
        return scales

    def _write_gradients(
        self, data: Tensor, stacked_visible: Tensor, stacked_hidden: Tensor
    ) -> None:
        """Set every parameter's ``.grad`` from the stacked rows: the data's visible
        states and hidden probabilities first, the chains' after them."""
        rbm = self.rbm
        n_data = data.shape[0]
        n_model = stacked_visible.shape[0] - n_data
        data_probs, model_probs = stacked_hidden[:n_data], stacked_hidden[n_data:]
        for parameter in rbm.parameters():
            if parameter.grad is None:
                parameter.grad = torch.empty_like(parameter)
        full = rbm.weight.dtype  # the bias statistics are accumulated in full precision
        if self.sparsity is None:
            data_probs.mul_(-1.0 / n_data)
        else:
            target, cost = self.sparsity
            data_probs.mul_((cost - 1.0) / n_data).sub_(cost * target / n_data)
        model_probs.mul_(1.0 / n_model)
        # both bias gradients from the scaled rows: the hidden one is the scaled rows'
        # sum (the sparsity term included), the visible one the visible rows weighted by
        # the same -1/n_data, 1/n_model scales
        torch.sum(stacked_hidden, 0, dtype=full, out=rbm.hidden_bias.grad)
        scales = self._row_scales(n_data, n_model, stacked_visible)
        torch.mv(stacked_visible.T.to(full), scales, out=rbm.visible_bias.grad)
        hidden_side, visible_side = stacked_hidden.T, stacked_visible.T
        if self.compute_dtype == full:
            self.products.linear("gradient", hidden_side, visible_side, None, rbm.weight.grad)
        else:
            product = self._buffer("weight_grad", tuple(rbm.weight.shape), data)
            self.products.linear("gradient", hidden_side, visible_side, None, product)
            rbm.weight.grad.copy_(product)
        if self.l1 > 0:
            rbm.weight.grad.add_(rbm.weight.sign(), alpha=self.l1)
