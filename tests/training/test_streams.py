"""The sampling streams: PCG64's numbers against its raw bits, its state, the draws
that dispatch on the stream's kind, and the choice of stream."""

import numpy as np
import pytest
import torch

from dbn import RBM, TrainConfig
from dbn._utils.rng import categorical, resolve_rng
from dbn.training.rbm_trainer import RBMTrainer
from dbn.utils import PCG64Stream, new_generator


def raw_words(seed, n):
    """The first ``n`` 64-bit outputs of numpy's PCG64 seeded with ``seed``."""
    return np.random.PCG64(seed).random_raw(n).astype(np.uint64)


def test_float32_numbers_are_the_top_24_bits_of_each_half_of_a_64_bit_draw():
    words = raw_words(11, 500)
    halves = np.stack([words & 0xFFFFFFFF, words >> 32], axis=1).reshape(-1)  # low half first
    expected = torch.from_numpy((halves >> 8).astype(np.float64) * 2.0**-24).float()
    drawn = PCG64Stream(11).uniform_(torch.empty(10, 100))
    assert torch.equal(drawn.reshape(-1), expected)
    # so uniform < p is Bernoulli(p) exactly for float32 p, as with torch.rand: the
    # numbers are k / 2**24 for every k < 2**24 alike
    assert drawn.min() >= 0 and drawn.max() < 1


def test_float64_numbers_take_53_bits_of_one_draw_as_torch_rand_does():
    words = raw_words(5, 64)
    expected = torch.from_numpy((words >> 11).astype(np.float64) * 2.0**-53)
    assert torch.equal(PCG64Stream(5).uniform_(torch.empty(64, dtype=torch.float64)), expected)


def test_a_strided_tensor_is_filled_in_its_logical_order():
    strided = torch.empty(6, 4).T
    PCG64Stream(2).uniform_(strided)
    assert torch.equal(strided, PCG64Stream(2).uniform_(torch.empty(4, 6)))


def test_the_state_round_trips_between_the_halves_of_a_draw():
    stream = PCG64Stream(3)
    stream.uniform_(torch.empty(7))  # an odd count: the next number is a kept half
    state = stream.get_state()
    ahead = stream.uniform_(torch.empty(9))
    other = PCG64Stream(0)
    other.set_state(state)
    assert torch.equal(other.uniform_(torch.empty(9)), ahead)
    with pytest.raises(ValueError, match="saved by another kind of generator"):
        other.set_state(new_generator(0).get_state())


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.int64])
def test_other_dtypes_are_refused(dtype):
    with pytest.raises(ValueError, match="float32 or float64 CPU tensors"):
        PCG64Stream(0).uniform_(torch.empty(3, dtype=dtype))


@pytest.mark.parametrize("generator", [new_generator(4), PCG64Stream(4)])
def test_categorical_draws_follow_the_probabilities_and_never_an_impossible_class(generator):
    probs = torch.tensor([0.5, 0.0, 0.3, 0.2]).repeat(20000, 1)
    drawn = categorical(probs, generator)
    counts = torch.bincount(drawn, minlength=4).double() / len(drawn)
    assert counts[1] == 0
    # four standard errors of a proportion from 20,000 draws: about 0.014
    assert torch.allclose(counts, probs[0].double(), atol=0.014), counts


def test_auto_takes_pcg64_on_the_cpu_and_pcg64_is_refused_elsewhere():
    assert resolve_rng("auto", torch.device("cpu")) == "pcg64"
    assert resolve_rng("torch", torch.device("cpu")) == "torch"
    with pytest.raises(ValueError, match="rng 'pcg64' draws on the CPU"):
        resolve_rng("pcg64", torch.device("cuda"))
    with pytest.raises(ValueError, match="rng must be one of"):
        TrainConfig(rng="mt19937")


@pytest.mark.parametrize("rng", ["torch", "pcg64"])
def test_the_stream_that_ran_is_in_every_row_and_streams_differ(rng):
    x = torch.bernoulli(torch.full((200, 16), 0.3), generator=new_generator(0))
    weights = {}
    for name in (rng, "pcg64" if rng == "torch" else "torch"):
        trainer = RBMTrainer(RBM(16, 8), TrainConfig(epochs=2, rng=name), seed=1)
        history = trainer.fit(x, progress=False)
        assert [row["rng"] for row in history] == [name, name]
        weights[name] = trainer.rbm.weight
    assert not torch.equal(weights["torch"], weights["pcg64"])
