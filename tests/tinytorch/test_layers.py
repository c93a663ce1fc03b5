"""Module 03 (layers): Linear, Sequential and Dropout gradients against finite differences
and PyTorch; parameter collection working together with backward()."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tinytorch.gradcheck import torch
from tinytorch.core.activations import GELU, ReLU, Tanh
from tinytorch.core.layers import Dropout, Linear, Module, Sequential
from tinytorch.core.losses import mse_loss
from tinytorch.core.tensor import Tensor

RNG = np.random.default_rng(3)


def torch_linear(x, weight, bias=None):
    """Our weight is (in, out); PyTorch's F.linear expects (out, in)."""
    return torch.nn.functional.linear(x, weight.T, bias)


@pytest.mark.parametrize("leading", [(4,), (2, 3), (), (1,)], ids=str)
def test_linear_gradients_with_copied_weights(gradients, leading):
    layer = Linear(3, 5)

    def fn(x, weight, bias):
        layer.weight, layer.bias = weight, bias
        return layer(x)

    arrays = [RNG.normal(size=(*leading, 3)), RNG.normal(size=(3, 5)), RNG.normal(size=5)]
    gradients(fn, torch_linear, *arrays, name=f"Linear input {(*leading, 3)}")


def test_linear_without_bias_gradients(gradients):
    layer = Linear(4, 2, bias=False)

    def fn(x, weight):
        layer.weight = weight
        return layer(x)

    gradients(fn, torch_linear, RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2)), name="no bias")


def test_linear_parameters_receive_float32_gradients():
    np.random.seed(0)
    layer = Linear(3, 2)
    x = RNG.normal(size=(4, 3)).astype(np.float32)
    layer(x).sum().backward()
    assert layer.weight.grad.shape == (3, 2) and layer.weight.grad.dtype == np.float32
    np.testing.assert_allclose(layer.weight.grad.data, np.tile(x.sum(axis=0)[:, None], 2))
    np.testing.assert_allclose(layer.bias.grad.data, [4.0, 4.0])
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None


def test_sequential_mlp_gradients(gradients):
    model = Sequential(Linear(3, 6), ReLU(), Linear(6, 4), Tanh(), Linear(4, 2), GELU())

    def fn(x, w1, b1, w2, b2, w3, b3):
        for layer, (w, b) in zip(model[::2], [(w1, b1), (w2, b2), (w3, b3)]):
            layer.weight, layer.bias = w, b
        return model(x)

    def torch_fn(x, w1, b1, w2, b2, w3, b3):
        h = torch.relu(torch_linear(x, w1, b1))
        h = torch.tanh(torch_linear(h, w2, b2))
        return torch.nn.functional.gelu(torch_linear(h, w3, b3), approximate="tanh")

    shapes = [(5, 3), (3, 6), (6,), (6, 4), (4,), (4, 2), (2,)]
    gradients(fn, torch_fn, *[RNG.normal(size=s) for s in shapes], name="Sequential MLP")


def dropout_with_seed(p: float, seed: int):
    """The same mask on every call: finite differences call the layer many times."""

    def fn(x):
        np.random.seed(seed)
        return Dropout(p)(x)

    return fn


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_gradient_is_the_mask(gradients, p):
    fn = dropout_with_seed(p, seed=11)
    mask = fn(Tensor(np.ones((4, 6)), dtype=np.float64)).data
    assert set(np.unique(mask)) <= {0.0, 1 / (1 - p)}
    data = RNG.uniform(0.5, 2.0, size=(4, 6))
    gradients(fn, lambda x: x * torch.tensor(mask), data, name=f"Dropout({p})")

    x = Tensor(data, requires_grad=True, dtype=np.float64)
    fn(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, mask, rtol=1e-15)


def test_dropout_in_eval_mode_passes_the_gradient_unchanged():
    x = Tensor(np.ones((3, 3)), requires_grad=True)
    layer = Dropout(0.5).eval()
    (layer(x) * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((3, 3), 2.0))


class TwoHeads(Module):
    """Parameters in a sub-module, a dict and a bare tensor, with one shared tensor."""

    def __init__(self):
        super().__init__()
        self.body = Linear(3, 4)
        self.heads = {"a": Linear(4, 1), "b": Linear(4, 1)}
        self.scale = Tensor(np.array([2.0]), requires_grad=True)
        self.heads["b"].weight = self.heads["a"].weight  # tied weights

    def forward(self, x):
        h = self.body(x)
        return (self.heads["a"](h) + self.heads["b"](h)) * self.scale


def test_every_collected_parameter_gets_a_gradient_and_zero_grad_clears_them():
    np.random.seed(1)
    model = TwoHeads()
    params = model.parameters()
    assert len(params) == 2 + 2 + 1 + 1, "the tied weight is listed once"
    mse_loss(model(RNG.normal(size=(5, 3))), np.zeros((5, 1))).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in params)
    model.zero_grad()
    assert all(p.grad is None for p in params)


def test_a_few_sgd_steps_fit_xor():
    """Everything of modules 01 to 05 together: an MLP learns XOR with plain gradient steps."""
    np.random.seed(0)
    model = Sequential(Linear(2, 8), Tanh(), Linear(8, 1))
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    first = None
    for _ in range(500):
        loss = mse_loss(model(x), y)
        first = loss.item() if first is None else first
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.2 * p.grad.data
    assert loss.item() < 1e-3 < first, f"loss went from {first:.3f} to {loss.item():.3f}"
