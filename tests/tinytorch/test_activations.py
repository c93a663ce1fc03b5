"""Module 02 (activations): gradients of every activation against finite differences and
PyTorch, stability for inputs of magnitude 1e4, and the classes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tests.tinytorch.gradcheck import assert_matches_torch, requires_torch, torch
from tinytorch.core.activations import (
    GELU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    gelu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from tinytorch.core.tensor import Tensor

RNG = np.random.default_rng(2)


def torch_gelu(approximate: str):
    return lambda a: torch.nn.functional.gelu(a, approximate=approximate)


ELEMENTWISE = {
    "relu": (relu, lambda a: torch.relu(a)),
    "sigmoid": (sigmoid, lambda a: torch.sigmoid(a)),
    "tanh": (tanh, lambda a: torch.tanh(a)),
    "gelu_tanh": (gelu, lambda a: torch_gelu("tanh")(a)),
    "gelu": (lambda a: gelu(a, "none"), lambda a: torch_gelu("none")(a)),
    "ReLU()": (ReLU(), lambda a: torch.relu(a)),
    "Sigmoid()": (Sigmoid(), lambda a: torch.sigmoid(a)),
    "Tanh()": (Tanh(), lambda a: torch.tanh(a)),
    "GELU()": (GELU(), lambda a: torch_gelu("tanh")(a)),
    "GELU('none')": (GELU("none"), lambda a: torch_gelu("none")(a)),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4)], ids=str)
def test_elementwise_activation_gradients(gradients, name, shape):
    fn, torch_fn = ELEMENTWISE[name]
    data = RNG.normal(scale=2.0, size=shape)
    data[np.abs(data) < 1e-3] = 0.5  # finite differences need distance from ReLU's kink
    gradients(fn, torch_fn, data, name=f"{name} {shape}")


AXIS_OPS = {
    "softmax": (softmax, torch.softmax if torch else None),
    "log_softmax": (log_softmax, torch.log_softmax if torch else None),
}


@pytest.mark.parametrize("name", AXIS_OPS)
@pytest.mark.parametrize("shape, axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_softmax_gradients(gradients, name, shape, axis):
    fn, torch_fn = AXIS_OPS[name]
    gradients(
        lambda a: fn(a, axis),
        lambda a: torch_fn(a, dim=axis),
        RNG.normal(scale=3.0, size=shape),
        name=f"{name}{shape} axis {axis}",
    )


@pytest.mark.parametrize("layer, fn", [(Softmax(dim=0), softmax), (LogSoftmax(dim=0), log_softmax)])
def test_softmax_classes_use_their_dim(layer, fn):
    data = RNG.normal(size=(3, 4))
    np.testing.assert_array_equal(layer(data).data, fn(data, 0).data)
    assert layer(Tensor(data, requires_grad=True))._saved == 0


@requires_torch
def test_relu_gradient_at_zero_is_zero_like_torch():
    data = np.array([-1.0, 0.0, 0.0, 2.0])
    assert_matches_torch(lambda a: (relu(a) * 3).sum(), lambda a: (torch.relu(a) * 3).sum(), data)


LARGE = np.array([[1e4, 0.0, -1e4, 5.0], [-1e4, -1e4, -1e4, -1e4], [3e3, 1e4, -2.0, 1e4]])


@requires_torch
@pytest.mark.parametrize(
    "name, fn, torch_fn",
    [
        ("softmax", softmax, lambda a: torch.softmax(a, dim=-1)),
        ("log_softmax", log_softmax, lambda a: torch.log_softmax(a, dim=-1)),
        ("softmax axis 0", lambda a: softmax(a, 0), lambda a: torch.softmax(a, dim=0)),
        ("sigmoid", sigmoid, torch.sigmoid),
        ("tanh", tanh, torch.tanh),
        ("gelu_tanh", gelu, lambda a: torch.nn.functional.gelu(a, approximate="tanh")),
        ("gelu", lambda a: gelu(a, "none"), torch.nn.functional.gelu),
    ],
)
def test_inputs_of_magnitude_1e4_stay_finite_and_match_torch(name, fn, torch_fn):
    weights = RNG.normal(size=LARGE.shape)

    def build(a):
        return (fn(a) * Tensor(weights, dtype=np.float64)).sum()

    def torch_build(a):
        return (torch_fn(a) * torch.tensor(weights)).sum()

    build.__qualname__ = f"{name} at 1e4"
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        x = Tensor(LARGE, requires_grad=True, dtype=np.float64)
        out = fn(x)
        (out * Tensor(weights, dtype=np.float64)).sum().backward()
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad.data))
    assert_matches_torch(build, torch_build, LARGE)


def test_float32_activations_give_float32_gradients():
    for fn in (relu, sigmoid, tanh, gelu, lambda a: gelu(a, "none"), softmax, log_softmax):
        x = Tensor(RNG.normal(size=(2, 5)), requires_grad=True)
        (fn(x) * Tensor(np.arange(10.0).reshape(2, 5))).sum().backward()
        assert x.grad.dtype == np.float32 and np.all(np.isfinite(x.grad.data))


@settings(max_examples=25, deadline=None)
@given(
    arrays(
        np.float64, st.tuples(st.integers(1, 3), st.integers(1, 6)), elements=st.floats(-1e4, 1e4)
    )
)
def test_softmax_of_any_logits_is_a_distribution_with_finite_gradient(logits):
    x = Tensor(logits, requires_grad=True, dtype=np.float64)
    p = softmax(x)
    assert np.all(np.isfinite(p.data)) and np.all(p.data >= 0)
    np.testing.assert_allclose(p.data.sum(axis=-1), 1.0, rtol=1e-12)
    shifted = softmax(Tensor(logits - 123.0, dtype=np.float64))
    np.testing.assert_allclose(shifted.data, p.data, atol=1e-12)
    (
        p * Tensor(np.linspace(-1, 1, logits.size).reshape(logits.shape), dtype=np.float64)
    ).sum().backward()
    assert np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(x.grad.data.sum(axis=-1), 0.0, atol=1e-9)


@pytest.mark.parametrize("approximate", ["tanh", "none"])
def test_gelu_of_a_0d_tensor_has_a_gradient(approximate):
    """np.frompyfunc(math.erf) returns a bare float for 0-d input, not an array."""
    x = Tensor(0.5, requires_grad=True, dtype=np.float64)
    gelu(x, approximate).backward()
    assert x.grad.shape == () and 0.8 < x.grad.item() < 0.9


@pytest.mark.parametrize("bad", [None, True, 1.5, "-1"])
def test_softmax_classes_refuse_a_dim_that_is_not_an_integer(bad):
    with pytest.raises(TypeError, match="dim"):
        Softmax(dim=bad)
    with pytest.raises(TypeError, match="dim"):
        LogSoftmax(dim=bad)
