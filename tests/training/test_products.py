"""The product routes of the fused step and of fine-tuning's ``Linear`` layers: both
compute the same products, ``"auto"`` takes oneDNN only where it measured clearly
faster, and a run keeps the routes it recorded."""

import pytest
import torch
from helpers import binary_digits, without_timings

from dbn import RBM, FinetuneConfig, TrainConfig, load_digits
from dbn._utils import products as _products
from dbn._utils.products import (
    LinearRoutes,
    Products,
    check_matmul_device,
    linear_routes_for,
    onednn_available,
)
from dbn.models import build_mlp
from dbn.training import FinetuneTrainer
from dbn.training._fused import FastCD
from dbn.training.rbm_trainer import RBMTrainer

needs_onednn = pytest.mark.skipif(not onednn_available(), reason="this torch has no oneDNN")
# the step's three layouts at MNIST's shapes: (input, weight) as FastCD passes them,
# the weight's transposed view and the gradient's two transposed views read in place
LAYOUTS = {
    "hidden": lambda v, w, h: (v, w),
    "visible": lambda v, w, h: (h, w.T),
    "gradient": lambda v, w, h: (h.T, v.T),
}


def operands(dtype=torch.float32):
    generator = torch.Generator().manual_seed(0)
    v = torch.rand(120, 784, generator=generator).to(dtype)
    w = (torch.randn(500, 784, generator=generator) * 0.05).to(dtype)
    h = torch.rand(120, 500, generator=generator).to(dtype)
    return v, w, h


@needs_onednn
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("name", LAYOUTS)
@pytest.mark.parametrize("bias", [False, True])
def test_every_route_computes_the_product(name, bias, dtype):
    x, weight = LAYOUTS[name](*operands(dtype))
    b = torch.linspace(-1, 1, weight.shape[0]).to(dtype) if bias else None
    exact = x.double() @ weight.double().T + (0 if b is None else b.double())
    scale = exact.abs().max().item()
    tolerance = {torch.float32: 1e-5, torch.bfloat16: 2e-2}[dtype]
    for route in ("mm", "onednn"):
        out = torch.full((x.shape[0], weight.shape[0]), float("nan"), dtype=dtype)
        got = Products(route).linear(name, x, weight, b, out)
        assert got is out
        assert (out.double() - exact).abs().max().item() <= tolerance * scale, route


def test_products_too_small_to_time_keep_mm_without_timing(monkeypatch):
    monkeypatch.setattr(_products, "_timed_choice", pytest.fail)
    x, weight = torch.rand(10, 64), torch.rand(16, 64)
    products = Products("auto")
    products.linear("hidden", x, weight, None, torch.empty(10, 16))
    assert products.routes == {"hidden": "mm"}


def test_without_onednn_auto_keeps_mm(monkeypatch):
    monkeypatch.setattr(_products, "onednn_available", lambda: False)
    monkeypatch.setattr(_products, "_timed_choice", pytest.fail)
    v, w, _ = operands()
    products = Products("auto")
    products.linear("hidden", v, w, None, torch.empty(120, 500))
    assert products.routes == {"hidden": "mm"}


@needs_onednn
@pytest.mark.parametrize(
    "mm_seconds, onednn_seconds, chosen",
    [(2.0, 1.0, "onednn"), (1.1, 1.0, "mm"), (1.0, 2.0, "mm")],
)
def test_auto_takes_onednn_only_where_it_is_clearly_faster(
    monkeypatch, mm_seconds, onednn_seconds, chosen
):
    # the clock is the test's: each route's calls report the seconds given here
    seconds = {"mm": mm_seconds, "onednn": onednn_seconds}
    monkeypatch.setattr(_products, "_seconds", lambda route, args, repeats=3: seconds[route])
    monkeypatch.setattr(_products, "_CHOSEN", {})
    v, w, _ = operands()
    products = Products("auto")
    products.linear("hidden", v, w, None, torch.empty(120, 500))
    assert products.routes == {"hidden": chosen}
    # cached for the process: another step of the same shapes does not time again
    monkeypatch.setattr(_products, "_seconds", pytest.fail)
    again = Products("auto")
    again.linear("hidden", v, w, None, torch.empty(120, 500))
    assert again.routes == {"hidden": chosen}


@needs_onednn
def test_a_route_that_fails_on_this_build_falls_back_to_mm(monkeypatch):
    def refuse(x, weight, bias, out):
        raise RuntimeError("unsupported")

    monkeypatch.setitem(_products._PRODUCT, "onednn", refuse)
    monkeypatch.setattr(_products, "_CHOSEN", {})
    v, w, _ = operands()
    products = Products("auto")
    out = products.linear("hidden", v, w, None, torch.empty(120, 500))
    assert products.routes == {"hidden": "mm"}
    torch.testing.assert_close(out, v @ w.T)


def test_a_pinned_onednn_is_refused_where_it_cannot_run(monkeypatch):
    with pytest.raises(ValueError, match="matmul 'onednn' runs on the CPU, not on 'meta'"):
        check_matmul_device("onednn", torch.device("meta"))
    monkeypatch.setattr(_products, "onednn_available", lambda: False)
    with pytest.raises(ValueError, match="needs oneDNN, which this torch build lacks"):
        RBMTrainer(RBM(64, 8), TrainConfig(matmul="onednn"))


@needs_onednn
def test_the_fused_gradient_agrees_across_routes():
    rbm = RBM(784, 500, generator=torch.Generator().manual_seed(0))
    data = (torch.rand(100, 784, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    chains = (torch.rand(100, 784, generator=torch.Generator().manual_seed(2)) < 0.3).float()
    gradients = {}
    for route in ("mm", "onednn"):
        fast = FastCD(rbm, matmul=route)
        negatives = fast.step(data, chains, 1, torch.Generator().manual_seed(3))
        assert fast.products.routes == dict.fromkeys(LAYOUTS, route)
        gradients[route] = [p.grad.clone() for p in rbm.parameters()] + [negatives]
    # one float32 rounding apart; a sample may flip where u and p meet within it
    for by_mm, by_onednn in zip(gradients["mm"][:3], gradients["onednn"][:3], strict=True):
        torch.testing.assert_close(by_onednn, by_mm, rtol=1e-4, atol=1e-5)
    assert (gradients["mm"][3] != gradients["onednn"][3]).float().mean() < 1e-3


def fit_digits(config, epochs, state=None):
    train, valid, _ = binary_digits()
    trainer = RBMTrainer(RBM(64, 16, generator=torch.Generator().manual_seed(0)), config, seed=3)
    if state is not None:
        trainer.load_state_dict(state)
    trainer.train_epochs(train, epochs - trainer.epoch, valid, progress=False)
    return trainer


def test_edited_routes_in_a_state_are_refused_before_anything_changes():
    config = TrainConfig(method="pcd", epochs=2, lr=0.05)
    state = fit_digits(config, 1).state_dict()
    state["matmul"] = {"hidden": "blas"}
    receiver = RBMTrainer(RBM(64, 16), config)
    before = receiver.rbm.weight.clone()
    with pytest.raises(ValueError, match=r"routes must map names to \['mm', 'onednn'\]"):
        receiver.load_state_dict(state)
    assert receiver.epoch == 0 and torch.equal(receiver.rbm.weight, before)


LAYERS = ("linear 64x48", "linear 48x32", "linear 32x10")


def small_mlp(seed=0):
    return build_mlp([64, 48, 32], num_classes=10, generator=torch.Generator().manual_seed(seed))


@needs_onednn
def test_a_linear_route_gives_torchs_forward_and_gradients():
    digits = load_digits()["train"]
    x, y = digits.x[:100], digits.y[:100]
    gradients = {}
    for route in ("mm", "onednn"):
        model = small_mlp()
        with LinearRoutes(route) as routes:
            torch.nn.functional.cross_entropy(model(x), y).backward()
        assert routes.routes == {
            "linear 64x48": route,
            "linear 48x32": route,
            "linear 32x10": route,
        }
        gradients[route] = [p.grad for p in model.parameters()]
    for by_mm, by_onednn in zip(gradients["mm"], gradients["onednn"], strict=True):
        torch.testing.assert_close(by_onednn, by_mm, rtol=1e-4, atol=1e-6)


def test_a_linear_route_leaves_other_dtypes_and_autocast_to_torch():
    x = torch.rand(8, 64)
    with LinearRoutes("onednn") as routes:
        small_mlp().double()(x.double())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            small_mlp()(x)
    assert routes.routes == {}


def finetune_digits(config, epochs, state=None):
    digits = load_digits()
    train, valid = digits["train"], digits["valid"]
    trainer = FinetuneTrainer(small_mlp(), config, generator=torch.Generator().manual_seed(1))
    if state is not None:
        trainer.load_state_dict(state)
    trainer.train_epochs(
        train.x, epochs - trainer.epoch, (valid.x, valid.y), labels=train.y, progress=False
    )
    return trainer


@needs_onednn
def test_fine_tuning_routes_only_where_a_layer_could_leave_torchs_route():
    cpu = torch.device("cpu")
    wide = build_mlp([784, 500], num_classes=10)
    assert isinstance(linear_routes_for(wide, "auto", 100, cpu), LinearRoutes)
    assert isinstance(linear_routes_for(small_mlp(), "onednn", 100, cpu), LinearRoutes)
    # digits' layers are too small to time, and "mm" has nothing to choose: no mode, whose
    # per-call cost would fall on every step
    assert linear_routes_for(small_mlp(), "auto", 100, cpu) is None
    assert linear_routes_for(wide, "mm", 100, cpu) is None
    assert finetune_digits(FinetuneConfig(epochs=1), 1).history[0]["matmul"] is None


def test_fine_tuning_under_autocast_records_no_routes():
    trainer = finetune_digits(FinetuneConfig(epochs=1, autocast="bfloat16"), 1)
    assert trainer.history[0]["matmul"] is None


def chooser_says(monkeypatch, route):
    """``"auto"`` as it would decide where ``route`` is the faster: a fresh process's
    cache, and digits' products (below the timing threshold) timed too."""
    monkeypatch.setattr(_products, "MIN_TIMED_FLOPS", 0)
    monkeypatch.setattr(_products, "_CHOSEN", {})
    monkeypatch.setattr(_products, "_timed_choice", lambda *args: route)


# the two trainers that choose routes: a config, a fit to N epochs from an optional
# state, and the names their routes are recorded by
RESUMABLE = {
    "rbm": (TrainConfig(method="pcd", epochs=4, lr=0.05), fit_digits, LAYOUTS),
    "fine-tuning": (FinetuneConfig(epochs=4, lr=0.1), finetune_digits, LAYERS),
}


@needs_onednn
@pytest.mark.parametrize("trainer", RESUMABLE)
def test_a_run_records_its_routes_and_a_resumed_run_keeps_them(monkeypatch, trainer):
    config, fit, names = RESUMABLE[trainer]
    chooser_says(monkeypatch, "onednn")
    straight = fit(config, 4)
    routes = dict.fromkeys(names, "onednn")
    assert all(row["matmul"] == routes for row in straight.history)

    first = fit(config, 2)
    assert first.state_dict()["matmul"] == routes
    chooser_says(monkeypatch, "mm")  # a new process here would now choose mm
    resumed = fit(config, 4, first.state_dict())
    assert without_timings(resumed.history) == without_timings(straight.history)
    for a, b in zip(resumed.model.parameters(), straight.model.parameters(), strict=True):
        assert torch.equal(a, b)
