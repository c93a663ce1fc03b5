"""Module 05 (autograd): every Tensor op's gradient against finite differences and PyTorch,
broadcasting, matmul variants, reductions, shared tensors, and the engine itself."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from tests.tinytorch.gradcheck import assert_matches_torch, requires_torch, torch
from tinytorch.core.autograd import no_grad, topological_order
from tinytorch.core.tensor import GradMode, Tensor

RNG = np.random.default_rng(5)


def normal(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape)


def positive(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, size=shape)


# -- elementwise ops ------------------------------------------------------------------------

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}
SHAPE_PAIRS = [
    ((3, 4), (3, 4)),
    ((4, 3), (3,)),  # bias add: (B, N) + (N,)
    ((4, 1), (4, 3)),  # (B, 1) with (B, N)
    ((1, 3), (4, 1)),  # both sides stretched
    ((2, 1, 3), (4, 1)),  # a missing leading dimension and a stretched one
    ((), (3,)),  # a 0-d tensor
]


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_binary_op_gradients(gradients, op, shapes):
    make = positive if op == "div" else normal
    fn = BINARY[op]
    gradients(fn, fn, make(*shapes[0]), make(*shapes[1]), name=f"{op}{shapes}")


@pytest.mark.parametrize(
    "name, fn",
    [
        ("number - a", lambda a: 2.0 - a),
        ("number / a", lambda a: 3.0 / a),
        ("a * number", lambda a: a * 1.5),
        ("number + a", lambda a: 0.5 + a),
        ("a / number", lambda a: a / 4.0),
    ],
)
def test_ops_with_python_numbers(gradients, name, fn):
    gradients(fn, fn, positive(3, 2), name=name)


@pytest.mark.parametrize(
    "name, fn, torch_name, make",
    [
        ("neg", lambda a: -a, "neg", normal),
        ("exp", lambda a: a.exp(), "exp", normal),
        ("log", lambda a: a.log(), "log", positive),
        ("sqrt", lambda a: a.sqrt(), "sqrt", positive),
    ],
)
def test_unary_op_gradients(gradients, name, fn, torch_name, make):
    gradients(fn, lambda a: getattr(torch, torch_name)(a), make(3, 4), name=name)


@pytest.mark.parametrize(
    "exponent, make", [(2, normal), (3, normal), (0.5, positive), (-1.5, positive), (1, normal)]
)
def test_pow_gradients(gradients, exponent, make):
    def fn(a):
        return a**exponent

    gradients(fn, fn, make(3, 4), name=f"pow {exponent}")


@settings(max_examples=15, deadline=None)
@given(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
def test_broadcast_gradients_property(gradients, shapes):
    """For any two broadcastable shapes, the unbroadcast gradients of a*b + a are exact."""
    a, b = normal(*shapes.input_shapes[0]), normal(*shapes.input_shapes[1])

    def fn(x, y):
        return x * y + x

    gradients(fn, fn, a, b, name=f"broadcast {shapes.input_shapes}")


# -- matmul ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "left, right",
    [
        ((3, 4), (4, 2)),
        ((5, 3, 4), (4, 2)),  # batched input, shared weight
        ((2, 3, 4), (2, 4, 2)),  # batched on both sides
        ((2, 1, 3, 4), (5, 4, 2)),  # batch dimensions broadcast
        ((3, 4), (2, 4, 5)),  # matrix on the left of a batch
        ((4,), (4, 2)),  # vector on the left
        ((3, 4), (4,)),  # vector on the right
        ((4,), (4,)),  # dot product
        ((4,), (2, 4, 3)),  # vector against a batch
        ((2, 3, 4), (4,)),  # batch against a vector
    ],
    ids=str,
)
def test_matmul_gradients(gradients, left, right):
    def fn(a, b):
        return a @ b

    gradients(fn, fn, normal(*left), normal(*right), name=f"matmul {left} @ {right}")


# -- reductions -----------------------------------------------------------------------------


def torch_reduce(reduce: str, a, axis, keepdims: bool):
    dims = tuple(range(a.ndim)) if axis is None else axis
    functions = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax}
    return functions[reduce](a, dim=dims, keepdim=keepdims)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_gradients(gradients, reduce, axis, keepdims):
    def fn(a):
        return getattr(a, reduce)(axis=axis, keepdims=keepdims)

    def torch_fn(a):
        return torch_reduce(reduce, a, axis, keepdims)

    gradients(fn, torch_fn, normal(2, 3, 4), name=f"{reduce}(axis={axis}, keepdims={keepdims})")


@requires_torch
def test_max_shares_the_gradient_between_ties_like_torch_amax():
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    x = Tensor(data, requires_grad=True, dtype=np.float64)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    assert_matches_torch(
        lambda a: (a.max() * 2).sum(), lambda a: torch.amax(a, dim=(0, 1)) * 2, data
    )


# -- shapes and indexing --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, fn, torch_fn",
    [
        ("reshape", lambda a: a.reshape(4, 6), lambda a: a.reshape(4, 6)),
        ("reshape -1", lambda a: a.reshape((-1,)), lambda a: a.reshape(-1)),
        ("transpose", lambda a: a.transpose(), lambda a: a.transpose(-2, -1)),
        ("transpose 0 2", lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2)),
        ("permute", lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1)),
        ("T", lambda a: a.T, lambda a: a.transpose(-2, -1)),
    ],
)
def test_view_gradients(gradients, name, fn, torch_fn):
    gradients(fn, torch_fn, normal(2, 3, 4), name=name)


def as_torch_index(index):
    if isinstance(index, np.ndarray):
        return torch.from_numpy(index)
    if isinstance(index, tuple):
        return tuple(as_torch_index(i) for i in index)
    return index


@pytest.mark.parametrize(
    "index",
    [
        1,
        -1,
        slice(1, 3),
        (slice(None), slice(None, None, 2)),
        (2, 1),
        np.array([3, 0, 3, 3]),  # repeated ids: contributions add up
        (np.array([0, 1, 1]), np.array([2, 0, 0])),  # repeated pairs
        (slice(None), np.array([1, 1, 0])),
        np.array([True, False, True, True]),
    ],
    ids=repr,
)
def test_getitem_gradients(gradients, index):
    def fn(a):
        return a[index]

    def torch_fn(a):
        return a[as_torch_index(index)]

    gradients(fn, torch_fn, normal(4, 3), name=f"getitem {index!r}")


def test_repeated_indices_scatter_add():
    table = Tensor(np.zeros((5, 2)), requires_grad=True)
    table[np.array([1, 1, 4, 1])].sum().backward()
    np.testing.assert_array_equal(table.grad.data[:, 0], [0, 3, 0, 0, 1])


# -- graphs: shared tensors, diamonds, depth ------------------------------------------------


@pytest.mark.parametrize(
    "name, fn",
    [
        ("a * a", lambda a, b: a * a),
        ("a @ a.T", lambda a, b: a @ a.T),
        ("(a + a*b) / b", lambda a, b: (a + a * b) / b),
        ("a[0] * a[[0, 0]]", lambda a, b: a[0] * a[np.array([0, 0])]),
        ("residual a + f(a)", lambda a, b: a + (a * b).exp() * a),
    ],
)
def test_tensor_used_twice(gradients, name, fn):
    gradients(fn, fn, positive(3, 3), positive(3, 3), name=name)


def test_diamond_graph(gradients):
    """a feeds b and c, both feed d: a's gradient is the sum over both paths."""

    def fn(a):
        b = a * 3.0
        c = a.exp()
        return b * c + b - c

    gradients(fn, fn, normal(2, 3), name="diamond")
    a = Tensor([0.5], requires_grad=True, dtype=np.float64)
    b, c = a * 3.0, a.exp()
    (b * c + b - c).sum().backward()
    expected = 3 * np.exp(0.5) + 0.5 * 3 * np.exp(0.5) + 3 - np.exp(0.5)
    np.testing.assert_allclose(a.grad.data, [expected])


def chain(x: Tensor, steps: int) -> Tensor:
    """y ← 1.001·y + 0.001, `steps` times: 2·steps ops in a line."""
    y = x
    for _ in range(steps):
        y = y * 1.001 + 0.001
    return y


def test_two_thousand_op_chain(record_timing):
    x = Tensor([1.0], requires_grad=True, dtype=np.float64)
    y = chain(x, 1000)
    assert len(topological_order(y)) == 2001, "each of the 2,000 ops visited exactly once"
    y.sum().backward()  # no RecursionError: the engine does not recurse
    np.testing.assert_allclose(x.grad.data, [1.001**1000], rtol=1e-12)

    seconds = []
    for _ in range(5):
        x = Tensor([1.0], requires_grad=True, dtype=np.float64)
        loss = chain(x, 1000).sum()
        start = time.perf_counter()
        loss.backward()
        seconds.append(time.perf_counter() - start)
    record_timing("backward through a 2,000-op chain (median of 5)", statistics.median(seconds))


# -- the engine's contract ------------------------------------------------------------------


def test_backward_of_a_non_scalar_needs_a_gradient():
    y = Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()


@requires_torch
def test_backward_with_an_explicit_gradient_matches_torch():
    data, seed = normal(2, 3), normal(2, 3)
    x = Tensor(data, requires_grad=True, dtype=np.float64)
    (x.exp() * x).backward(seed)
    t = torch.tensor(data, requires_grad=True)
    (t.exp() * t).backward(torch.tensor(seed))
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-12)


def test_backward_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="require"):
        (Tensor([1.0]) * 2).sum().backward()


def test_gradients_accumulate_until_zero_grad():
    x = Tensor([2.0, -1.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2 * 2 + 3, 2 * -1 + 3])
    assert x.grad.dtype == np.float32 and x.grad.shape == x.shape
    x.zero_grad()
    assert x.grad is None


def test_only_leaves_that_require_grad_get_gradients():
    x = Tensor([1.0, 2.0], requires_grad=True)
    constant = Tensor([3.0, 4.0])
    unused = Tensor([5.0], requires_grad=True)
    (x * constant).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3, 4])
    assert constant.grad is None and unused.grad is None


def test_no_grad_records_nothing_and_restores_the_mode():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2 + 1
        assert not GradMode.enabled
    assert GradMode.enabled
    assert not y.requires_grad and y._op is None and y._inputs == ()
    with pytest.raises(ValueError), no_grad():
        raise ValueError("an error inside the block")
    assert GradMode.enabled, "no_grad() restores the mode even after an exception"
    with no_grad(), no_grad():
        pass
    assert GradMode.enabled


def test_leaf_gradient_keeps_the_leaf_dtype():
    """A float64 leaf gets a float64 .grad: float64 gradient checks must not round to float32."""
    for dtype in (np.float32, np.float64):
        x = Tensor([0.1, 0.2], requires_grad=True, dtype=dtype)
        (x * 3).sum().backward()
        assert x.grad.dtype == dtype, f"{dtype.__name__} leaf got a {x.grad.dtype} gradient"
