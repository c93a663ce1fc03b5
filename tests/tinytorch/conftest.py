"""Shared fixtures of the tinytorch tests, and a session summary of the numbers they measure."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tinytorch.gradcheck import (
    WORST_TORCH_DIFFERENCE,
    assert_finite_differences,
    assert_matches_torch,
    torch,
)
from tinytorch.core.tensor import Tensor

# name -> seconds; filled through the `record_timing` fixture, printed at the end (never asserted)
TIMINGS: dict[str, float] = {}


@pytest.fixture
def record_timing(record_property):
    """record_timing(name, seconds): report a measured time in the summary (and JUnit XML)."""

    def record(name: str, seconds: float) -> None:
        TIMINGS[name] = seconds
        record_property(name, seconds)

    return record


def check_gradients(fn, torch_fn, *arrays, name: str = "", rtol=1e-6, atol=1e-8) -> None:
    """Gradients of sum(fn(*inputs) * W) for a fixed random W: finite differences, then torch.

    The random weights W make every output element matter differently, so a rule that gets,
    say, the order of a softmax's outputs wrong cannot hide behind a plain sum.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    shape = fn(*[Tensor(a, dtype=np.float64) for a in arrays]).shape
    weights = np.random.default_rng(12345).normal(size=shape)

    def build(*tensors):
        return (fn(*tensors) * Tensor(weights, dtype=np.float64)).sum()

    def torch_build(*tensors):
        return (torch_fn(*tensors) * torch.tensor(weights)).sum()

    build.__qualname__ = name or getattr(fn, "__qualname__", "build")
    assert_finite_differences(build, *arrays, rtol=rtol)
    assert_matches_torch(build, torch_build, *arrays, atol=atol)


@pytest.fixture(scope="session")
def gradients():
    """The `check_gradients` helper (session scope, so Hypothesis tests may use it too)."""
    return check_gradients


def pytest_terminal_summary(terminalreporter) -> None:
    if WORST_TORCH_DIFFERENCE["where"]:
        terminalreporter.write_line(
            "tinytorch: largest difference against torch "
            f"{WORST_TORCH_DIFFERENCE['value']:.3e} in {WORST_TORCH_DIFFERENCE['where']}"
        )
    for name, seconds in TIMINGS.items():
        terminalreporter.write_line(f"tinytorch: {name}: {seconds * 1e3:.2f} ms")
