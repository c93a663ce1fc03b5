"""Gradient checks shared by the tinytorch tests: finite differences and PyTorch as oracle.

`build` functions take Tensors (tinytorch) or torch tensors and return a scalar; the same
NumPy float64 arrays feed both, so values and gradients can be compared exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor

try:
    import torch
except ImportError:  # the oracle is optional; CI installs it
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

# Largest difference seen against torch in this test session (reported in issue notes).
WORST_TORCH_DIFFERENCE = {"value": 0.0, "where": ""}


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5):
    """Central differences: (f(x + h e_i) - f(x - h e_i)) / 2h for every element i."""
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        plus = f(x)
        x[i] = original - h
        minus = f(x)
        x[i] = original
        grad[i] = (plus - minus) / (2 * h)
    return grad


def tinytorch_gradients(build, arrays: Sequence[np.ndarray]):
    tensors = [Tensor(a.copy(), requires_grad=True, dtype=np.float64) for a in arrays]
    out = build(*tensors)
    out.backward()
    return out.data, [
        t.grad.data if t.grad is not None else np.zeros_like(a) for t, a in zip(tensors, arrays)
    ]


def assert_finite_differences(build, *arrays: np.ndarray, rtol: float = 1e-6) -> float:
    """Autograd against central differences, in float64; returns the worst relative error."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    _, grads = tinytorch_gradients(build, arrays)
    worst = 0.0
    for k, array in enumerate(arrays):

        def loss_of(value, k=k):
            inputs = [Tensor(v, dtype=np.float64) for v in [*arrays[:k], value, *arrays[k + 1 :]]]
            return float(build(*inputs).data)

        expected = numerical_gradient(loss_of, array.copy())
        scale = max(1.0, float(np.max(np.abs(expected))))
        error = float(np.max(np.abs(grads[k] - expected))) / scale
        assert error < rtol, f"input {k}: gradient differs from finite differences by {error:.2e}"
        worst = max(worst, error)
    return worst


def assert_matches_torch(build, torch_build, *arrays: np.ndarray, atol: float = 1e-8) -> float:
    """Forward value and every input gradient against PyTorch in float64; worst abs diff."""
    if torch is None:
        pytest.skip("PyTorch is not installed")
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    value, grads = tinytorch_gradients(build, arrays)
    torch_inputs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    torch_value = torch_build(*torch_inputs)
    torch_value.backward()
    worst = float(np.max(np.abs(value - torch_value.detach().numpy())))
    assert worst < atol, f"forward differs from torch by {worst:.2e}"
    for k, (grad, t) in enumerate(zip(grads, torch_inputs)):
        expected = t.grad.numpy() if t.grad is not None else np.zeros_like(arrays[k])
        difference = float(np.max(np.abs(grad - expected))) if grad.size else 0.0
        assert difference < atol, f"input {k}: gradient differs from torch by {difference:.2e}"
        worst = max(worst, difference)
    record_torch_difference(worst, build)
    return worst


def record_torch_difference(value: float, where) -> None:
    if value > WORST_TORCH_DIFFERENCE["value"]:
        WORST_TORCH_DIFFERENCE["value"] = value
        WORST_TORCH_DIFFERENCE["where"] = getattr(where, "__qualname__", str(where))
