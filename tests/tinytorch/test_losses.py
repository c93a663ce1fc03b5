"""Module 04 (losses): MSE, cross-entropy and binary cross-entropy gradients against finite
differences and PyTorch; stability for logits of 1e4 and probabilities of 0 and 1; errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tinytorch.gradcheck import assert_matches_torch, requires_torch, torch
from tinytorch.core.activations import sigmoid
from tinytorch.core.losses import (
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    MSELoss,
    binary_cross_entropy,
    cross_entropy,
    mse_loss,
)
from tinytorch.core.tensor import Tensor

RNG = np.random.default_rng(4)
F = torch.nn.functional if torch else None


# -- MSE ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 2), ()], ids=str)
def test_mse_gradients(gradients, shape):
    gradients(mse_loss, F and F.mse_loss, RNG.normal(size=shape), RNG.normal(size=shape))


def test_mse_class_matches_function_and_refuses_silent_broadcasting():
    pred, target = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))
    assert MSELoss()(pred, target).item() == mse_loss(pred, target).item()
    with pytest.raises(ValueError, match="same shape"):
        mse_loss(np.ones((4, 1)), np.ones(4))


# -- cross-entropy --------------------------------------------------------------------------


def torch_cross_entropy(targets: np.ndarray):
    flat = torch.from_numpy(targets.reshape(-1)) if torch else None
    return lambda z: F.cross_entropy(z.reshape(-1, z.shape[-1]), flat)


@pytest.mark.parametrize(
    "shape", [(6, 4), (2, 3, 5), (1, 3), (2, 2, 2, 3)], ids=["(N,C)", "(B,T,C)", "N=1", "4-d"]
)
def test_cross_entropy_gradients(gradients, shape):
    targets = RNG.integers(0, shape[-1], size=shape[:-1])
    gradients(
        lambda z: cross_entropy(z, targets),
        torch_cross_entropy(targets),
        RNG.normal(scale=2.0, size=shape),
        name=f"cross_entropy {shape}",
    )


def test_cross_entropy_of_a_single_unbatched_row(gradients):
    """Logits (C,) with a 0-d target: one position, as in torch's unbatched input."""
    target = np.array(2)
    gradients(
        lambda z: CrossEntropyLoss()(z, target),
        lambda z: F.cross_entropy(z, torch.tensor(2)),
        RNG.normal(size=4),
        name="cross_entropy (C,)",
    )


@requires_torch
@pytest.mark.parametrize("scale", [1e4, 1e6])
def test_cross_entropy_with_huge_logits_matches_torch(scale):
    logits = np.array([[1.0, 0.0, -1.0], [-1.0, 1.0, 0.5], [0.2, 0.1, 1.0]]) * scale
    targets = np.array([0, 2, 1])

    def build(z):
        return cross_entropy(z, targets)

    build.__qualname__ = f"cross_entropy at {scale:g}"
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        z = Tensor(logits, requires_grad=True, dtype=np.float64)
        loss = build(z)
        loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(z.grad.data))
    assert_matches_torch(build, lambda z: F.cross_entropy(z, torch.from_numpy(targets)), logits)


def test_cross_entropy_in_float32_is_float32_and_finite_at_1e4():
    z = Tensor([[1e4, -1e4, 0.0], [0.0, 0.0, 1e4]], requires_grad=True)
    loss = cross_entropy(z, np.array([1, 2]))
    loss.backward()
    assert loss.dtype == np.float32 and z.grad.dtype == np.float32
    np.testing.assert_allclose(loss.item(), 2e4 / 2)
    np.testing.assert_allclose(z.grad.data, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-7)


@pytest.mark.parametrize(
    "targets, error, message",
    [
        (np.array([0, 4]), ValueError, r"out of range.*\[0, 4\)"),
        (np.array([-1, 0]), ValueError, "out of range"),
        (np.array([0, 1, 2]), ValueError, r"shape \(2,\)"),
        (np.array([[0], [1]]), ValueError, r"shape \(2,\)"),
        (np.array([0.0, 1.0]), TypeError, "integer"),
    ],
)
def test_cross_entropy_rejects_bad_targets(targets, error, message):
    with pytest.raises(error, match=message):
        cross_entropy(np.zeros((2, 4)), targets)


def test_cross_entropy_accepts_tensor_and_list_targets():
    logits = RNG.normal(size=(3, 4))
    expected = cross_entropy(logits, np.array([1, 0, 3])).item()
    assert cross_entropy(logits, Tensor([1, 0, 3])).item() == expected
    assert cross_entropy(logits, [1, 0, 3]).item() == expected


# -- binary cross-entropy -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6,), (3, 2), (2, 2, 1)], ids=str)
@pytest.mark.parametrize("soft", [False, True], ids=["hard labels", "soft labels"])
def test_binary_cross_entropy_gradients(gradients, shape, soft):
    labels = RNG.uniform(size=shape) if soft else RNG.integers(0, 2, size=shape).astype(float)
    gradients(
        lambda p: BinaryCrossEntropyLoss()(p, labels),
        lambda p: F.binary_cross_entropy(p, torch.from_numpy(labels)),
        RNG.uniform(0.05, 0.95, size=shape),
        name=f"binary_cross_entropy {shape} soft={soft}",
    )


def test_binary_cross_entropy_after_sigmoid(gradients):
    labels = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    gradients(
        lambda z: binary_cross_entropy(sigmoid(z), labels),
        lambda z: F.binary_cross_entropy(torch.sigmoid(z), torch.from_numpy(labels)),
        RNG.normal(scale=3.0, size=5),
        name="binary_cross_entropy(sigmoid(z))",
    )


@pytest.mark.parametrize("dtype, eps", [(np.float32, 1e-7), (np.float64, 1e-12)])
def test_binary_cross_entropy_at_exactly_0_and_1_is_finite(dtype, eps):
    p = Tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True, dtype=dtype)
    with np.errstate(divide="raise", invalid="raise"):
        loss = binary_cross_entropy(p, [1.0, 0.0, 0.0, 1.0])
        loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(p.grad.data))
    np.testing.assert_allclose(loss.item(), -np.log(eps) / 2, rtol=0.02)
    assert loss.dtype == dtype and p.grad.dtype == dtype


@pytest.mark.parametrize(
    "predictions, targets, message",
    [
        (np.full((3, 1), 0.5), np.ones(3), "same shape"),
        (np.array([1.2, 0.5]), np.ones(2), "probabilities"),
        (np.array([0.2, 0.5]), np.array([1.0, 2.0]), "targets"),
    ],
)
def test_binary_cross_entropy_rejects_bad_inputs(predictions, targets, message):
    with pytest.raises(ValueError, match=message):
        binary_cross_entropy(predictions, targets)
