"""Module 01 (tensor): forward values of every op against NumPy, dtype rules, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays, mutually_broadcastable_shapes

from tinytorch.core.tensor import GradMode, Tensor, as_tensor

RNG = np.random.default_rng(0)


def normal(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape)


def positive(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, size=shape)


def f64(array) -> Tensor:
    return Tensor(array, dtype=np.float64)


# -- elementwise arithmetic -----------------------------------------------------------------

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
}
SHAPE_PAIRS = [((3, 4), (3, 4)), ((4, 3), (3,)), ((4, 1), (4, 3)), ((2, 1, 3), (4, 1)), ((), (2,))]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_binary_ops_match_numpy(name, shapes):
    ours, theirs = BINARY[name]
    a, b = positive(*shapes[0]), positive(*shapes[1])
    out = ours(f64(a), f64(b))
    assert isinstance(out, Tensor) and out.shape == theirs(a, b).shape
    np.testing.assert_allclose(out.data, theirs(a, b), rtol=1e-15)


@pytest.mark.parametrize("name", BINARY)
def test_reflected_ops_with_numbers_and_arrays(name):
    ours, theirs = BINARY[name]
    a = positive(2, 3)
    np.testing.assert_allclose(ours(2.5, f64(a)).data, theirs(2.5, a))
    np.testing.assert_allclose(ours(f64(a), 2.5).data, theirs(a, 2.5))
    result = ours(np.ones((2, 3)), f64(a))
    assert isinstance(result, Tensor), "ndarray (op) Tensor gives a Tensor, not an ndarray"


@pytest.mark.parametrize(
    "name, ours, theirs",
    [
        ("neg", lambda t: -t, np.negative),
        ("exp", Tensor.exp, np.exp),
        ("log", Tensor.log, np.log),
        ("sqrt", Tensor.sqrt, np.sqrt),
        ("pow2", lambda t: t**2, lambda a: a**2),
        ("pow3", lambda t: t**3, lambda a: a**3),
        ("pow-half", lambda t: t**-0.5, lambda a: a**-0.5),
    ],
)
def test_unary_ops_match_numpy(name, ours, theirs):
    a = positive(3, 4)
    np.testing.assert_allclose(ours(f64(a)).data, theirs(a), rtol=1e-15)


def test_comparisons_give_boolean_tensors_without_graph():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [
        (x < 2, [True, False, False]),
        (x <= 2, [True, True, False]),
        (x > 2, [False, False, True]),
        (x >= 2, [False, True, True]),
    ]:
        assert result.dtype == bool and np.array_equal(result.data, expected)
        assert not result.requires_grad


@settings(max_examples=30, deadline=None)
@given(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4))
def test_broadcasting_matches_numpy(shapes):
    a, b = normal(*shapes.input_shapes[0]), normal(*shapes.input_shapes[1])
    out = f64(a) * f64(b) + f64(b)
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.data, a * b + b, rtol=1e-15)


# -- matmul ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "left, right",
    [
        ((3, 4), (4, 2)),
        ((5, 3, 4), (4, 2)),
        ((2, 3, 4), (2, 4, 2)),
        ((2, 1, 3, 4), (5, 4, 2)),
        ((4,), (4, 2)),
        ((3, 4), (4,)),
        ((4,), (4,)),
        ((4,), (2, 4, 3)),
    ],
    ids=str,
)
def test_matmul_matches_numpy(left, right):
    a, b = normal(*left), normal(*right)
    out = f64(a) @ f64(b)
    np.testing.assert_allclose(out.data, a @ b, rtol=1e-13)
    np.testing.assert_allclose(f64(a).matmul(f64(b)).data, a @ b, rtol=1e-13)
    # A bare float64 ndarray operand becomes a float32 Tensor first (Tensor's creation rule).
    np.testing.assert_allclose((a @ f64(b)).data, a @ b, rtol=1e-6, atol=1e-6)


def test_matmul_errors_show_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 3\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="at least one dimension"):
        Tensor(2.0) @ Tensor(np.ones(3))


# -- reductions -----------------------------------------------------------------------------


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(reduce, axis, keepdims):
    a = normal(2, 3, 4)
    out = getattr(f64(a), reduce)(axis=axis, keepdims=keepdims)
    expected = getattr(np, reduce)(a, axis=axis, keepdims=keepdims)
    assert isinstance(out.data, np.ndarray) and out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-14)


def test_argmax_item_and_conversions():
    t = Tensor([[1.0, 5.0, 3.0], [7.0, 2.0, 6.0]])
    assert np.array_equal(t.argmax(axis=1).data, [1, 0]) and t.argmax().item() == 3
    assert t.sum().item() == 24.0 and isinstance(t.sum().item(), float)
    assert t.tolist() == [[1.0, 5.0, 3.0], [7.0, 2.0, 6.0]] and len(t) == 2
    assert t.numpy() is t.data and np.asarray(t) is t.data
    assert "shape=(2, 3)" in repr(t) and "float32" in repr(t)


# -- shapes and indexing --------------------------------------------------------------------


def test_reshape_transpose_permute_are_views():
    a = normal(2, 3, 4)
    t = f64(a)
    for out, expected in [
        (t.reshape(6, 4), a.reshape(6, 4)),
        (t.reshape((4, -1)), a.reshape(4, -1)),
        (t.transpose(), np.swapaxes(a, -1, -2)),
        (t.transpose(0, 2), np.swapaxes(a, 0, 2)),
        (t.permute(2, 0, 1), a.transpose(2, 0, 1)),
        (t.permute((1, 2, 0)), a.transpose(1, 2, 0)),
        (t.T, np.swapaxes(a, -1, -2)),
    ]:
        np.testing.assert_array_equal(out.data, expected)
        assert np.shares_memory(out.data, t.data)
    vector = f64(normal(3))
    assert vector.transpose() is vector, "a 1-d tensor has nothing to transpose"


@pytest.mark.parametrize(
    "index",
    [
        0,
        -1,
        slice(1, 3),
        (slice(None), slice(None, None, 2)),
        (0, 2),
        np.array([2, 0, 2]),
        (np.array([0, 1, 1]), np.array([3, 0, 0])),
        (slice(None), np.array([1, 1])),
        np.array([True, False, True]),
        (Ellipsis, 1),
    ],
    ids=repr,
)
def test_indexing_matches_numpy(index):
    a = normal(3, 4)
    np.testing.assert_array_equal(f64(a)[index].data, a[index])


def test_tensor_indices_are_accepted():
    a = normal(4, 3)
    ids = Tensor([3, 1, 3])
    np.testing.assert_array_equal(f64(a)[ids].data, a[[3, 1, 3]])
    np.testing.assert_array_equal(f64(a)[ids, Tensor([0, 2, 1])].data, a[[3, 1, 3], [0, 2, 1]])


# -- dtype rules ----------------------------------------------------------------------------


def test_float_data_becomes_float32_unless_asked():
    assert Tensor([1.5, 2.0]).dtype == np.float32
    assert Tensor(np.zeros(3, dtype=np.float64)).dtype == np.float32
    assert Tensor(np.zeros(3, dtype=np.float16)).dtype == np.float32
    assert Tensor(2.5).dtype == np.float32 and Tensor(2.5).shape == ()
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64


def test_integers_and_booleans_are_kept():
    assert Tensor([1, 2, 3]).dtype.kind == "i"
    assert Tensor(np.arange(3, dtype=np.int32)).dtype == np.int32
    assert Tensor([True, False]).dtype == bool


def test_results_keep_their_inputs_precision():
    f32, f64_ = Tensor([1.0, 2.0]), Tensor([1.0, 2.0], dtype=np.float64)
    assert (f32 * 2).dtype == np.float32 and (2.0 * f32).dtype == np.float32
    assert (f64_ * 2).dtype == np.float64 and (f64_ / 3.0).dtype == np.float64
    assert (f32 + f32).dtype == np.float32 and (f32 @ f32).dtype == np.float32
    assert (f32 + f64_).dtype == np.float64, "mixed precision promotes, as in NumPy"
    assert f32.exp().dtype == np.float32 and f32.sum().dtype == np.float32
    assert f32.mean().dtype == np.float32 and (f32**2).dtype == np.float32


def test_creation_from_tensors_and_as_tensor():
    t = Tensor([[1.0, 2.0]])
    assert Tensor(t).shape == (1, 2) and as_tensor(t) is t
    assert isinstance(as_tensor([1, 2]), Tensor) and as_tensor(np.ones(2)).dtype == np.float32
    d = t.detach()
    assert np.shares_memory(d.data, t.data) and not d.requires_grad


# -- graph recording and errors -------------------------------------------------------------


def test_graph_is_recorded_only_when_needed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).sum()
    assert y.requires_grad and y._op == "sum" and y._inputs[0]._op == "mul"
    c = Tensor([1.0, 2.0])
    assert (c * 2)._op is None and not (c * 2).requires_grad
    GradMode.enabled = False
    try:
        assert (x * 2)._op is None and not (x * 2).requires_grad
    finally:
        GradMode.enabled = True


def test_errors():
    with pytest.raises(TypeError):
        Tensor([{"a": 1}])
    with pytest.raises(TypeError, match="exponent"):
        Tensor([1.0]) ** Tensor([2.0])
    with pytest.raises(ValueError):
        Tensor(np.ones(6)).reshape(4, 2)


@settings(max_examples=20, deadline=None)
@given(arrays(np.float64, st.integers(1, 6), elements=st.floats(-1e3, 1e3)))
def test_sum_and_mean_agree_with_numpy_on_any_vector(values):
    t = f64(values)
    np.testing.assert_allclose(t.sum().item(), values.sum(), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(t.mean().item(), values.mean(), rtol=1e-12, atol=1e-9)


# -- NumPy interoperability (issue 19, point 4) ---------------------------------------------


def test_numpy_reads_a_tensor_without_grad():
    t = Tensor([[-1.5, 2.0], [3.0, -4.0]])
    assert np.asarray(t) is t.data
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    copied = np.array(t)
    assert not np.shares_memory(copied, t.data) and np.array_equal(copied, t.data)
    with pytest.raises(ValueError):
        np.asarray(t, dtype=np.float64, copy=False)  # NumPy 2: a conversion cannot avoid a copy
    np.testing.assert_array_equal(np.abs(t), np.abs(t.data))
    np.testing.assert_array_equal(np.clip(t, -2, 2), np.clip(t.data, -2, 2))
    assert isinstance(np.abs(t), np.ndarray) and np.max(np.abs(t)) == 4.0
    np.testing.assert_allclose(np.linalg.norm(t), np.linalg.norm(t.data))
    np.testing.assert_array_equal(np.isnan(t), np.zeros((2, 2), bool))


@pytest.mark.parametrize(
    "call, hint",
    [
        (np.asarray, "t.detach()"),
        (lambda w: np.array(w), "t.detach()"),
        (np.abs, "relu(t) + relu(-t)"),
        (lambda w: np.clip(w, 0, 1), "t.detach()"),
        (np.exp, "t.exp()"),
        (np.log, "t.log()"),
        (np.sqrt, "t.sqrt()"),
        (lambda w: np.maximum(w, 0), "relu(t)"),
        (np.sin, "Tensor operations"),
        (lambda w: np.add.reduce(w), "Tensor operations"),
    ],
)
def test_numpy_refuses_a_tensor_that_requires_grad(call, hint):
    w = Tensor([1.0, -2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad") as error:
        call(w)
    assert hint in str(error.value)


def test_array_operators_stay_tensor_ops_and_in_the_graph():
    w = Tensor([1.0, -2.0], requires_grad=True, dtype=np.float64)
    for result, op in [
        (np.ones(2) + w, "add"),
        (np.ones(2) - w, "sub"),
        (np.ones(2) * w, "mul"),
        (np.ones(2) / w, "div"),
        (np.float64(3.0) * w, "mul"),
        (np.add(w, 1.0), "add"),
        (np.ones((3, 2)) @ w, "matmul"),
    ]:
        assert isinstance(result, Tensor) and result._op == op
        assert result.dtype == np.float64, "the array operand takes the tensor's precision"
    np.testing.assert_array_equal((np.ones(2) - w).data, [0.0, 3.0])
    less = np.zeros(2) < w
    assert isinstance(less, Tensor) and np.array_equal(less.data, [True, False])
    assert not less.requires_grad
    np.testing.assert_array_equal(np.zeros(2) == w, [False, False])  # booleans: no gradient


def test_assigning_an_array_to_grad_stores_a_tensor():
    p = Tensor([1.0, 2.0], requires_grad=True)
    p.grad = np.array([0.5, -0.5])
    assert isinstance(p.grad, Tensor) and p.grad.dtype == np.float32
    np.testing.assert_array_equal(np.abs(p.grad), [0.5, 0.5])
    p.grad = [1, 2]
    assert isinstance(p.grad, Tensor) and p.grad.dtype == np.float32
    d = Tensor([1.0], requires_grad=True, dtype=np.float64)
    d.grad = np.ones(1, dtype=np.float32)
    assert d.grad.dtype == np.float64
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        p.grad = np.ones(3)
    p.grad = None
    assert p.grad is None


def test_optimizers_step_with_an_ndarray_grad():
    optimizers = pytest.importorskip("tinytorch.core.optimizers")
    for make in (lambda ps: optimizers.SGD(ps, lr=0.5), lambda ps: optimizers.Adam(ps, lr=0.1)):
        p = Tensor([1.0, -1.0], requires_grad=True)
        optimizer = make([p])
        p.grad = np.array([1.0, -1.0])
        optimizer.step()
        assert p.data[0] < 1.0 and p.data[1] > -1.0
        optimizer.zero_grad()
        assert p.grad is None


def test_numpy_reductions_are_tensor_reductions():
    """np.sum(t), np.mean(t), np.max(t) call the Tensor's methods: recorded ops, gradients."""
    w = Tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True, dtype=np.float64)
    total, means, top = np.sum(w), np.mean(w, axis=0), np.max(w, axis=1, keepdims=True)
    assert [r._op for r in (total, means, top)] == ["sum", "mean", "max"]
    np.testing.assert_array_equal(means.data, [2.0, 1.0])
    assert top.shape == (2, 1) and np.array_equal(top.data, [[1.0], [4.0]])
    (total + means.sum() + top.sum()).backward()
    np.testing.assert_array_equal(w.grad.data, [[2.5, 1.5], [1.5, 2.5]])


@pytest.mark.parametrize(
    "call, named",
    [
        (lambda t: np.sum(t, out=np.zeros(())), "out"),
        (lambda t: np.mean(t, dtype=np.float64), "dtype"),
        (lambda t: np.max(t, initial=0.0), "initial"),
        (lambda t: t.sum(keepdim=True), "keepdim"),  # PyTorch's spelling, not ours
    ],
)
def test_reductions_refuse_numpy_options_they_cannot_honour(call, named):
    with pytest.raises(TypeError, match=f"axis and keepdims only, not {named}"):
        call(Tensor([1.0, 2.0]))
