# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 05: Autograd
#
# Since module 01 every operation has recorded how its result was made:
# `out._op` (a name such as `"mul"`), `out._inputs` (the tensors it read) and `out._saved`
# (anything else the gradient needs). That record is a **computational graph**. In this
# module you turn it into gradients:
#
# 1. one **gradient rule** per op name: given dL/d(out), return dL/d(input) for each input;
# 2. one **engine**, `backward(root)`, that visits every node once, in reverse topological
#    order, and adds up the contributions.
#
# **The chain rule.** If `y = f(x)` and the loss L depends on y, then
# `dL/dx = dL/dy * dy/dx`. For `out = a * b`: `dL/da = g * b` and `dL/db = g * a`, where
# `g = dL/d(out)` has the shape of `out`. Every rule below is one line of calculus like this.
#
# **Accumulation.** A tensor used twice (`y = x * x`, or a residual connection `x + f(x)`)
# receives a gradient from each use; the engine adds them (`+=`), it never overwrites.
#
# **Broadcasting.** If `b` of shape `(N,)` was stretched to `(B, N)` in `a + b`, the rule
# returns a `(B, N)` gradient for b; the engine sums it back to `(N,)` with `unbroadcast`.
# Doing this once in the engine means no rule has to think about it.
#
# **Order.** A node's gradient is complete only when every node that used it has passed its
# contribution back. Reverse topological order guarantees that. We compute the order with an
# explicit stack, not recursion: a 2,000-layer chain would overflow Python's recursion limit,
# and each node is visited exactly once, so the cost is linear in the size of the graph.
#
# The rules for the activations (02) and losses (04) live here too: those modules recorded
# ops named `"relu"`, `"softmax"`, `"cross_entropy"`, ... and now they learn to train.

# %%
#| default_exp core.autograd
#| export
import contextlib
import math

import numpy as np

from tinytorch.core.tensor import GradMode, Tensor

# %% [markdown]
# ## The rule table and broadcasting
#
# `GRADIENTS` maps an op name to its rule. `@gradient_rule("mul")` registers a function in
# it; later modules (attention, layer norm) register their own fused ops the same way.
# A rule receives `g` (an ndarray shaped like the output) and the output tensor `out`, and
# returns one gradient (or `None`) per entry of `out._inputs`.

# %% nbgrader={"grade": false, "grade_id": "rule-table", "locked": false, "schema_version": 3, "solution": true}
#| export
GRADIENTS: dict = {}


def gradient_rule(op: str):
    """Register `fn(g, out) -> tuple of input gradients` as the rule of `op`."""

    def register(fn):
        GRADIENTS[op] = fn
        return fn

    return register


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` over the dimensions that broadcasting stretched, giving `shape`."""
    ### BEGIN SOLUTION
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)
    ### END SOLUTION


# %% [markdown]
# ## Rules for the Tensor operations of module 01
#
# | op | out | dL/d(input) |
# |---|---|---|
# | add | a + b | g, g |
# | sub | a - b | g, -g |
# | mul | a * b | g·b, g·a |
# | div | a / b | g/b, -g·a/b² |
# | pow | aᵖ | g·p·aᵖ⁻¹ |
# | exp | eᵃ | g·out |
# | log | ln a | g/a |
# | sqrt | √a | g/(2·out) |
# | matmul | A @ B | g @ Bᵀ, Aᵀ @ g |
# | sum / mean | reduce | g spread back over the reduced axes (÷ count for mean) |
# | max | reduce | g to the position(s) of the maximum, shared equally on ties |
# | reshape / permute | view | g reshaped / permuted back |
# | getitem | a[i] | g scattered into zeros at i (repeated indices add up) |


# %% nbgrader={"grade": false, "grade_id": "tensor-rules", "locked": false, "schema_version": 3, "solution": true}
#| export
@gradient_rule("add")
def _add_grad(g, out):
    return g, g


@gradient_rule("sub")
def _sub_grad(g, out):
    return g, -g


@gradient_rule("mul")
def _mul_grad(g, out):
    a, b = out._inputs
    ### BEGIN SOLUTION
    return g * b.data, g * a.data
    ### END SOLUTION


@gradient_rule("div")
def _div_grad(g, out):
    a, b = out._inputs
    ### BEGIN SOLUTION
    grad_a = g / b.data
    return grad_a, -grad_a * out.data
    ### END SOLUTION


@gradient_rule("neg")
def _neg_grad(g, out):
    return (-g,)


@gradient_rule("pow")
def _pow_grad(g, out):
    (a,), p = out._inputs, out._saved
    ### BEGIN SOLUTION
    return (g * p * a.data ** (p - 1),)
    ### END SOLUTION


@gradient_rule("exp")
def _exp_grad(g, out):
    return (g * out.data,)


@gradient_rule("log")
def _log_grad(g, out):
    return (g / out._inputs[0].data,)


@gradient_rule("sqrt")
def _sqrt_grad(g, out):
    return (g / (2 * out.data),)


@gradient_rule("matmul")
def _matmul_grad(g, out):
    a, b = out._inputs
    ### BEGIN SOLUTION
    left, right = a.data, b.data
    if left.ndim == 1 and right.ndim == 1:  # dot product: out and g are scalars
        return g * right, g * left
    if right.ndim == 2 and left.ndim > 2:
        # (..., K) @ (K, N): fold the batch into rows, so the weight's gradient is one
        # (K, rows) @ (rows, N) product instead of one per batch element summed afterwards.
        rows, g_rows = left.reshape(-1, left.shape[-1]), g.reshape(-1, g.shape[-1])
        return (g_rows @ right.T).reshape(left.shape), rows.T @ g_rows
    # Treat vectors as matrices: (K,) is a row (1, K) on the left, a column (K, 1) on the right.
    if left.ndim == 1:
        left, g = left[None, :], np.expand_dims(g, -2)
    if right.ndim == 1:
        right, g = right[:, None], np.expand_dims(g, -1)
    grad_a = g @ np.swapaxes(right, -1, -2)
    grad_b = np.swapaxes(left, -1, -2) @ g
    if a.data.ndim == 1:
        grad_a = grad_a[..., 0, :]
    if b.data.ndim == 1:
        grad_b = grad_b[..., 0]
    return grad_a, grad_b
    ### END SOLUTION


def _expand_reduced(g: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """Put back the axes a reduction removed, so `g` broadcasts against the input."""
    if axis is None or keepdims:
        return g.reshape([1] * len(shape)) if axis is None and not keepdims else g
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return np.expand_dims(g, tuple(a % len(shape) for a in axes))


@gradient_rule("sum")
def _sum_grad(g, out):
    (a,), (axis, keepdims) = out._inputs, out._saved
    ### BEGIN SOLUTION
    return (np.broadcast_to(_expand_reduced(g, a.shape, axis, keepdims), a.shape),)
    ### END SOLUTION


@gradient_rule("mean")
def _mean_grad(g, out):
    (a,), (axis, keepdims) = out._inputs, out._saved
    ### BEGIN SOLUTION
    count = a.size // max(out.size, 1)
    spread = _expand_reduced(g, a.shape, axis, keepdims) / count
    return (np.broadcast_to(spread, a.shape),)
    ### END SOLUTION


@gradient_rule("max")
def _max_grad(g, out):
    (a,), (axis, keepdims) = out._inputs, out._saved
    ### BEGIN SOLUTION
    top = _expand_reduced(out.data, a.shape, axis, keepdims)
    winners = a.data == top
    share = winners / winners.sum(axis=axis, keepdims=True)
    return (_expand_reduced(g, a.shape, axis, keepdims) * share,)
    ### END SOLUTION


@gradient_rule("reshape")
def _reshape_grad(g, out):
    return (g.reshape(out._inputs[0].shape),)


@gradient_rule("permute")
def _permute_grad(g, out):
    return (np.transpose(g, np.argsort(out._saved)),)


@gradient_rule("getitem")
def _getitem_grad(g, out):
    (a,), index = out._inputs, out._saved
    ### BEGIN SOLUTION
    grad = np.zeros(a.shape, dtype=g.dtype)
    np.add.at(grad, index, g)  # not grad[index] = g: repeated ids must add up
    return (grad,)
    ### END SOLUTION


# %% [markdown]
# ## Rules for activations (module 02) and losses (module 04)
#
# These ops compute their output in one NumPy expression and get one hand-derived rule each.
# That is both faster and more stable than differentiating through `exp`, `sum` and `log`
# one primitive at a time.
#
# - `relu`: `g · [x > 0]`.
# - `sigmoid` (out = s): `g · s(1 - s)`.  `tanh` (out = t): `g · (1 - t²)`.
# - `gelu` exact, x·Φ(x): `g · (Φ(x) + x·φ(x))`, with Φ the normal CDF and φ its density.
# - `gelu_tanh`, 0.5x(1 + tanh u) with u = √(2/π)(x + 0.044715x³):
#   `g · (0.5(1 + t) + 0.5x(1 - t²)·√(2/π)(1 + 3·0.044715x²))`.
# - `softmax` (out = s, along an axis): `s · (g - Σ g·s)`.
# - `log_softmax` (out = ℓ): `g - softmax · Σ g`.
# - `cross_entropy`, the mean over N rows of -log softmax(z)[y]: `g · (softmax(z) - onehot(y)) / N`.
# - `binary_cross_entropy`, mean of -(y ln p + (1-y) ln(1-p)): `g · (p - y) / (p(1-p)) / N`.


# %% nbgrader={"grade": false, "grade_id": "layer-rules", "locked": false, "schema_version": 3, "solution": true}
#| export
@gradient_rule("relu")
def _relu_grad(g, out):
    return (g * (out._inputs[0].data > 0),)


@gradient_rule("sigmoid")
def _sigmoid_grad(g, out):
    ### BEGIN SOLUTION
    s = out.data
    return (g * s * (1 - s),)
    ### END SOLUTION


@gradient_rule("tanh")
def _tanh_grad(g, out):
    ### BEGIN SOLUTION
    return (g * (1 - out.data * out.data),)
    ### END SOLUTION


_ERF = np.frompyfunc(math.erf, 1, 1)


@gradient_rule("gelu")
def _gelu_grad(g, out):
    x = out._inputs[0].data
    ### BEGIN SOLUTION
    cdf = 0.5 * (1.0 + np.asarray(_ERF(x / math.sqrt(2.0)), dtype=x.dtype))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return (g * (cdf + x * pdf),)
    ### END SOLUTION


@gradient_rule("gelu_tanh")
def _gelu_tanh_grad(g, out):
    x, t = out._inputs[0].data, out._saved  # t = tanh(u), saved by the forward pass
    ### BEGIN SOLUTION
    # g · (0.5(1 + t) + 0.5x(1 - t²)·du/dx), du/dx = c(1 + 3·0.044715x²), computed in place:
    # GELU runs on the MLP's widest activations, and each temporary array costs a pass over
    # memory (this is about 2.5x faster than the one-line formula).
    c = math.sqrt(2.0 / math.pi)
    du = x * x
    du *= 3 * 0.044715 * c
    du += c
    slope = 1.0 - t * t
    slope *= x
    slope *= du
    slope *= 0.5
    grad = t + 1.0
    grad *= 0.5
    grad += slope
    grad *= g
    return (grad,)
    ### END SOLUTION


@gradient_rule("softmax")
def _softmax_grad(g, out):
    s, axis = out.data, out._saved
    ### BEGIN SOLUTION
    return (s * (g - (g * s).sum(axis=axis, keepdims=True)),)
    ### END SOLUTION


@gradient_rule("log_softmax")
def _log_softmax_grad(g, out):
    axis = out._saved
    return (g - np.exp(out.data) * g.sum(axis=axis, keepdims=True),)


@gradient_rule("cross_entropy")
def _cross_entropy_grad(g, out):
    probs, targets = out._saved  # probs: (N, C) softmax of the logits; targets: (N,) ints
    ### BEGIN SOLUTION
    grad = probs.copy()
    grad[np.arange(len(targets)), targets] -= 1
    grad *= g / len(targets)
    return (grad.reshape(out._inputs[0].shape),)
    ### END SOLUTION


@gradient_rule("binary_cross_entropy")
def _binary_cross_entropy_grad(g, out):
    p, y = out._saved  # p clipped away from 0 and 1, as in the forward pass
    ### BEGIN SOLUTION
    return (g * (p - y) / (p * (1 - p)) / p.size,)
    ### END SOLUTION


# %% [markdown]
# ## The engine
#
# `backward(root)`:
#
# 1. seed: dL/dL = 1 (a scalar loss) or the `grad` you pass;
# 2. order the graph's nodes so every node comes after all its inputs (iterative depth-first
#    search: push a node, then its inputs; emit the node when its inputs are done);
# 3. walk that order backwards: look up the node's rule, get one gradient per input,
#    `unbroadcast` it to the input's shape, and add it to what the input has collected;
# 4. a leaf (a tensor made by you, with `requires_grad=True`) keeps its total in `.grad`,
#    adding to what an earlier `backward()` left there (call `zero_grad()` between steps).
#
# Intermediate gradients live in a dictionary for the duration of the pass only, so memory
# is released as soon as `backward()` returns.


# %% nbgrader={"grade": false, "grade_id": "engine", "locked": false, "schema_version": 3, "solution": true}
#| export
def topological_order(root: Tensor) -> list:
    """Every tensor `root` depends on (that needs a gradient), inputs before users."""
    ### BEGIN SOLUTION
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for parent in node._inputs:
            if parent.requires_grad and id(parent) not in seen:
                stack.append((parent, False))
    return order
    ### END SOLUTION


def backward(root: Tensor, grad=None) -> None:
    """Accumulate d(root)/d(leaf) into `.grad` of every leaf that requires a gradient."""
    if not root.requires_grad:
        raise RuntimeError(
            "backward(): this tensor does not require a gradient; "
            "create the parameters with requires_grad=True."
        )
    if grad is None:
        if root.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a scalar, not shape {root.shape}; "
                "pass grad= of that shape."
            )
        seed = np.ones(root.shape, dtype=root.dtype)
    else:
        seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=root.dtype)
        seed = np.broadcast_to(seed, root.shape)
    ### BEGIN SOLUTION
    grads = {id(root): seed}
    for node in reversed(topological_order(root)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if node._op is None:
            _accumulate_leaf(node, g)
            continue
        rule = GRADIENTS.get(node._op)
        if rule is None:
            raise RuntimeError(f"backward(): no gradient rule for op '{node._op}'.")
        for parent, parent_grad in zip(node._inputs, rule(g, node), strict=True):
            if parent_grad is None or not parent.requires_grad:
                continue
            parent_grad = unbroadcast(parent_grad, parent.shape)
            key = id(parent)
            grads[key] = parent_grad if key not in grads else grads[key] + parent_grad
    ### END SOLUTION


def _accumulate_leaf(leaf: Tensor, g: np.ndarray) -> None:
    if leaf.grad is None:
        # Copy: rules may hand the same array to several inputs (add gives g, g).
        leaf.grad = Tensor(np.array(g, dtype=leaf.dtype), dtype=leaf.dtype)
    else:
        leaf.grad.data += g


# %% [markdown]
# ## Switching the graph off
#
# Evaluation and text generation need no gradients. Inside `with no_grad():` no operation
# records anything, which saves the memory of the graph and the time to build it.


# %%
#| export
@contextlib.contextmanager
def no_grad():
    """Inside this block operations record no graph."""
    previous = GradMode.enabled
    GradMode.enabled = False
    try:
        yield
    finally:
        GradMode.enabled = previous


# %% [markdown]
# ## Checking gradients numerically
#
# Calculus is easy to get subtly wrong, so we check every rule against **central finite
# differences** in float64: `dL/dx_i ≈ (L(x + h·e_i) - L(x - h·e_i)) / 2h`, with error O(h²).
#
# The tests below call `backward(loss)`, the engine written in this file, rather than
# `loss.backward()`: the method uses the engine exported to the package, which exists only
# once you have completed this module.


# %%
def numerical_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central-difference estimate of the gradient of scalar f at x (float64)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        plus = f(x)
        x[i] = original - h
        minus = f(x)
        x[i] = original
        grad[i] = (plus - minus) / (2 * h)
    return grad


def check_gradients(build, *shapes, seed: int = 0, positive: bool = False) -> float:
    """Compare autograd with finite differences for loss = build(*tensors).

    Returns the largest error relative to the gradient's scale (max |g|, at least 1).
    """
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(0.5, 2.0, s) if positive else rng.normal(size=s) for s in shapes]
    tensors = [Tensor(a, requires_grad=True, dtype=np.float64) for a in arrays]
    backward(build(*tensors))
    worst = 0.0
    for k, array in enumerate(arrays):

        def loss_of(value, k=k):
            inputs = [Tensor(v, dtype=np.float64) for v in arrays[:k] + [value] + arrays[k + 1 :]]
            return build(*inputs).item()

        expected = numerical_gradient(loss_of, array.copy())
        scale = max(1.0, float(np.max(np.abs(expected))))
        error = float(np.max(np.abs(tensors[k].grad.data - expected))) / scale
        worst = max(worst, error)
    return worst


# %% nbgrader={"grade": true, "grade_id": "test-elementwise-grads", "locked": true, "points": 15, "schema_version": 3}
def test_elementwise_gradients():
    x = Tensor([2.0, 3.0], requires_grad=True)
    y = Tensor([4.0, 5.0], requires_grad=True)
    backward((x * y + x).sum())
    assert np.allclose(x.grad.data, [5.0, 6.0]) and np.allclose(y.grad.data, [2.0, 3.0])
    for build in (
        lambda a, b: (a + b).sum(),
        lambda a, b: (a - b).sum(),
        lambda a, b: (a * b).sum(),
        lambda a, b: (a / b).sum(),
    ):
        assert check_gradients(build, (3, 4), (3, 4), positive=True) < 1e-6
    assert check_gradients(lambda a: (-a).sum(), (3,)) < 1e-6
    assert check_gradients(lambda a: (a**3).sum(), (3,)) < 1e-6
    assert check_gradients(lambda a: a.exp().sum(), (3,)) < 1e-6
    assert check_gradients(lambda a: a.log().sum(), (3,), positive=True) < 1e-6
    assert check_gradients(lambda a: a.sqrt().sum(), (3,), positive=True) < 1e-6


# %% nbgrader={"grade": true, "grade_id": "test-broadcast-grads", "locked": true, "points": 15, "schema_version": 3}
def test_broadcasting_gradients():
    assert check_gradients(lambda a, b: ((a + b) ** 2).sum(), (4, 3), (3,)) < 1e-6, "bias add"
    assert check_gradients(lambda a, b: ((a * b) ** 2).sum(), (4, 1), (4, 3)) < 1e-6, "(B,1)*(B,N)"
    assert check_gradients(lambda a, b: (a / b).sum(), (2, 3), (1, 3), positive=True) < 1e-6
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.zeros(3), requires_grad=True)
    backward((x + b).sum())
    assert b.grad.shape == (3,) and np.allclose(b.grad.data, 2.0), "summed over the batch"


# %% nbgrader={"grade": true, "grade_id": "test-matmul-grads", "locked": true, "points": 15, "schema_version": 3}
def test_matmul_and_reduction_gradients():
    assert check_gradients(lambda a, b: ((a @ b) ** 2).sum(), (3, 4), (4, 2)) < 1e-6
    assert check_gradients(lambda a, b: ((a @ b) ** 2).sum(), (5, 3, 4), (4, 2)) < 1e-6
    assert check_gradients(lambda a, b: ((a @ b) ** 2).sum(), (2, 3, 4), (2, 4, 2)) < 1e-6
    assert check_gradients(lambda a, b: ((a @ b) ** 2).sum(), (4,), (4, 2)) < 1e-6
    assert check_gradients(lambda a, b: ((a @ b) ** 2).sum(), (3, 4), (4,)) < 1e-6
    for axis in (None, 0, 1, -1, (0, 1)):
        for keepdims in (False, True):
            for reduce in ("sum", "mean", "max"):

                def build(a, reduce=reduce, axis=axis, keepdims=keepdims):
                    return (getattr(a, reduce)(axis, keepdims) ** 2).sum()

                assert check_gradients(build, (3, 4)) < 1e-6, f"{reduce}({axis}, {keepdims})"


# %% nbgrader={"grade": true, "grade_id": "test-shape-grads", "locked": true, "points": 10, "schema_version": 3}
def test_shape_and_index_gradients():
    assert check_gradients(lambda a: (a.reshape(6, 2) ** 2).sum(), (3, 4)) < 1e-6
    assert check_gradients(lambda a, b: (a.transpose() @ b).sum(), (3, 4), (3, 2)) < 1e-6
    assert check_gradients(lambda a: (a.permute(2, 0, 1) ** 2).sum(), (2, 3, 4)) < 1e-6
    assert check_gradients(lambda a: (a[1:, ::2] ** 2).sum(), (3, 4)) < 1e-6
    table = Tensor(np.zeros((4, 2)), requires_grad=True)
    backward(table[np.array([1, 1, 3])].sum())
    assert np.allclose(table.grad.data[:, 0], [0, 2, 0, 1]), "repeated ids add up"


# %% nbgrader={"grade": true, "grade_id": "test-engine", "locked": true, "points": 25, "schema_version": 3}
def test_engine_order_accumulation_and_depth():
    x = Tensor([3.0], requires_grad=True)
    backward((x * x).sum())
    assert np.allclose(x.grad.data, [6.0]), "x used twice: both contributions add"
    backward((x * 2).sum())
    assert np.allclose(x.grad.data, [8.0]), "a second backward() adds to .grad"
    x.zero_grad()
    assert x.grad is None
    w = Tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    backward((w * w).sum())
    assert w.grad.dtype == np.float64, "a leaf's gradient keeps the leaf's dtype"

    # Diamond: b and c both read a; d reads both. a's gradient must arrive exactly once each.
    a = Tensor([2.0], requires_grad=True)
    root = a * 3
    d = (root * root + root).sum()
    backward(d)
    assert np.allclose(a.grad.data, [3 * (2 * 6 + 1)])

    # A 2,000-op chain: no recursion limit, every node visited once.
    x = Tensor([1.0], requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(2000):
        y = y * 1.001
    order = topological_order(y)
    assert len(order) == 2001 and len({id(n) for n in order}) == 2001
    backward(y.sum())
    assert np.allclose(x.grad.data, 1.001**2000)

    with no_grad():
        z = x * 2
    assert not z.requires_grad and z._op is None
    assert GradMode.enabled


# %% nbgrader={"grade": true, "grade_id": "test-activation-loss-grads", "locked": true, "points": 20, "schema_version": 3}
def test_activation_and_loss_gradients():
    from tinytorch.core.activations import gelu, log_softmax, relu, sigmoid, softmax, tanh
    from tinytorch.core.losses import binary_cross_entropy, cross_entropy, mse_loss

    # Unequal weights on the outputs: with plain .sum() the softmax gradient would be 0.
    weights = Tensor(np.linspace(-1.0, 2.0, 12).reshape(3, 4), dtype=np.float64)
    activations = {
        "relu": relu,
        "sigmoid": sigmoid,
        "tanh": tanh,
        "gelu_tanh": gelu,
        "gelu": lambda a: gelu(a, "none"),
        "softmax": softmax,
        "softmax axis 0": lambda a: softmax(a, axis=0),
        "log_softmax": log_softmax,
        "log_softmax axis 0": lambda a: log_softmax(a, axis=0),
    }
    for name, fn in activations.items():

        def build(a, fn=fn):
            return (fn(a) * weights).sum()

        assert check_gradients(build, (3, 4)) < 1e-6, name

    targets = np.array([[0, 3, 1], [2, 2, 0]])
    assert check_gradients(lambda z: cross_entropy(z, targets), (2, 3, 4)) < 1e-6, "(B,T,C)"
    assert check_gradients(lambda z: cross_entropy(z, targets[0]), (3, 4)) < 1e-6, "(N,C)"
    labels = np.array([1.0, 0.0, 1.0, 1.0])
    assert check_gradients(lambda z: binary_cross_entropy(sigmoid(z), labels), (4,)) < 1e-6
    assert (
        check_gradients(lambda p: binary_cross_entropy(p * 0.4, labels), (4,), positive=True) < 1e-6
    )
    assert check_gradients(lambda a, b: mse_loss(a, b), (3, 2), (3, 2)) < 1e-6

    # Logits of size 1e4: the gradient is still softmax - onehot, finite, no NaN.
    z = Tensor([[1e4, 0.0, -1e4], [0.0, 1e4, -1e4]], requires_grad=True, dtype=np.float64)
    backward(cross_entropy(z, [0, 2]))
    assert np.allclose(z.grad.data, [[0.0, 0.0, 0.0], [0.0, 0.5, -0.5]])


# %%
if __name__ == "__main__":
    test_elementwise_gradients()
    test_broadcasting_gradients()
    test_matmul_and_reduction_gradients()
    test_shape_and_index_gradients()
    test_engine_order_accumulation_and_depth()
    test_activation_and_loss_gradients()
    print("All tests passed for module 05_autograd.")
