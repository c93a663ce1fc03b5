"""Optimizers step for step against torch.optim, in float64."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tinytorch.gradcheck import record_torch_difference, torch
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.tensor import Tensor

CASES = [
    ("SGD", SGD, {"lr": 0.1}),
    ("SGD", SGD, {"lr": 0.05, "momentum": 0.9}),
    ("SGD", SGD, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    ("Adam", Adam, {"lr": 1e-2}),
    ("Adam", Adam, {"lr": 1e-2, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    ("AdamW", AdamW, {"lr": 1e-2}),
    ("AdamW", AdamW, {"lr": 3e-3, "weight_decay": 0.2}),
]


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize(("torch_name", "ours", "options"), CASES)
def test_matches_torch_optim_step_for_step(torch_name, ours, options):
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,)]
    initial = [rng.normal(size=s) for s in shapes]
    gradients = [[rng.normal(size=s) for s in shapes] for _ in range(20)]
    params = [Tensor(a.copy(), requires_grad=True, dtype=np.float64) for a in initial]
    reference = [torch.tensor(a.copy(), requires_grad=True) for a in initial]
    optimizer = ours(params, **options)
    torch_optimizer = getattr(torch.optim, torch_name)(reference, **options)
    worst = 0.0
    for step_gradients in gradients:
        optimizer.zero_grad()
        torch_optimizer.zero_grad()
        for p, r, g in zip(params, reference, step_gradients):
            p.grad = Tensor(g, dtype=np.float64)
            r.grad = torch.tensor(g)
        optimizer.step()
        torch_optimizer.step()
        for p, r in zip(params, reference):
            worst = max(worst, float(np.max(np.abs(p.data - r.detach().numpy()))))
    record_torch_difference(worst, f"{torch_name}{options}")
    assert worst < 1e-10


def test_parameters_without_gradient_are_skipped_and_dtype_kept():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    optimizer = Adam([a, b], lr=0.1)
    a.grad = Tensor(np.ones(3))
    optimizer.step()
    assert np.all(a.data < 1) and np.all(b.data == 1)
    assert a.data.dtype == np.float32


@pytest.mark.parametrize("bad", [{"lr": 0.0}, {"lr": -1.0}])
def test_bad_learning_rate_is_refused(bad):
    with pytest.raises(ValueError, match="learning rate"):
        SGD([Tensor([1.0], requires_grad=True)], **bad)
