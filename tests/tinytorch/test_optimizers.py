"""Optimizers step for step against torch.optim, in float64."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tinytorch.gradcheck import record_torch_difference, requires_torch, torch
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor

CASES = [
    ("SGD", SGD, {"lr": 0.1}),
    ("SGD", SGD, {"lr": 0.05, "momentum": 0.9}),
    ("SGD", SGD, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    ("SGD", SGD, {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", Adam, {"lr": 1e-2}),
    ("Adam", Adam, {"lr": 1e-2, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    ("AdamW", AdamW, {"lr": 1e-2}),
    ("AdamW", AdamW, {"lr": 3e-3, "betas": (0.5, 0.9), "weight_decay": 0.2}),
]
SHAPES = [(4, 3), (3,), (2, 2, 2)]
STEPS = 20


def gradient_sequence(rng: np.random.Generator, skip_some: bool) -> list[list]:
    """STEPS lists of one gradient per parameter; with skip_some, some are None (no grad)."""
    steps = []
    for step in range(STEPS):
        grads = [rng.normal(size=s) for s in SHAPES]
        if skip_some and step % 3 == 0:
            grads[1] = None  # the second parameter gets no gradient on every third step
        if skip_some and step < 5:
            grads[2] = None  # the third starts late: its first update is step 5
        steps.append(grads)
    return steps


def run_both(ours, torch_name: str, options: dict, skip_some: bool) -> float:
    rng = np.random.default_rng(0)
    initial = [rng.normal(size=s) for s in SHAPES]
    params = [Tensor(a.copy(), requires_grad=True, dtype=np.float64) for a in initial]
    reference = [torch.tensor(a.copy(), requires_grad=True) for a in initial]
    optimizer = ours(params, **options)
    torch_optimizer = getattr(torch.optim, torch_name)(reference, **options)
    worst = 0.0
    for step_gradients in gradient_sequence(rng, skip_some):
        optimizer.zero_grad()
        torch_optimizer.zero_grad()
        for p, r, g in zip(params, reference, step_gradients):
            if g is not None:
                p.grad = Tensor(g, dtype=np.float64)
                r.grad = torch.tensor(g)
        optimizer.step()
        torch_optimizer.step()
        for p, r in zip(params, reference):
            assert p.data.dtype == np.float64
            worst = max(worst, float(np.max(np.abs(p.data - r.detach().numpy()))))
    return worst


@requires_torch
@pytest.mark.parametrize(("torch_name", "ours", "options"), CASES)
def test_matches_torch_optim_step_for_step(torch_name, ours, options):
    worst = run_both(ours, torch_name, options, skip_some=False)
    record_torch_difference(worst, f"{torch_name}{options}")
    assert worst < 1e-10


@requires_torch
@pytest.mark.parametrize(("torch_name", "ours", "options"), CASES)
def test_parameters_without_gradients_match_torch(torch_name, ours, options):
    """A missing .grad skips the parameter: its moments and its own step count stay put."""
    worst = run_both(ours, torch_name, options, skip_some=True)
    record_torch_difference(worst, f"{torch_name}{options} with skipped gradients")
    assert worst < 1e-10


@pytest.mark.parametrize("make", [SGD, Adam, AdamW], ids=["SGD", "Adam", "AdamW"])
def test_float32_parameters_stay_float32(make):
    p = Tensor(np.ones((2, 3)), requires_grad=True)
    optimizer = make([p], lr=0.1) if make is SGD else make([p])
    for _ in range(3):
        p.grad = Tensor(np.full((2, 3), 0.5))
        optimizer.step()
    assert p.data.dtype == np.float32 and np.all(p.data < 1)
    state = [v for v in optimizer.state[0].values() if isinstance(v, np.ndarray)]
    assert all(v.dtype == np.float32 for v in state)


def test_skipped_parameter_and_zero_grad():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    optimizer = Adam([a, b], lr=0.1)
    a.grad = Tensor(np.ones(3))
    optimizer.step()
    assert np.all(a.data < 1) and np.all(b.data == 1) and optimizer.state[1] == {}
    optimizer.zero_grad()
    assert a.grad is None and b.grad is None


def test_a_parameter_listed_twice_steps_once():
    w = Tensor([1.0], requires_grad=True)
    optimizer = SGD([w, w], lr=0.1)
    w.grad = Tensor([1.0])
    optimizer.step()
    assert len(optimizer.params) == 1 and np.allclose(w.data, [0.9])


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda ps: SGD(ps, lr=0.0), "learning rate"),
        (lambda ps: SGD(ps, lr=-1.0), "learning rate"),
        (lambda ps: SGD(ps, lr=0.1, momentum=1.0), "momentum"),
        (lambda ps: Adam(ps, betas=(0.9, 1.0)), "betas"),
        (lambda ps: AdamW(ps, weight_decay=-0.1), "weight_decay"),
        (lambda ps: Adam([]), "no parameters"),
        (lambda ps: Adam([np.zeros(3)]), "Tensors"),
    ],
)
def test_bad_arguments_are_refused(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make([Tensor([1.0], requires_grad=True)])
