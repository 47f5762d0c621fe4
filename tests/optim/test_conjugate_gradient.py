"""Rasmussen's conjugate gradient against problems whose minimum is known exactly."""

import math

import pytest
import torch

from dbn.optim.conjugate_gradient import ConjugateGradient


def _minimise(loss_fn, start, **options):
    """Run one ``step`` of ConjugateGradient on ``loss_fn`` from ``start``; returns the
    point, the number of evaluations and the losses seen."""
    x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = ConjugateGradient([x], **options)
    losses = []

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(x)
        loss.backward()
        losses.append(loss.item())
        return loss

    optimizer.step(closure)
    return x.detach(), len(losses), losses


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def test_rosenbrock_reaches_its_minimum_at_one_one():
    point, _, _ = _minimise(rosenbrock, [-1.2, 1.0], line_searches=100)
    torch.testing.assert_close(point, torch.ones(2, dtype=torch.float64), atol=1e-6, rtol=0)


def test_a_quadratic_is_solved_to_the_linear_systems_answer():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(30, 30, generator=generator, dtype=torch.float64)
    hessian = a @ a.T + 30 * torch.eye(30, dtype=torch.float64)
    b = torch.randn(30, generator=generator, dtype=torch.float64)
    point, _, _ = _minimise(lambda x: 0.5 * x @ hessian @ x - b @ x, [0.0] * 30, line_searches=40)
    torch.testing.assert_close(point, torch.linalg.solve(hessian, b), atol=1e-8, rtol=0)


def test_each_step_ends_at_the_best_point_seen_and_respects_its_budget():
    line_searches, max_evaluations = 3, 20
    point, evaluations, losses = _minimise(
        rosenbrock, [-1.2, 1.0], line_searches=line_searches, max_evaluations=max_evaluations
    )
    assert evaluations <= 1 + line_searches * max_evaluations
    assert rosenbrock(point).item() == pytest.approx(min(losses))
    assert min(losses) < losses[0]


def test_gradient_after_step_is_the_gradient_at_the_returned_point():
    x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    optimizer = ConjugateGradient([x], line_searches=2)

    def closure():
        optimizer.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    optimizer.step(closure)
    reported = x.grad.clone()
    (expected,) = torch.autograd.grad(rosenbrock(x), x)
    torch.testing.assert_close(reported, expected)


def test_a_loss_that_fails_beyond_a_wall_is_still_minimised():
    # inf beyond x = 1; a first step 1,000 times the usual lands there and is bisected
    def walled(x):
        return torch.where(x[0] < 1, (x[0] - 0.9) ** 2, torch.tensor(math.inf, dtype=x.dtype))

    point, _, losses = _minimise(walled, [-5.0], lr=1000.0, line_searches=10)
    assert any(math.isinf(loss) for loss in losses)
    assert point.item() == pytest.approx(0.9, abs=1e-6)


def test_several_parameters_are_one_vector():
    weight = torch.tensor([[2.0, -1.0]], dtype=torch.float64, requires_grad=True)
    bias = torch.tensor([3.0], dtype=torch.float64, requires_grad=True)
    optimizer = ConjugateGradient([weight, bias], line_searches=20)
    inputs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    targets = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)

    def closure():
        optimizer.zero_grad()
        loss = ((inputs @ weight.T + bias).squeeze(1) - targets).pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    # the targets are exactly 1*x1 + 2*x2 + 0: least squares recovers them
    torch.testing.assert_close(weight.detach(), torch.tensor([[1.0, 2.0]], dtype=torch.float64))
    torch.testing.assert_close(
        bias.detach(), torch.tensor([0.0], dtype=torch.float64), atol=1e-7, rtol=0
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sig": 0.05, "rho": 0.1}, "0 < rho < sig < 1"),
        ({"sig": 1.5}, "0 < rho < sig < 1"),
        ({"line_searches": 0}, "line_searches"),
        ({"max_evaluations": 0}, "max_evaluations"),
        ({"lr": -1.0}, "lr"),
        ({"interpolation_margin": 0.7}, "interpolation_margin"),
        ({"max_extrapolation": 1.0}, "max_extrapolation"),
        ({"max_slope_ratio": 0.0}, "max_slope_ratio"),
    ],
)
def test_bad_constants_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        ConjugateGradient([torch.zeros(2, requires_grad=True)], **options)
