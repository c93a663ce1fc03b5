"""Module 09 (spatial): convolution and pooling gradients against finite differences and
PyTorch in float64 (every stride 1, 2 x padding 0, 1, 2; square and non-square kernels;
overlapping pooling windows; max-pooling ties), im2col/col2im, the layers and a small CNN."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tinytorch.gradcheck import (
    assert_finite_differences,
    assert_matches_torch,
    requires_torch,
    torch,
)
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import cross_entropy
from tinytorch.core.spatial import (
    AvgPool2d,
    Conv2d,
    Flatten,
    MaxPool2d,
    avg_pool2d,
    col2im,
    conv2d,
    conv2d_naive,
    im2col,
    max_pool2d,
)
from tinytorch.core.tensor import Tensor

RNG = np.random.default_rng(9)
F = torch.nn.functional if torch else None


def weighted(fn, torch_fn, out_shape):
    """sum(fn(...) * W) for fixed random W, in tinytorch and torch (every output counts)."""
    weights = RNG.normal(size=out_shape)

    def build(*tensors):
        return (fn(*tensors) * Tensor(weights, dtype=np.float64)).sum()

    def torch_build(*tensors):
        return (torch_fn(*tensors) * torch.tensor(weights)).sum()

    return build, torch_build


# ── convolution ──────────────────────────────────────────────────────────────────────────────


@requires_torch
@pytest.mark.parametrize("kernel", [(3, 3), (2, 3), (1, 1)], ids=str)
@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv2d_gradients_match_torch_and_finite_differences(stride, padding, kernel):
    x = RNG.normal(size=(2, 3, 7, 6))
    w = RNG.normal(size=(4, 3, *kernel))
    b = RNG.normal(size=4)
    out_shape = F.conv2d(torch.tensor(x), torch.tensor(w), None, stride, padding).shape
    build, torch_build = weighted(
        lambda t, u, v: conv2d(t, u, v, stride, padding),
        lambda t, u, v: F.conv2d(t, u, v, stride, padding),
        tuple(out_shape),
    )
    build.__qualname__ = f"conv2d stride {stride} padding {padding} kernel {kernel}"
    assert_finite_differences(build, x, w, b)
    assert_matches_torch(build, torch_build, x, w, b, atol=1e-8)


@requires_torch
@pytest.mark.parametrize(
    "stride, padding",
    [((2, 1), (0, 2)), ((1, 2), (1, 0)), (3, 1)],
    ids=["s21p02", "s12p10", "s3p1"],
)
def test_conv2d_without_bias_and_with_pairs_matches_torch(stride, padding):
    x, w = RNG.normal(size=(2, 2, 8, 7)), RNG.normal(size=(3, 2, 3, 2))
    out_shape = F.conv2d(torch.tensor(x), torch.tensor(w), None, stride, padding).shape
    build, torch_build = weighted(
        lambda t, u: conv2d(t, u, None, stride, padding),
        lambda t, u: F.conv2d(t, u, None, stride, padding),
        tuple(out_shape),
    )
    assert_finite_differences(build, x, w)
    assert_matches_torch(build, torch_build, x, w, atol=1e-8)


def test_conv2d_equals_the_loops_and_keeps_float32():
    x = RNG.normal(size=(2, 3, 9, 8)).astype(np.float32)
    w = RNG.normal(size=(5, 3, 3, 2)).astype(np.float32)
    b = RNG.normal(size=5).astype(np.float32)
    out = conv2d(Tensor(x), Tensor(w), Tensor(b), 2, 1)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, conv2d_naive(x, w, b, 2, 1), atol=1e-5)


def test_input_gradient_is_skipped_when_the_images_need_none():
    x = RNG.normal(size=(2, 1, 5, 5))
    w = Tensor(RNG.normal(size=(2, 1, 3, 3)), requires_grad=True, dtype=np.float64)
    images = Tensor(x, dtype=np.float64)
    conv2d(images, w, None, 1, 1).sum().backward()
    assert images.grad is None
    expected = np.zeros((2, 1, 3, 3))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i in range(3):
        for j in range(3):
            expected[:, 0, i, j] = padded[:, 0, i : i + 5, j : j + 5].sum()
    np.testing.assert_allclose(w.grad.data, expected)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 2),
    c=st.integers(1, 3),
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
)
def test_col2im_is_the_adjoint_of_im2col(n, c, h, w, kernel, stride, padding):
    """<im2col(x), c> == <x, col2im(c)> for every shape where the kernel fits."""
    if h + 2 * padding[0] < kernel[0] or w + 2 * padding[1] < kernel[1]:
        with pytest.raises(ValueError, match="does not fit"):
            im2col(np.zeros((n, c, h, w)), kernel, stride, padding)
        return
    rng = np.random.default_rng(n * 1000 + c * 100 + h * 10 + w)
    x = rng.normal(size=(n, c, h, w))
    cols = im2col(x, kernel, stride, padding)
    other = rng.normal(size=cols.shape)
    back = col2im(other, x.shape, kernel, stride, padding)
    assert back.shape == x.shape
    assert np.isclose(np.sum(cols * other), np.sum(x * back))


# ── pooling ──────────────────────────────────────────────────────────────────────────────────

POOL_CASES = {  # kernel, stride (None: the kernel, as PyTorch)
    "2 default": (2, None),
    "3 default": (3, None),
    "(2,3) default": ((2, 3), None),
    "3 stride 1 (overlap)": (3, 1),
    "2 stride 1 (overlap)": (2, 1),
    "(3,2) stride (2,1) (overlap)": ((3, 2), (2, 1)),
    "2 stride 3 (gaps)": (2, 3),
}


def distinct_values(shape) -> np.ndarray:
    """No two entries equal and none closer than 0.1: max pooling is differentiable there."""
    return RNG.permutation(int(np.prod(shape))).reshape(shape) / 10.0 - 2.0


@requires_torch
@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_gradients_match_torch_and_finite_differences(kind, case):
    kernel, stride = POOL_CASES[case]
    ours, theirs = (max_pool2d, F.max_pool2d) if kind == "max" else (avg_pool2d, F.avg_pool2d)
    x = distinct_values((2, 3, 7, 8))
    out_shape = theirs(torch.tensor(x), kernel, stride).shape
    build, torch_build = weighted(
        lambda t: ours(t, kernel, stride), lambda t: theirs(t, kernel, stride), tuple(out_shape)
    )
    build.__qualname__ = f"{kind}_pool2d {case}"
    assert_finite_differences(build, x)
    assert_matches_torch(build, torch_build, x, atol=1e-8)


@requires_torch
@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool_ties_follow_torch(case):
    """Integers 0-2: nearly every window has ties; torch picks the first maximum (row-major)."""
    kernel, stride = POOL_CASES[case]
    x = RNG.integers(0, 3, size=(2, 2, 7, 8)).astype(np.float64)
    out_shape = F.max_pool2d(torch.tensor(x), kernel, stride).shape
    build, torch_build = weighted(
        lambda t: max_pool2d(t, kernel, stride),
        lambda t: F.max_pool2d(t, kernel, stride),
        tuple(out_shape),
    )
    assert_matches_torch(build, torch_build, x, atol=1e-8)


def test_max_pool_tie_rule_and_overlap_by_hand():
    flat = Tensor(np.zeros((1, 1, 4, 4)), requires_grad=True, dtype=np.float64)
    max_pool2d(flat, 3, 1).sum().backward()
    # all-equal windows: each of the four 3x3 windows gives its gradient to its top-left entry
    np.testing.assert_array_equal(
        flat.grad.data[0, 0], [[1, 1, 0, 0], [1, 1, 0, 0], [0] * 4, [0] * 4]
    )
    peak = np.zeros((1, 1, 4, 4))
    peak[0, 0, 2, 2] = 1.0
    t = Tensor(peak, requires_grad=True, dtype=np.float64)
    max_pool2d(t, 3, 1).sum().backward()
    assert t.grad.data[0, 0, 2, 2] == 4.0  # the maximum of all four overlapping windows


# ── layers and a small CNN ─────────────────────────────────────────────────────────────────


@requires_torch
def test_layers_match_torch_modules():
    np.random.seed(1)
    conv = Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 0))
    twin = torch.nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 0))
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(conv.weight.data))
        twin.bias.copy_(torch.tensor(conv.bias.data))
    x = RNG.normal(size=(2, 3, 9, 7)).astype(np.float32)
    np.testing.assert_allclose(conv(x).data, twin(torch.tensor(x)).detach().numpy(), atol=1e-5)
    for ours, theirs in [
        (MaxPool2d(2), torch.nn.MaxPool2d(2)),
        (MaxPool2d(3, stride=1), torch.nn.MaxPool2d(3, stride=1)),
        (AvgPool2d((2, 3)), torch.nn.AvgPool2d((2, 3))),
        (Flatten(), torch.nn.Flatten()),
    ]:
        np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).numpy(), atol=1e-6)
    assert conv.num_parameters() == sum(p.numel() for p in twin.parameters())


@requires_torch
def test_small_cnn_gradients_match_torch():
    """Conv, ReLU, max pool, strided padded conv, overlapping avg pool, Flatten, Linear."""
    np.random.seed(2)
    model = Sequential(
        Conv2d(1, 4, 3, padding=1),
        ReLU(),
        MaxPool2d(2),
        Conv2d(4, 6, (3, 2), stride=2, padding=1),
        ReLU(),
        AvgPool2d(2, stride=1),
        Flatten(),
        Linear(6 * 2 * 2, 3),
    )
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    x = RNG.normal(size=(5, 1, 10, 10))
    labels = np.array([0, 1, 2, 1, 0])
    loss = cross_entropy(model(Tensor(x, dtype=np.float64)), labels)
    loss.backward()

    params = [torch.tensor(p.data, requires_grad=True) for p in model.parameters()]
    w1, b1, w2, b2, w3, b3 = params
    h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(x), w1, b1, 1, 1)), 2)
    h = F.avg_pool2d(F.relu(F.conv2d(h, w2, b2, 2, 1)), 2, 1)
    logits = h.flatten(1) @ w3 + b3
    torch_loss = F.cross_entropy(logits, torch.tensor(labels))
    torch_loss.backward()
    assert abs(float(loss.data) - torch_loss.item()) < 1e-10
    for (name, ours), theirs in zip(model.named_parameters(), params):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), atol=1e-10, err_msg=name)


def test_bad_shapes_and_arguments_raise_clear_errors():
    conv = Conv2d(3, 2, 3)
    with pytest.raises(ValueError, match="expects 3 input channels, got 1"):
        conv(np.zeros((1, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        conv(np.zeros((3, 5, 5)))
    with pytest.raises(ValueError, match="does not fit"):
        conv(np.zeros((1, 3, 2, 2)))
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2d(3, 2, 0)
    with pytest.raises(ValueError, match="padding"):
        Conv2d(3, 2, 3, padding=-1)
    with pytest.raises(ValueError, match="stride"):
        MaxPool2d(2, stride=(1, 2, 3))
    with pytest.raises(ValueError, match="does not fit"):
        MaxPool2d(3)(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="bias"):
        conv2d(Tensor(np.zeros((1, 1, 3, 3))), Tensor(np.zeros((2, 1, 2, 2))), Tensor(np.zeros(3)))
