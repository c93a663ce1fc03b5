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
# Since module 01 every operation has recorded how its result was made: `out._op` (a name
# such as `"mul"`), `out._inputs` (the tensors it read) and `out._saved` (anything else the
# gradient needs). That record is a **computational graph**. In this module you turn it into
# gradients:
#
# 1. one **gradient rule** per op name: given dL/d(out), return dL/d(input) for each input;
# 2. one **engine**, `backward(root)`, that visits every node once, in reverse topological
#    order, and adds up the contributions.
#
# **You will learn**
# - the chain rule as a local computation: each op needs only its own inputs and `g`;
# - the gradient of matmul for vectors, matrices and batches, of reductions, indexing,
#   activations and losses, each derived on numbers you can check by hand;
# - why a gradient must be summed back over broadcast dimensions (un-broadcasting);
# - how to order a graph without recursion, and why a shared tensor's gradients add up;
# - what the graph costs in memory, and what `no_grad()` saves (you will measure both).
#
# ### The chain rule on a tiny graph
#
# Take `L = sum(x * y)` with `x = [2, 3]` and `y = [4, 5]`, so `L = 2·4 + 3·5 = 23`:
#
# ```
#   x [2, 3] ──┐
#              ├──[mul]──> m [8, 15] ──[sum]──> L = 23
#   y [4, 5] ──┘
# ```
#
# Backward starts at L with dL/dL = 1 and walks the arrows in reverse. Write `g` for "the
# gradient of L with respect to this op's output", always of the output's shape:
#
# ```
#   sum:  g_L = 1            ->  g_m = [1, 1]            (each mᵢ adds to L with weight 1)
#   mul:  g_m = [1, 1]       ->  g_x = g_m · y = [4, 5]   g_y = g_m · x = [2, 3]
# ```
#
# Check by hand: nudge x₀ from 2 to 2.01 and L becomes 2.01·4 + 15 = 23.04, a slope of 4. ✓
# Each op only needed **its own** inputs and the incoming `g`: that locality is what lets one
# small rule per op, plus one engine, differentiate any program built from those ops.
#
# ### Three things the engine does for every rule
#
# - **Accumulation.** A tensor used twice (`x * x`, or a residual connection `x + f(x)`)
#   receives a gradient from each use; the engine adds them (`+=`), it never overwrites.
# - **Un-broadcasting.** If `b` of shape `(N,)` was stretched to `(B, N)` in `a + b`, a rule
#   may return a `(B, N)` gradient for b; the engine sums it back to `(N,)`. Doing this once in
#   the engine means no elementwise rule has to think about broadcasting.
# - **Order.** A node's gradient is complete only when every node that used it has passed its
#   contribution back. Reverse topological order guarantees that.
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
# ## 1. The rule table
#
# `GRADIENTS` maps an op name to its rule. `@gradient_rule("mul")` registers a function in it
# (given below, because every rule in this file is registered when the file loads). Later
# modules register their own fused ops the same way: module 13's LayerNorm writes
# `@gradient_rule("layer_norm")` above its rule, and the engine needs no change.
#
# **The contract of a rule** (every rule in this course follows it):
#
# ```python
# # an imaginary fused op  out = a * b + a,  recorded as Tensor.from_op(..., "muladd", (a, b))
# @gradient_rule("muladd")
# def _muladd_grad(g, out):       # g: ndarray, dL/d(out), shape out.shape, dtype out.dtype
#     a, b = out._inputs          # the recorded inputs (Tensors); out._saved: the extras
#     return g * (b.data + 1), g * a.data    # one entry per input, in the order of _inputs
# ```
#
# - It returns a **tuple with exactly one entry per entry of `out._inputs`, in the same
#   order**: `(grad_a, grad_b)` for `a * b`, a 1-tuple `(grad,)` for a one-input op like `exp`.
# - Each entry is an ndarray with **either the input's shape, or the shape the input was
#   broadcast to in the forward pass** (usually the output's shape; the engine un-broadcasts
#   it), or `None` for "no gradient for this input".
# - A rule reads `g`, `out.data`, `out._inputs[i].data` and `out._saved`, and must **never
#   write into `g` or any of them**: the engine may hand the same array to several rules
#   (`add` returns `g` twice), and `np.broadcast_to` views are read-only.

# %%
#| export
GRADIENTS: dict = {}


def gradient_rule(op: str):
    """Register `fn(g, out) -> tuple of input gradients` as the rule of `op`."""

    def register(fn):
        GRADIENTS[op] = fn
        return fn

    return register


# %% [markdown]
# ## 2. Un-broadcasting
#
# In module 01, broadcasting aligned shapes **from the right** and stretched missing
# dimensions and dimensions of size 1. In the forward pass one value of `b` was used in many
# places, so in the backward pass it receives the **sum** of the gradients of all those
# places. Worked example, a bias add `out = x + b` with x `(2, 3)` and b `(3,)`:
#
# ```
# g = dL/d(out) = [[1, 2, 3],        b₀ was added to out[0, 0] and out[1, 0]
#                  [4, 5, 6]]        so dL/db₀ = 1 + 4 = 5
#
# unbroadcast(g, (3,))   = [5, 7, 9]          sum over the axis broadcasting added (axis 0)
# unbroadcast(g, (1, 3)) = [[5, 7, 9]]        sum over axis 0, which had size 1: keep it
# unbroadcast(g, (2, 1)) = [[6], [15]]        sum over axis 1, which had size 1: keep it
# unbroadcast(g, ())     = 21                 a scalar was used everywhere: sum everything
# ```
#
# ### Specification
#
# `unbroadcast(grad, shape) -> np.ndarray`: the gradient for an input of `shape`, from a
# `grad` of the broadcast shape. Return an array of **exactly** `shape`:
# 1. if `grad.shape == shape`, return `grad` unchanged (the common case costs nothing);
# 2. sum over the leading `grad.ndim - len(shape)` axes (the ones broadcasting added on the
#    left);
# 3. then sum, with `keepdims=True`, over every axis i where `shape[i] == 1` but
#    `grad.shape[i] != 1` (the stretched axes);
# 4. reshape to `shape` (turns a `(1, 1)` result into `()` for a 0-d input, say).
#
# Example: `unbroadcast(np.ones((4, 2, 3)), (2, 1))` is `[[12.], [12.]]` (4 · 3 ones per entry).


# %% nbgrader={"grade": false, "grade_id": "unbroadcast", "locked": false, "schema_version": 3, "solution": true}
#| export
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
# ### Test: un-broadcasting
#
# **What this checks and why.** The four results of the worked example, the 3-D example of
# the specification, and that a gradient that already has the right shape is returned as
# is. A wrong un-broadcast is the classic silent bug of a bias gradient: the shapes may even
# come out right while the values are summed over the wrong axis, so the values are checked.


# %% nbgrader={"grade": true, "grade_id": "test-unbroadcast", "locked": true, "points": 8, "schema_version": 3}
def test_unbroadcast():
    g = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    for shape, expected in [
        ((3,), [5.0, 7.0, 9.0]),
        ((1, 3), [[5.0, 7.0, 9.0]]),
        ((2, 1), [[6.0], [15.0]]),
        ((), 21.0),
    ]:
        got = unbroadcast(g, shape)
        assert got.shape == shape, (
            f"unbroadcast to {shape} must give shape {shape}, got {got.shape}"
        )
        assert np.allclose(got, expected), f"unbroadcast to {shape}: expected {expected}, got {got}"
    deep = unbroadcast(np.ones((4, 2, 3)), (2, 1))
    assert np.allclose(deep, [[12.0], [12.0]]), f"(4, 2, 3) -> (2, 1) sums 12 ones, got {deep}"
    assert unbroadcast(g, (2, 3)) is g, "a gradient of the right shape is returned unchanged"
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(3)
    big = rng.normal(size=(2, 4, 1, 5))
    got = unbroadcast(big, (4, 1, 1))
    assert np.allclose(got, big.sum(axis=(0, 3)).reshape(4, 1, 1)), "(2,4,1,5) -> (4,1,1)"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_unbroadcast()

# %% [markdown]
# ## 3. Rules for elementwise operations
#
# Each rule is one line of calculus: multiply the incoming `g` by the local derivative.
#
# | op | out | dL/d(first input) | dL/d(second input) |
# |---|---|---|---|
# | `add` | a + b | g | g |
# | `sub` | a - b | g | -g |
# | `mul` | a · b | g · b | g · a |
# | `div` | a / b | g / b | -g · a / b² = -(g / b) · out |
# | `neg` | -a | -g | |
# | `pow` | aᵖ (p a number, in `out._saved`) | g · p · aᵖ⁻¹ | |
# | `exp` | eᵃ | g · out | |
# | `log` | ln a | g / a | |
# | `sqrt` | √a | g / (2 · out) | |
#
# **Worked example (div).** a = 6, b = 3, out = 2, g = 1. Nudge a to 6.03: 6.03 / 3 = 2.01,
# slope 0.01 / 0.03 = 1/3 = g / b. ✓ Nudge b to 3.03: 6 / 3.03 = 1.9802, slope
# -0.0198 / 0.03 = -0.66 ≈ -a / b² = -6/9 = -2/3 = -(g / b) · out. ✓ Reusing `out.data`
# (already computed) is cheaper than recomputing a / b², and the same trick gives `exp`
# (the derivative of eᵃ is eᵃ = out) and `sqrt` (1 / (2√a) = 1 / (2 · out)).
#
# **Broadcasting is not your concern here.** For `(2, 3) * (3,)`, `g * a.data` is `(2, 3)`,
# the broadcast shape: return it, the engine un-broadcasts it to `(3,)`.
#
# ### Specification
#
# Each function below is registered for the op of the table and follows the rule contract of
# section 1: inputs from `out._inputs` (their values are `.data`), return a tuple in the
# order of the inputs. `pow` reads its exponent p from `out._saved` (a Python number).
# Example: for `out = Tensor([2.0, 3.0]) * Tensor([4.0, 5.0])` and `g = np.ones(2)`,
# `_mul_grad(g, out)` returns `([4, 5], [2, 3])`.


# %% nbgrader={"grade": false, "grade_id": "elementwise-rules", "locked": false, "schema_version": 3, "solution": true}
#| export
@gradient_rule("add")
def _add_grad(g, out):
    """out = a + b: return (dL/da, dL/db)."""
    ### BEGIN SOLUTION
    return g, g
    ### END SOLUTION


@gradient_rule("sub")
def _sub_grad(g, out):
    """out = a - b: return (dL/da, dL/db)."""
    ### BEGIN SOLUTION
    return g, -g
    ### END SOLUTION


@gradient_rule("mul")
def _mul_grad(g, out):
    """out = a * b: return (dL/da, dL/db)."""
    ### BEGIN SOLUTION
    a, b = out._inputs
    return g * b.data, g * a.data
    ### END SOLUTION


@gradient_rule("div")
def _div_grad(g, out):
    """out = a / b: return (dL/da, dL/db)."""
    ### BEGIN SOLUTION
    a, b = out._inputs
    grad_a = g / b.data
    return grad_a, -grad_a * out.data
    ### END SOLUTION


@gradient_rule("neg")
def _neg_grad(g, out):
    """out = -a: return (dL/da,)."""
    ### BEGIN SOLUTION
    return (-g,)
    ### END SOLUTION


@gradient_rule("pow")
def _pow_grad(g, out):
    """out = a ** p with p = out._saved: return (dL/da,)."""
    ### BEGIN SOLUTION
    (a,), p = out._inputs, out._saved
    return (g * p * a.data ** (p - 1),)
    ### END SOLUTION


@gradient_rule("exp")
def _exp_grad(g, out):
    """out = exp(a): return (dL/da,)."""
    ### BEGIN SOLUTION
    return (g * out.data,)
    ### END SOLUTION


@gradient_rule("log")
def _log_grad(g, out):
    """out = ln(a): return (dL/da,)."""
    ### BEGIN SOLUTION
    return (g / out._inputs[0].data,)
    ### END SOLUTION


@gradient_rule("sqrt")
def _sqrt_grad(g, out):
    """out = sqrt(a): return (dL/da,)."""
    ### BEGIN SOLUTION
    return (g / (2 * out.data),)
    ### END SOLUTION


# %% [markdown]
# ### Test: elementwise rules
#
# **What this checks and why.** Each rule is called directly, without the engine, on the
# hand-worked numbers above: the values, the number of entries (one per input) and their
# order. A rule that swaps `(dL/db, dL/da)` gives right-looking numbers for `a + b` but wrong
# ones for `a - b` and `a / b`, so every op is checked.


# %% nbgrader={"grade": true, "grade_id": "test-elementwise-rules", "locked": true, "points": 8, "schema_version": 3}
def test_elementwise_rules():
    a = Tensor([6.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    g = np.array([1.0, 10.0])

    def rule(fn, op, out):
        assert GRADIENTS.get(op) is fn, f"{fn.__name__} must be registered for {op!r}"
        grads = fn(g, out)
        count = len(out._inputs)
        assert len(grads) == count, f"{op}: return one gradient per input ({count}), got {grads}"
        return [np.asarray(x) for x in grads]

    def close(op, got, expected):
        assert np.allclose(got, expected), f"{op}: expected {expected}, got {got}"

    ga, gb = rule(_add_grad, "add", a + b)
    close("add, dL/da", ga, [1, 10])
    close("add, dL/db", gb, [1, 10])
    ga, gb = rule(_sub_grad, "sub", a - b)
    close("sub, dL/db is -g", gb, [-1, -10])
    ga, gb = rule(_mul_grad, "mul", a * b)
    close("mul, dL/da = g * b", ga, [3, 40])
    close("mul, dL/db = g * a", gb, [6, 20])
    ga, gb = rule(_div_grad, "div", a / b)
    close("div, dL/da = g / b", ga, [1 / 3, 10 / 4])
    close("div, dL/db = -g a / b^2", gb, [-6 / 9, -10 * 2 / 16])
    (gn,) = rule(_neg_grad, "neg", -a)
    close("neg", gn, [-1, -10])
    (gp,) = rule(_pow_grad, "pow", a**3)
    close("pow 3, g * 3 a^2", gp, [108, 120])
    (ge,) = rule(_exp_grad, "exp", a.exp())
    close("exp, g * out", ge, [np.exp(6), 10 * np.exp(2)])
    (gl,) = rule(_log_grad, "log", a.log())
    close("log, g / a", gl, [1 / 6, 5])
    (gs,) = rule(_sqrt_grad, "sqrt", a.sqrt())
    close("sqrt, g / (2 out)", gs, [1 / (2 * np.sqrt(6)), 10 / (2 * np.sqrt(2))])
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(11)
    x = Tensor(rng.uniform(1, 2, 3), requires_grad=True)
    y = Tensor(rng.uniform(1, 2, 3), requires_grad=True)
    g = rng.normal(size=3)
    ga, gb = _div_grad(g, x / y)
    assert np.allclose(gb, -g * x.data / y.data**2), "div on random inputs"
    (gp,) = _pow_grad(g, x**-1.5)
    assert np.allclose(gp, g * -1.5 * x.data**-2.5), "pow -1.5 on random inputs"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_elementwise_rules()

# %% [markdown]
# ## 4. Rules for reductions: `sum`, `mean`, `max`
#
# A reduction makes the output **smaller** than the input, so `g` is smaller too, and the rule
# must give back a gradient of the input's **full shape**. (The engine's un-broadcasting cannot
# do it: it only *removes* axes that broadcasting added; here we must *put back* axes that the
# reduction removed.) The forward pass saved `(axis, keepdims)` in `out._saved`.
#
# **Worked example.** x of shape `(2, 3)`, `out = x.sum(axis=1)`, shape `(2,)`. Each x[i, j]
# adds to out[i] with weight 1, so dL/dx[i, j] = g[i] for every j:
#
# ```
# g = [1, 10]   (2,)
#   -> put back the reduced axis:  [[1], [10]]        (2, 1)   np.expand_dims(g, 1)
#   -> broadcast to the input:     [[1, 1, 1],        (2, 3)   np.broadcast_to(., (2, 3))
#                                   [10, 10, 10]]
# ```
#
# The cases of "put back the reduced axes" (`_expand_reduced`):
#
# | forward call | out shape (x is (2, 3)) | g reshaped to |
# |---|---|---|
# | `x.sum()` (axis=None) | `()` | `(1, 1)`: one 1 per input axis |
# | `x.sum(axis=1)` or `axis=-1` | `(2,)` | `(2, 1)`: `np.expand_dims(g, 1)`; normalise -1 to 1 with `axis % ndim` |
# | `x.sum(axis=(0, 1))` | `()` | `(1, 1)`: expand every axis of the tuple |
# | `x.sum(axis=1, keepdims=True)` | `(2, 1)` | unchanged: the axis is already there |
#
# - **mean** is the sum divided by the count of elements averaged into each output,
#   `count = a.size // out.size` (3 for `mean(axis=1)` above): each x[i, j] gets g[i] / 3.
#   (Guard `out.size` with `max(out.size, 1)` for an empty input.)
# - **max** passes g to the element(s) that were the maximum, and 0 elsewhere; if several
#   tie, they **share it equally** (as PyTorch's `amax` does). For a row [1, 3, 3] with g = 1:
#   `winners = [0, 1, 1]`, `share = winners / winners.sum() = [0, 0.5, 0.5]`. Compare the input
#   with the expanded `out.data` to find the winners, and sum `winners` over the same `axis`
#   with `keepdims=True` to count ties.
#
# ### Specification
#
# `_expand_reduced(g, shape, axis, keepdims) -> np.ndarray`: `g` with the reduced axes put
# back as size-1 axes, so it broadcasts against an input of `shape` (the table above).
# `axis` is None, an int (maybe negative) or a tuple of ints.
#
# The rules `_sum_grad`, `_mean_grad`, `_max_grad` return a 1-tuple whose array has the input's
# full shape `a.shape` (use `np.broadcast_to` for sum and mean: a read-only view, no copy).


# %% nbgrader={"grade": false, "grade_id": "reduction-rules", "locked": false, "schema_version": 3, "solution": true}
#| export
def _expand_reduced(g: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """Put back the axes a reduction removed, so `g` broadcasts against the input's `shape`."""
    ### BEGIN SOLUTION
    if keepdims:
        return g
    if axis is None:
        return g.reshape([1] * len(shape))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return np.expand_dims(g, tuple(a % len(shape) for a in axes))
    ### END SOLUTION


@gradient_rule("sum")
def _sum_grad(g, out):
    """out = a.sum(axis, keepdims), (axis, keepdims) = out._saved: return (dL/da,), a's shape."""
    ### BEGIN SOLUTION
    (a,), (axis, keepdims) = out._inputs, out._saved
    return (np.broadcast_to(_expand_reduced(g, a.shape, axis, keepdims), a.shape),)
    ### END SOLUTION


@gradient_rule("mean")
def _mean_grad(g, out):
    """out = a.mean(axis, keepdims): return (dL/da,) of a's shape, g spread and divided."""
    ### BEGIN SOLUTION
    (a,), (axis, keepdims) = out._inputs, out._saved
    count = a.size // max(out.size, 1)
    spread = _expand_reduced(g, a.shape, axis, keepdims) / count
    return (np.broadcast_to(spread, a.shape),)
    ### END SOLUTION


@gradient_rule("max")
def _max_grad(g, out):
    """out = a.max(axis, keepdims): return (dL/da,) of a's shape; ties share g equally."""
    ### BEGIN SOLUTION
    (a,), (axis, keepdims) = out._inputs, out._saved
    top = _expand_reduced(out.data, a.shape, axis, keepdims)
    winners = a.data == top
    share = winners / winners.sum(axis=axis, keepdims=True)
    return (_expand_reduced(g, a.shape, axis, keepdims) * share,)
    ### END SOLUTION


# %% [markdown]
# ### Test: reduction rules
#
# **What this checks and why.** The worked example (`sum(axis=1)` with g = [1, 10]), every
# way of naming the axis (None, negative, a tuple, keepdims), mean's division by the count,
# and max's tie sharing, each by calling the rule directly. The shape is asserted first: a
# rule that returns `g` without putting the axes back would fail later inside the engine with
# a NumPy broadcasting error that is hard to trace back to here.


# %% nbgrader={"grade": true, "grade_id": "test-reduction-rules", "locked": true, "points": 8, "schema_version": 3}
def test_reduction_rules():
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)

    rules = {"sum": _sum_grad, "mean": _mean_grad, "max": _max_grad}

    def grad_of(reduce, g, axis, keepdims):
        out = getattr(x, reduce)(axis=axis, keepdims=keepdims)
        (grad,) = rules[reduce](np.asarray(g, dtype=np.float32), out)
        where = f"{reduce}(axis={axis}, keepdims={keepdims})"
        assert np.shape(grad) == (2, 3), (
            f"{where}: return the input's shape (2, 3), got {np.shape(grad)}"
        )
        return grad, where

    expected_sum = [[1, 1, 1], [10, 10, 10]]
    for axis, keepdims, g in [
        (1, False, [1.0, 10.0]),
        (-1, False, [1.0, 10.0]),
        (1, True, [[1.0], [10.0]]),
    ]:
        grad, where = grad_of("sum", g, axis, keepdims)
        assert np.allclose(grad, expected_sum), f"{where}: expected {expected_sum}, got {grad}"
    for axis, keepdims, g in [(None, False, 2.0), ((0, 1), False, 2.0), (None, True, [[2.0]])]:
        grad, where = grad_of("sum", g, axis, keepdims)
        assert np.allclose(grad, 2.0), f"{where}: every element gets g = 2, got {grad}"
    grad, where = grad_of("sum", [1.0, 2.0, 3.0], 0, False)
    assert np.allclose(grad, [[1, 2, 3], [1, 2, 3]]), f"{where}: columns get g, got {grad}"

    grad, where = grad_of("mean", [3.0, 30.0], 1, False)
    assert np.allclose(grad, [[1, 1, 1], [10, 10, 10]]), f"{where}: g / 3 per element, got {grad}"
    grad, where = grad_of("mean", 6.0, None, False)
    assert np.allclose(grad, 1.0), f"{where}: g / 6 per element, got {grad}"

    grad, where = grad_of("max", [1.0, 1.0], 1, False)
    expected_max = [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]
    assert np.allclose(grad, expected_max), (
        f"{where}: ties share g, expected {expected_max}, got {grad}"
    )
    grad, where = grad_of("max", [1.0, 1.0, 1.0], 0, False)
    assert np.allclose(grad, [[0, 1, 1], [1, 0, 0]]), f"{where}: column winners, got {grad}"
    expanded = _expand_reduced(np.array([1.0, 10.0]), (2, 3), -1, False)
    assert expanded.shape == (2, 1), (
        f"axis -1 of (2, 3) is put back as (2, 1), got {expanded.shape}"
    )


if __name__ == "__main__":
    test_reduction_rules()

# %% [markdown]
# ## 5. Ordering the graph
#
# A node may pass its gradient back only once it is **complete**: once every node that used it
# has contributed. Take `L = sum(x * y + x)`. The leaf x is used twice:
#
# ```
#   x ─────┬──────────────────┐
#          ▼                  ▼
#   y ──> [mul] ──> m ──> [add] ──> s ──> [sum] ──> L
# ```
#
# x's gradient is g_s (through add) plus g_m · y (through mul). If we handled x before m had
# passed its share back, x would be missing half of it. **Topological order** lists every
# node after all of its inputs: here `x, y, m, s, L`. Walking it **backwards** (`L, s, m, y,
# x`) handles each node after all of its users, so every gradient is complete when used.
#
# **Without recursion.** The textbook way is a recursive depth-first search: "visit my inputs,
# then emit me". But Python stops at about 1,000 nested calls, and a 1,000-step training
# unroll or a deep network has longer chains. So we keep our own stack of pairs
# `(node, inputs_done)`: popping `(node, False)` means "first visit: push `(node, True)`, then
# push each input"; popping `(node, True)` means "all its inputs are emitted: emit it". A set
# of `id(node)`s that have been seen makes each node go through this once, even when it is
# reached along two paths (x above) and was pushed twice. The trace for the graph above
# (`s = m + x`, so add's inputs are `(m, x)`; the top of the stack is on the right):
#
# ```
# pop        stack afterwards                           order
# (L,F)      (L,T) (s,F)
# (s,F)      (L,T) (s,T) (m,F) (x,F)
# (x,F)      (L,T) (s,T) (m,F) (x,T)                    (x has no inputs)
# (x,T)      (L,T) (s,T) (m,F)                          x
# (m,F)      (L,T) (s,T) (m,T) (y,F)                    (x: seen, not pushed)
# (y,F)      (L,T) (s,T) (m,T) (y,T)
# (y,T)      (L,T) (s,T) (m,T)                          x y
# (m,T)      (L,T) (s,T)                                x y m
# (s,T)      (L,T)                                      x y m s
# (L,T)      -                                          x y m s L
# ```
#
# Each node is pushed and popped a bounded number of times, so the cost is linear in the size
# of the graph.
#
# ### Specification
#
# `topological_order(root) -> list`: the Tensors `root` depends on, inputs before users.
# - Start at `root` (always included, always **last**); follow `node._inputs`, but only into
#   inputs with `requires_grad` True (a constant such as the `2` in `x * 2`, or targets, needs
#   no gradient and is left out).
# - Each tensor appears **exactly once**; compare tensors by identity (`id(t)`), never by value.
# - Every tensor appears after all of its inputs that are in the list.
# - No recursion: a chain of 2,000 ops must work.
#
# Example: for `L` above, `topological_order(L)` is `[x, y, m, s, L]` (the order of x and y
# may differ in another correct implementation; the tests check the rules above).


# %% nbgrader={"grade": false, "grade_id": "topological-order", "locked": false, "schema_version": 3, "solution": true}
#| export
def topological_order(root: Tensor) -> list:
    """Every tensor `root` depends on (that needs a gradient), inputs before users; root last."""
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


# %% [markdown]
# ### Test: topological order
#
# **What this checks and why.** On the graph drawn above: the same five tensors, each once,
# root last, every tensor after its inputs, and no constant; then a diamond (two paths into
# one node); then a chain of 2,000 ops, which a recursive search could not order. These are
# exactly the properties the engine relies on, checked before the engine exists.


# %% nbgrader={"grade": true, "grade_id": "test-topological-order", "locked": true, "points": 8, "schema_version": 3}
def test_topological_order():
    def check(order, root, expected_count, what):
        ids = [id(t) for t in order]
        assert len(order) == expected_count, (
            f"{what}: expected {expected_count} tensors, got {len(order)}"
        )
        assert len(set(ids)) == len(ids), f"{what}: a tensor appears twice in the order"
        assert order[-1] is root, f"{what}: the root must come last"
        position = {i: n for n, i in enumerate(ids)}
        for n, node in enumerate(order):
            for parent in node._inputs:
                if parent.requires_grad:
                    assert id(parent) in position, f"{what}: input of {node._op} is missing"
                    assert position[id(parent)] < n, f"{what}: {node._op} came before its input"
                else:
                    assert id(parent) not in position, f"{what}: a constant is in the order"

    x, y = Tensor([2.0, 3.0], requires_grad=True), Tensor([4.0, 5.0], requires_grad=True)
    m = x * y
    s = m + x
    loss = s.sum()
    order = topological_order(loss)
    check(order, loss, 5, "sum(x * y + x)")
    assert {id(t) for t in order} == {id(t) for t in (x, y, m, s, loss)}, "x, y, m, s, L"

    a = Tensor([1.0], requires_grad=True)
    b, c = a * 2.0, a.exp()  # 2.0 is a constant: not in the order
    d = b * c + b
    check(topological_order(d), d, 5, "diamond a -> (b, c) -> d")

    z = Tensor([1.0], requires_grad=True)
    for _ in range(2000):
        z = z * 1.001
    check(topological_order(z), z, 2001, "a 2,000-op chain")


if __name__ == "__main__":
    test_topological_order()

# %% [markdown]
# ## 6. The engine: `backward`
#
# `backward(root, grad=None)` computes d(root)/d(leaf) for every leaf that requires a gradient:
#
# 1. **Seed.** dL/dL = 1 for a one-element root (a loss): `np.ones(root.shape, root.dtype)`.
#    For any other root the caller must pass `grad` (the gradient of some later loss with
#    respect to root); it is converted to an array of root's dtype and broadcast to root's shape.
# 2. **Walk.** Keep a dictionary `grads` from `id(tensor)` to its gradient so far, starting
#    with `{id(root): seed}`. For each node in **reversed** `topological_order(root)`, take
#    (`pop`) its gradient `g` out of the dictionary, then:
#
# | the node or input is ... | the engine ... |
# |---|---|
# | a node that no gradient reached (`g` is None: every path to it passed through a `None`) | skips it |
# | a **leaf** (`node._op is None`; it requires grad, or it would not be in the order) | adds g into `node.grad` (`_accumulate_leaf`) |
# | an op without a rule in `GRADIENTS` | raises `RuntimeError` naming the op |
# | an input for which the rule returned `None` | adds nothing for it |
# | an input with `requires_grad` False (a constant) | adds nothing for it |
# | any other input | `unbroadcast`s the gradient to the input's shape and **adds** it to `grads[id(input)]` (a new array: never `+=` into an array a rule returned) |
#
# Intermediate tensors get no `.grad` (as in PyTorch); their gradients live only in the
# dictionary, and `pop` frees each one as soon as it has been passed on, so the peak memory of
# the gradients stays near the widest layer, not the whole graph.
#
# **Leaves accumulate.** A second `backward()` adds to what the first left in `.grad`:
# that is what lets several mini-batches add up before one optimizer step, and why a training
# loop calls `zero_grad()` between steps. Worked example: x = 3; `backward(sum(x * x))` gives
# 2x = 6 (x is both inputs of mul: 3 + 3); then `backward(sum(x * 2))` adds 2: `x.grad` is 8.
#
# ### Specification
#
# `_accumulate_leaf(leaf, g)`: if `leaf.grad` is None, set it to a **new** Tensor holding a
# **copy** of g in the leaf's dtype (`np.array(g, dtype=leaf.dtype)`: g may be a read-only
# broadcast view, or the same array another leaf got from `add`); otherwise add g into
# `leaf.grad.data` in place.
#
# `backward(root, grad=None) -> None`, errors first:
# - `root.requires_grad` False: `RuntimeError` whose message says the tensor does not
#   **require** a gradient;
# - `grad` None and `root.size != 1`: `RuntimeError` whose message says backward needs a
#   **scalar** (and the shape it got);
# - a missing rule: `RuntimeError` naming the op.
# Then seed and walk as above; zip each node's inputs with its rule's result with
# `strict=True`, so a rule that returns the wrong number of gradients fails loudly.
# After each node's work (a leaf's accumulation, or a rule and its inputs' sums), call
# `tell_profilers(node)` when `Tensor.profilers` is not empty: module 15's profiler times the
# backward pass from these events. With no profiler that is one `if` per node.
#
# Example: `x = Tensor([2.0, 3.0], requires_grad=True)`, `y = Tensor([4.0, 5.0],
# requires_grad=True)`; `backward((x * y).sum())` leaves `x.grad` = [4, 5], `y.grad` = [2, 3].


# %% nbgrader={"grade": false, "grade_id": "engine", "locked": false, "schema_version": 3, "solution": true}
#| export
def _accumulate_leaf(leaf: Tensor, g: np.ndarray) -> None:
    """Add g into leaf.grad: a new Tensor (a copy, leaf's dtype) the first time, += after."""
    ### BEGIN SOLUTION
    if leaf.grad is None:
        leaf.grad = Tensor(np.array(g, dtype=leaf.dtype), dtype=leaf.dtype)
    else:
        leaf.grad.data += g
    ### END SOLUTION


def tell_profilers(node: Tensor) -> None:
    """Module 15's hook: every active profiler hears that `node`'s backward work is done."""
    for profiler in Tensor.profilers:
        profiler.backward_event(node._op or "accumulate_grad", node)


def backward(root: Tensor, grad=None) -> None:
    """Accumulate d(root)/d(leaf) into `.grad` of every leaf that requires a gradient.

    After each node's work, call `tell_profilers(node)` if `Tensor.profilers` is not empty.
    """
    ### BEGIN SOLUTION
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
    grads = {id(root): seed}
    for node in reversed(topological_order(root)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if node._op is None:
            _accumulate_leaf(node, g)
        else:
            rule = GRADIENTS.get(node._op)
            if rule is None:
                raise RuntimeError(f"backward(): no gradient rule for op '{node._op}'.")
            for parent, parent_grad in zip(node._inputs, rule(g, node), strict=True):
                if parent_grad is None or not parent.requires_grad:
                    continue
                parent_grad = unbroadcast(parent_grad, parent.shape)
                key = id(parent)
                grads[key] = parent_grad if key not in grads else grads[key] + parent_grad
        if Tensor.profilers:
            tell_profilers(node)
    ### END SOLUTION


# %% [markdown]
# ### Test: the engine
#
# **What this checks and why.** The tiny graph of the introduction (x.grad = [4, 5]); a tensor
# used twice and a diamond (contributions add up); accumulation over two `backward()` calls
# and `zero_grad()`; the leaf's dtype; a 2,000-op chain; what happens to constants,
# intermediates and a rule that returns `None`; a custom op registered with `@gradient_rule`
# exactly as module 13 registers LayerNorm's; and the three errors. The tests call
# `backward(loss)`, the engine in this file, rather than `loss.backward()`: the method uses the
# engine exported to the package, which exists only once you have completed this module.


# %% nbgrader={"grade": true, "grade_id": "test-engine", "locked": true, "points": 15, "schema_version": 3}
def test_engine():
    x = Tensor([2.0, 3.0], requires_grad=True)
    y = Tensor([4.0, 5.0], requires_grad=True)
    backward((x * y).sum())
    assert np.allclose(x.grad.data, [4, 5]), f"dL/dx = y = [4, 5], got {x.grad.data}"
    assert np.allclose(y.grad.data, [2, 3]), f"dL/dy = x = [2, 3], got {y.grad.data}"
    assert isinstance(x.grad, Tensor) and x.grad.shape == (2,), ".grad is a Tensor of x's shape"

    x = Tensor([3.0], requires_grad=True)
    backward((x * x).sum())
    assert np.allclose(x.grad.data, [6.0]), f"x used twice: 3 + 3 = 6, got {x.grad.data}"
    backward((x * 2).sum())
    assert np.allclose(x.grad.data, [8.0]), f"a second backward() adds 2: 8, got {x.grad.data}"
    x.zero_grad()
    assert x.grad is None, "zero_grad() clears the gradient"
    w = Tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    backward((w * w).sum())
    assert w.grad.dtype == np.float64, f"the leaf's dtype is kept, got {w.grad.dtype}"

    a = Tensor([2.0], requires_grad=True)
    b = a * 3
    backward((b * b + b).sum())
    assert np.allclose(a.grad.data, [3 * (2 * 6 + 1)]), f"diamond: 39, got {a.grad.data}"

    x = Tensor([1.0], requires_grad=True, dtype=np.float64)
    chain = x
    for _ in range(2000):
        chain = chain * 1.001
    backward(chain.sum())
    assert np.allclose(x.grad.data, 1.001**2000), "a 2,000-op chain: 1.001 ** 2000"

    x, constant = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0])
    middle = x * constant
    backward(middle.sum())
    assert constant.grad is None, "a tensor without requires_grad gets no gradient"
    assert middle.grad is None, "an intermediate tensor gets no .grad"

    @gradient_rule("first_only")
    def _first_only(g, out):
        return g, None  # no gradient for the second input

    try:
        p, q = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
        backward(Tensor.from_op(p.data + q.data, "first_only", (p, q)).sum())
        assert np.allclose(p.grad.data, [1.0]), "a registered rule is used by the engine"
        assert q.grad is None, "an input whose rule entry is None gets no gradient"
    finally:
        GRADIENTS.pop("first_only", None)

    seeded = Tensor([1.0, 2.0], requires_grad=True)
    backward(seeded * 3, grad=np.array([1.0, 10.0]))
    assert np.allclose(seeded.grad.data, [3, 30]), f"grad= seeds a non-scalar: {seeded.grad.data}"
    for make, words in [
        (lambda: backward((Tensor([1.0]) * 2).sum()), "require"),
        (lambda: backward(Tensor([1.0, 2.0], requires_grad=True) * 2), "scalar"),
        (lambda: backward(Tensor.from_op(np.ones(1), "no_such_op", (seeded,)).sum()), "no_such_op"),
    ]:
        try:
            make()
        except RuntimeError as error:
            assert words in str(error), f"the RuntimeError should mention {words!r}: {error}"
        else:
            raise AssertionError(f"backward() must raise RuntimeError ({words})")


if __name__ == "__main__":
    test_engine()

# %% [markdown]
# ## 7. Switching the graph off: `no_grad()`
#
# Evaluation and text generation need no gradients. Every op calls `Tensor.from_op`, which
# records the graph only while `GradMode.enabled` is True (module 01). `no_grad()` switches it
# off for a block:
#
# ```python
# with no_grad():
#     logits = model(tokens)      # no _inputs kept: each activation is freed when unused
# ```
#
# **Specification.** `no_grad()` is a context manager (written with `@contextlib.contextmanager`,
# given): remember the current `GradMode.enabled`, set it to False, `yield`, and in a
# `finally:` restore the **remembered** value (not True), so that an exception inside the block
# and nested `with no_grad():` blocks both leave the mode as it was.


# %% nbgrader={"grade": false, "grade_id": "no-grad", "locked": false, "schema_version": 3, "solution": true}
#| export
@contextlib.contextmanager
def no_grad():
    """Inside this block operations record no graph; the previous mode is restored after."""
    ### BEGIN SOLUTION
    previous = GradMode.enabled
    GradMode.enabled = False
    try:
        yield
    finally:
        GradMode.enabled = previous
    ### END SOLUTION


# %% [markdown]
# ### Test: `no_grad()`
#
# **What this checks and why.** Inside the block nothing is recorded (the result neither
# requires a gradient nor remembers inputs, so the memory can be freed); the mode comes back
# after the block, after an exception, and after nested blocks. A `no_grad()` that forgot to
# restore the mode would silently stop all training after the first evaluation.


# %% nbgrader={"grade": true, "grade_id": "test-no-grad", "locked": true, "points": 3, "schema_version": 3}
def test_no_grad():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        z = x * 2
        assert not GradMode.enabled, "GradMode.enabled is False inside no_grad()"
    assert not z.requires_grad and z._op is None, "nothing is recorded inside no_grad()"
    assert z._inputs == (), f"no inputs are kept inside no_grad(), got {z._inputs}"
    assert GradMode.enabled, "the mode is restored after the block"
    try:
        with no_grad():
            raise ValueError("an error inside the block")
    except ValueError:
        pass
    assert GradMode.enabled, "no_grad() restores the mode even after an exception"
    with no_grad():
        with no_grad():
            pass
        assert not GradMode.enabled, "leaving an inner no_grad() keeps the outer one off"
    assert GradMode.enabled, "the mode is restored after nested blocks"


if __name__ == "__main__":
    test_no_grad()

# %% [markdown]
# ## 8. Checking gradients numerically
#
# Calculus is easy to get subtly wrong, so we check every rule against **central finite
# differences**: `dL/dxᵢ ≈ (L(x + h·eᵢ) - L(x - h·eᵢ)) / 2h`, whose error is O(h²). In
# float64 with h = 1e-5 that is about 1e-10, plus rounding of about 1e-16 / 1e-5 = 1e-11. (In
# float32 the rounding term would be 1e-7 / 1e-5 = 1e-2: useless, hence float64 here.) The two
# helpers are given; `check_gradients` returns the worst error relative to the gradient's
# scale, and reports a missing or wrongly shaped gradient with an `AssertionError` that says
# which input.


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
        got = tensors[k].grad
        assert got is not None, f"input {k} (shape {array.shape}) received no gradient"
        assert got.shape == array.shape, (
            f"input {k}: the gradient has shape {got.shape}, the input {array.shape}"
        )
        scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
        error = float(np.max(np.abs(got.data - expected), initial=0.0)) / scale
        worst = max(worst, error)
    return worst


# %% [markdown]
# ### Test: elementwise, reduction and broadcasting gradients through the engine
#
# **What this checks and why.** Everything so far together: every elementwise rule and every
# reduction (all axes, both keepdims) inside small programs, through your engine, against
# finite differences. A rule can pass its own unit test and still fail here when it
# interacts with the engine, for example by writing into `g`. Then the broadcasting patterns
# of real networks: a bias `(N,)` added to a batch `(B, N)`, a per-row scale `(B, 1)`, a
# per-column divisor `(1, N)` and a 0-d scalar. The bias gradient must be the sum over the
# batch (here 2 rows of ones: 2.0), with the bias's shape: this is where your `unbroadcast`
# meets the engine.


# %% nbgrader={"grade": true, "grade_id": "test-elementwise-grads", "locked": true, "points": 15, "schema_version": 3}
def test_elementwise_gradients():
    x = Tensor([2.0, 3.0], requires_grad=True)
    y = Tensor([4.0, 5.0], requires_grad=True)
    backward((x * y + x).sum())
    assert np.allclose(x.grad.data, [5.0, 6.0]), f"d/dx of sum(x*y + x) = y + 1, got {x.grad.data}"
    assert np.allclose(y.grad.data, [2.0, 3.0]), f"d/dy of sum(x*y + x) = x, got {y.grad.data}"
    cases = {
        "a + b": (lambda a, b: (a + b) * b, 2),
        "a - b": (lambda a, b: (a - b) * a, 2),
        "a * b": (lambda a, b: a * b * b, 2),
        "a / b": (lambda a, b: a / b, 2),
        "-a": (lambda a: (-a) * a, 1),
        "a ** 3": (lambda a: a**3, 1),
        "a ** -1.5": (lambda a: a**-1.5, 1),
        "exp": (lambda a: a.exp(), 1),
        "log": (lambda a: a.log(), 1),
        "sqrt": (lambda a: a.sqrt(), 1),
    }
    for name, (fn, count) in cases.items():

        def build(*tensors, fn=fn):
            return fn(*tensors).sum()

        error = check_gradients(build, *[(3, 4)] * count, positive=True)
        assert error < 1e-6, f"{name}: autograd differs from finite differences by {error:.2e}"
    for axis in (None, 0, 1, -1, (0, 1)):
        for keepdims in (False, True):
            for reduce in ("sum", "mean", "max"):

                def build(a, reduce=reduce, axis=axis, keepdims=keepdims):
                    return (getattr(a, reduce)(axis, keepdims) ** 2).sum()

                error = check_gradients(build, (3, 4))
                where = f"{reduce}(axis={axis}, keepdims={keepdims})"
                assert error < 1e-6, f"{where}: differs from finite differences by {error:.2e}"

    for name, build, shapes, positive in [
        ("bias add (4, 3) + (3,)", lambda a, b: ((a + b) ** 2).sum(), ((4, 3), (3,)), False),
        ("row scale (4, 1) * (4, 3)", lambda a, b: ((a * b) ** 2).sum(), ((4, 1), (4, 3)), False),
        ("column divisor (2, 3) / (1, 3)", lambda a, b: (a / b).sum(), ((2, 3), (1, 3)), True),
        ("scalar () * (2, 3)", lambda a, b: ((a * b) ** 2).sum(), ((), (2, 3)), False),
    ]:
        error = check_gradients(build, *shapes, positive=positive)
        assert error < 1e-6, f"{name}: differs from finite differences by {error:.2e}"
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.zeros(3), requires_grad=True)
    backward((x + b).sum())
    assert b.grad.shape == (3,), f"the bias gradient has the bias's shape (3,), got {b.grad.shape}"
    assert np.allclose(b.grad.data, 2.0), f"summed over the 2 rows: 2.0 each, got {b.grad.data}"


if __name__ == "__main__":
    test_elementwise_gradients()

# %% [markdown]
# ## 9. The matmul rule, for every shape
#
# **The matrix case, derived.** `out = A @ B` with A `(M, K)`, B `(K, N)`:
# `out[m, n] = Σₖ A[m, k] · B[k, n]`. A[m, k] appears in every out[m, n] of row m, with
# weight B[k, n], so
#
# ```
# dL/dA[m, k] = Σₙ g[m, n] · B[k, n] = (g @ Bᵀ)[m, k]       (M, N) @ (N, K) -> (M, K)  ✓
# dL/dB[k, n] = Σₘ A[m, k] · g[m, n] = (Aᵀ @ g)[k, n]       (K, M) @ (M, N) -> (K, N)  ✓
# ```
#
# A memory aid: a gradient always has the shape of what it is the gradient of, and there is
# only one way to multiply g with the *other* operand (transposed) to get that shape.
#
# **Worked example (matrix @ vector).** A = [[1, 2], [3, 4]], b = [1, 1], out = A @ b = [3, 7],
# and g = [1, 10] (that is, L = 1·out₀ + 10·out₁). Then
#
# ```
# dL/dA = outer(g, b) = [[1, 1], [10, 10]]
# dL/db = Aᵀ @ g = [1 + 30, 2 + 40] = [31, 42]
#
# check: L = 1·(A₀₀b₀ + A₀₁b₁) + 10·(A₁₀b₀ + A₁₁b₁)
#        dL/dA₁₀ = 10·b₀ = 10 ✓        dL/db₀ = A₀₀ + 10·A₁₀ = 1 + 30 = 31 ✓
# ```
#
# **Every case.** `swap(X)` means `np.swapaxes(X, -1, -2)`, the transpose of the last two axes
# (`.T` would reverse *all* axes of a batch). The shapes of dA and dB are those the rule
# returns; the engine then un-broadcasts them to A's and B's shapes.
#
# | case | A | B | out, g | dA | dB |
# |---|---|---|---|---|---|
# | matrix @ matrix | (M, K) | (K, N) | (M, N) | `g @ Bᵀ` (M, K) | `Aᵀ @ g` (K, N) |
# | vector · vector | (K,) | (K,) | () | `g * B` (K,) | `g * A` (K,) |
# | matrix @ vector | (M, K) | (K,) | (M,) | `outer(g, B)` = `g[:, None] * B` (M, K) | `Aᵀ @ g` (K,) |
# | vector @ matrix | (K,) | (K, N) | (N,) | `B @ g` (K,) | `outer(A, g)` = `A[:, None] * g` (K, N) |
# | batch @ batch | (..., M, K) | (..., K, N) | (..., M, N) | `g @ swap(B)` | `swap(A) @ g` |
# | batch @ shared weight | (B, T, K) | (K, N) | (B, T, N) | `g @ Bᵀ` (B, T, K) | Σ over the batch of `Aᵀ @ g` (K, N) |
# | broadcast batches | (2, 1, M, K) | (5, K, N) | (2, 5, M, N) | `g @ swap(B)` (2, 5, M, K) → engine sums to (2, 1, M, K) | `swap(A) @ g` (2, 5, K, N) → engine sums to (5, K, N) |
# | vector @ batch | (K,) | (Bt, K, N) | (Bt, N) | promote A to (1, K): (Bt, K) → engine sums to (K,) | `A[:, None] * g[..., None, :]` (Bt, K, N) |
#
# **One recipe for all of them.** Promote a vector to a matrix, use the batch formulas, and
# drop the axis you added again:
# - A is 1-D: use `A[None, :]`, shape (1, K), and give g the same extra axis,
#   `np.expand_dims(g, -2)`; at the end take `dA[..., 0, :]`.
# - B is 1-D: use `B[:, None]`, shape (K, 1), with `np.expand_dims(g, -1)`; at the end take
#   `dB[..., 0]`.
# - Both 1-D (a dot product): out and g are 0-d, and the answer is simply `(g * B, g * A)`.
#
# **Fast path for a shared weight.** For `(B, T, K) @ (K, N)`, the batch formula `swap(A) @ g`
# makes a `(B, K, N)` array, one weight gradient per batch element, which the engine then sums
# over B. Folding the batch into rows is faster and uses less memory: `rows = A.reshape(-1, K)`,
# `g_rows = g.reshape(-1, N)`, then `dB = rows.T @ g_rows` (one (K, B·T) @ (B·T, N) product),
# and `dA = (g_rows @ B.T).reshape(A.shape)`. Module 01's forward does the same. Optional, but
# the reference uses it because it is the shape of every linear layer applied to a sequence.
#
# ### Specification
#
# `_matmul_grad(g, out)`: `a, b = out._inputs`; g has `out.shape`. Return `(dA, dB)`, each
# with the input's shape or the broadcast shape of the table. It must handle every row of the
# table (the tests use each one). No new graph is recorded: work on `.data` arrays.


# %% nbgrader={"grade": false, "grade_id": "matmul-rule", "locked": false, "schema_version": 3, "solution": true}
#| export
@gradient_rule("matmul")
def _matmul_grad(g, out):
    """out = A @ B for 1-D, 2-D or batched operands: return (dL/dA, dL/dB) (see the table)."""
    ### BEGIN SOLUTION
    a, b = out._inputs
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


# %% [markdown]
# ### Test: matmul gradients
#
# **What this checks and why.** First the worked example, with its numbers. Then every row of
# the table: the rule is called directly, and for each operand the test says which case and
# which operand went wrong (the shape it expected, the shape it got, or the NumPy error your
# rule raised), before comparing values with finite differences. Finally the same cases
# through the engine, where `unbroadcast` sums the broadcast batch dimensions.


# %% nbgrader={"grade": true, "grade_id": "test-matmul-grads", "locked": true, "points": 12, "schema_version": 3}
def test_matmul_gradients():
    A = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, dtype=np.float64)
    b = Tensor([1.0, 1.0], requires_grad=True, dtype=np.float64)
    dA, db = _matmul_grad(np.array([1.0, 10.0]), A @ b)
    assert np.allclose(dA, [[1, 1], [10, 10]]), f"worked example: dA = outer(g, b), got {dA}"
    assert np.allclose(db, [31, 42]), f"worked example: db = A.T @ g = [31, 42], got {db}"

    def fits(grad_shape, shape):
        try:
            return np.broadcast_shapes(grad_shape, shape) == grad_shape
        except ValueError:
            return False

    rng = np.random.default_rng(1)
    cases = [
        ("matrix @ matrix", (3, 4), (4, 2)),
        ("vector . vector", (4,), (4,)),
        ("matrix @ vector", (3, 4), (4,)),
        ("vector @ matrix", (4,), (4, 2)),
        ("batch @ batch", (2, 3, 4), (2, 4, 2)),
        ("batch @ shared weight", (5, 3, 4), (4, 2)),
        ("broadcast batches", (2, 1, 3, 4), (5, 4, 2)),
        ("matrix @ batch", (3, 4), (2, 4, 5)),
        ("vector @ batch", (4,), (2, 4, 3)),
        ("batch @ vector", (2, 3, 4), (4,)),
    ]
    for name, left, right in cases:
        case = f"{name} {left} @ {right}"
        a = Tensor(rng.normal(size=left), requires_grad=True, dtype=np.float64)
        w = Tensor(rng.normal(size=right), requires_grad=True, dtype=np.float64)
        out = a @ w
        g = rng.normal(size=out.shape)
        try:
            grads = _matmul_grad(g, out)
        except ValueError as error:
            raise AssertionError(f"{case}: your rule raised ValueError: {error}") from None
        assert len(grads) == 2, f"{case}: return (dA, dB), got {len(grads)} entries"
        for label, operand, grad, other in (("dA", a, grads[0], w), ("dB", w, grads[1], a)):
            shape = np.shape(grad)
            assert fits(shape, operand.shape), (
                f"{case}: {label} must have shape {operand.shape} (or its broadcast batch "
                f"shape), got {shape}"
            )

            def loss_of(value, operand=operand, other=other, left=a, g=g):
                pair = (value, other.data) if operand is left else (other.data, value)
                return float(np.sum((pair[0] @ pair[1]) * g))

            expected = numerical_gradient(loss_of, operand.data.copy())
            got = unbroadcast(np.asarray(grad), operand.shape)
            assert np.allclose(got, expected, atol=1e-6), f"{case}: wrong values for {label}"

        def build(p, q):
            return ((p @ q) ** 2).sum()

        error = check_gradients(build, left, right)
        assert error < 1e-6, f"{case} through the engine: off by {error:.2e}"


if __name__ == "__main__":
    test_matmul_gradients()

# %% [markdown]
# ## 10. Views and indexing
#
# - **reshape** moves no numbers, it only renames positions: `g.reshape(input.shape)` sends
#   each gradient back to where its element came from.
# - **permute** with `axes` (saved in `out._saved`) sent input axis `axes[i]` to output axis
#   i. Its inverse permutation is `np.argsort(axes)`: for `axes = (2, 0, 1)`, x of shape
#   (2, 3, 4) becomes (4, 2, 3), and `np.transpose(g, (1, 2, 0))` brings g back to (2, 3, 4).
# - **getitem** `out = a[index]` (`index` saved in `out._saved`): each element of out came from
#   one position of a; the gradient is zeros of a's shape with g put at those positions. When
#   an index repeats (an embedding table looking up the same token twice), **the contributions
#   must add up**, and `+=` with a fancy index does not do that:
#
# ```
# grad = np.zeros(4); index = np.array([1, 1, 3]); g = np.array([10., 20., 30.])
# grad[index] += g            ->  [0, 20, 0, 30]     wrong: reads grad[[1, 1, 3]] = [0, 0, 0]
#                                                    once, adds g, writes back: the second
#                                                    write to position 1 (20) replaces the first
# np.add.at(grad, index, g)   ->  [0, 30, 0, 30]     right: 10 + 20 at position 1
# ```
#
# `np.add.at(target, index, values)` is the unbuffered version: it adds once per occurrence.
# It accepts every kind of index that `a[index]` accepts (ints, slices, integer arrays,
# boolean masks, tuples of them), so one line handles them all.
#
# ### Specification
#
# `_reshape_grad`, `_permute_grad`, `_getitem_grad`: the rule contract of section 1; each
# returns a 1-tuple with a gradient of the input's shape (`out._inputs[0].shape`), in g's dtype
# for getitem (`np.zeros(a.shape, dtype=g.dtype)`).


# %% nbgrader={"grade": false, "grade_id": "view-rules", "locked": false, "schema_version": 3, "solution": true}
#| export
@gradient_rule("reshape")
def _reshape_grad(g, out):
    """out = a.reshape(...): return (dL/da,) of a's shape."""
    ### BEGIN SOLUTION
    return (g.reshape(out._inputs[0].shape),)
    ### END SOLUTION


@gradient_rule("permute")
def _permute_grad(g, out):
    """out = a.permute(*axes) with axes = out._saved: return (dL/da,) of a's shape."""
    ### BEGIN SOLUTION
    return (np.transpose(g, np.argsort(out._saved)),)
    ### END SOLUTION


@gradient_rule("getitem")
def _getitem_grad(g, out):
    """out = a[index] with index = out._saved: return (dL/da,); repeated positions add up."""
    ### BEGIN SOLUTION
    (a,), index = out._inputs, out._saved
    grad = np.zeros(a.shape, dtype=g.dtype)
    np.add.at(grad, index, g)
    return (grad,)
    ### END SOLUTION


# %% [markdown]
# ### Test: views and indexing
#
# **What this checks and why.** The `np.add.at` example with its numbers (ids 1, 1, 3 must give
# 2 at row 1, not 1); the inverse permutation on a 3-D tensor (where a wrong inverse still has
# the right shape for some axes, so values are compared); and slices, integer and boolean
# indices against finite differences.


# %% nbgrader={"grade": true, "grade_id": "test-shape-grads", "locked": true, "points": 8, "schema_version": 3}
def test_shape_and_index_gradients():
    table = Tensor(np.zeros((4, 2)), requires_grad=True)
    out = table[np.array([1, 1, 3])]
    (grad,) = _getitem_grad(np.ones((3, 2), dtype=np.float32), out)
    assert np.allclose(grad[:, 0], [0, 2, 0, 1]), (
        f"repeated ids add up: [0, 2, 0, 1], got {grad[:, 0]}"
    )
    x = Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    g = np.arange(24.0).reshape(4, 2, 3)
    (back,) = _permute_grad(g, x.permute(2, 0, 1))
    expected = np.transpose(g, (1, 2, 0))
    assert np.shape(back) == (2, 3, 4), f"permute back to (2, 3, 4), got {np.shape(back)}"
    assert np.array_equal(back, expected), "permute(2, 0, 1) is undone by transpose(1, 2, 0)"
    for name, build, shapes in [
        ("reshape", lambda a: (a.reshape(6, 2) ** 2).sum(), [(3, 4)]),
        ("transpose", lambda a, b: (a.transpose() @ b).sum(), [(3, 4), (3, 2)]),
        ("permute", lambda a: (a.permute(2, 0, 1) ** 2).sum(), [(2, 3, 4)]),
        ("slice", lambda a: (a[1:, ::2] ** 2).sum(), [(3, 4)]),
        ("repeated ids", lambda a: (a[np.array([2, 0, 2])] ** 2).sum(), [(3, 4)]),
        ("boolean mask", lambda a: (a[np.array([True, False, True])] ** 2).sum(), [(3, 4)]),
    ]:
        error = check_gradients(build, *shapes)
        assert error < 1e-6, f"{name}: differs from finite differences by {error:.2e}"


if __name__ == "__main__":
    test_shape_and_index_gradients()

# %% [markdown]
# ## 11. Rules for activations (module 02) and losses (module 04)
#
# These ops compute their output in one NumPy expression and get one hand-derived rule each:
# faster and more stable than differentiating through `exp`, `sum` and `log` one primitive at
# a time, and each keeps less memory for backward.
#
# | op | out | dL/dx | what the rule reads |
# |---|---|---|---|
# | `relu` | max(x, 0) | g · [x > 0] | the input |
# | `sigmoid` | s = 1 / (1 + e⁻ˣ) | g · s(1 - s) | out |
# | `tanh` | t = tanh x | g · (1 - t²) | out |
# | `gelu` (exact) | x · Φ(x) | g · (Φ(x) + x·φ(x)) | the input |
# | `gelu_tanh` | 0.5x(1 + t), t = tanh u | g · (0.5(1 + t) + 0.5x(1 - t²) · du/dx) | input, t = `out._saved` |
# | `softmax` (along `axis` = `out._saved`) | s | s · (g - Σ g·s) | out |
# | `log_softmax` (along `axis` = `out._saved`) | ℓ | g - softmax · Σ g = g - e^ℓ · Σ g | out |
# | `cross_entropy` | mean over N rows of -log softmax(z)[y] | g · (softmax(z) - onehot(y)) / N | `(probs, targets)` = `out._saved` |
# | `binary_cross_entropy` | mean of -(y ln p + (1-y) ln(1-p)) | g · (p - y) / (p(1 - p)) / N | `(p_clipped, y)` = `out._saved` |
#
# Here Φ(x) = ½(1 + erf(x/√2)) is the normal CDF and φ(x) = e^(-x²/2)/√(2π) its density;
# `u = √(2/π)(x + 0.044715x³)`, so `du/dx = √(2/π)(1 + 3·0.044715x²)`. Sums Σ are over the
# softmax axis with `keepdims=True`. ReLU's gradient at exactly 0 is 0 (a convention).
#
# **Sigmoid, with numbers.** At x = 0, s = 0.5 and s(1 - s) = 0.25: the steepest point.
# At x = 5, s = 0.9933, s(1 - s) = 0.0066: a saturated unit barely learns.
#
# **Softmax, derived.** ∂sᵢ/∂zⱼ = sᵢ(δᵢⱼ - sⱼ), so dL/dzⱼ = Σᵢ gᵢ sᵢ(δᵢⱼ - sⱼ) =
# sⱼ(gⱼ - Σᵢ gᵢsᵢ). Worked example: s = [0.5, 0.25, 0.25], g = [1, 0, 0]: Σ g·s = 0.5, so
# dL/dz = [0.5·0.5, 0.25·(-0.5), 0.25·(-0.5)] = [0.25, -0.125, -0.125]. The entries sum to 0:
# adding a constant to every logit does not change a softmax. This is also why a test of
# `softmax(x).sum()` proves nothing (its gradient is always 0) and the tests weight the outputs.
#
# **Softmax + cross-entropy = softmax - onehot.** For one row, L = log Σⱼ e^zⱼ - z_y, so
# dL/dzⱼ = e^zⱼ / Σ e^z - [j = y] = sⱼ - [j = y]. Worked example with 3 classes, y = 0 and
# z = [ln 4, ln 2, ln 2] = [1.386, 0.693, 0.693]: s = [4, 2, 2] / 8 = [0.5, 0.25, 0.25],
# L = -ln 0.5 = 0.693, and dL/dz = [0.5 - 1, 0.25, 0.25] = **[-0.5, 0.25, 0.25]**: push the
# right logit up by as much as the others are pushed down. Check by hand: raise z₁ by 0.01,
# Σ e^z grows by 2·0.01 = 0.02 (from 8), L grows by about 0.02 / 8 = 0.0025: slope 0.25 ✓.
#
# The loss is the **mean** over N rows (N = B·T for a language model), so each row's gradient
# is divided by N, and multiplied by the incoming g (1 for a loss, but not when the loss is
# scaled, `2 * loss`). Module 04 saved `probs` flat as `(N, C)` and the targets as `(N,)`:
# compute the `(N, C)` gradient, `grad[np.arange(N), targets] -= 1` (subtract the one-hot
# without building it; work on a **copy** of probs, which belongs to `out._saved`), then
# **reshape it to the logits' shape** `out._inputs[0].shape`, e.g. `(B, T, C)`.
#
# **BCE.** d/dp of -(y ln p + (1-y) ln(1-p)) = -y/p + (1-y)/(1-p) = (p - y) / (p(1 - p)).
# Example p = 0.8, y = 1: (0.8 - 1) / (0.8·0.2) = -1.25 = -1/0.8 ✓. Use the **clipped** p that
# module 04 saved, so the division is safe at p = 0 or 1; divide by N = `p.size`.
#
# ### Specification
#
# Each rule returns a 1-tuple `(dL/dx,)` with the input's shape, reading what the table's last
# column says. For `gelu`, compute erf elementwise with the given `_ERF` (NumPy has no erf):
# `np.asarray(_ERF(a), dtype=x.dtype)`. The reference `gelu_tanh` computes its formula with
# in-place operations (`*=`, `+=` on its own temporaries), because GELU runs on the widest
# activations of a transformer and every temporary array is a full pass over memory; a
# one-line formula is correct too.


# %% nbgrader={"grade": false, "grade_id": "layer-rules", "locked": false, "schema_version": 3, "solution": true}
#| export
_ERF = np.frompyfunc(math.erf, 1, 1)


@gradient_rule("relu")
def _relu_grad(g, out):
    """out = relu(x): return (dL/dx,)."""
    ### BEGIN SOLUTION
    return (g * (out._inputs[0].data > 0),)
    ### END SOLUTION


@gradient_rule("sigmoid")
def _sigmoid_grad(g, out):
    """out = sigmoid(x): return (dL/dx,) from out."""
    ### BEGIN SOLUTION
    s = out.data
    return (g * s * (1 - s),)
    ### END SOLUTION


@gradient_rule("tanh")
def _tanh_grad(g, out):
    """out = tanh(x): return (dL/dx,) from out."""
    ### BEGIN SOLUTION
    return (g * (1 - out.data * out.data),)
    ### END SOLUTION


@gradient_rule("gelu")
def _gelu_grad(g, out):
    """out = x * Phi(x) (exact GELU): return (dL/dx,)."""
    ### BEGIN SOLUTION
    x = out._inputs[0].data
    cdf = 0.5 * (1.0 + np.asarray(_ERF(x / math.sqrt(2.0)), dtype=x.dtype))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return (g * (cdf + x * pdf),)
    ### END SOLUTION


@gradient_rule("gelu_tanh")
def _gelu_tanh_grad(g, out):
    """out = 0.5 x (1 + t), t = tanh(u) saved in out._saved: return (dL/dx,)."""
    ### BEGIN SOLUTION
    x, t = out._inputs[0].data, out._saved
    # g · (0.5(1 + t) + 0.5x(1 - t²)·du/dx), du/dx = c(1 + 3·0.044715x²), computed in place:
    # each temporary array costs a pass over memory (about 2.5x faster than the one-liner).
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
    """out = softmax(x, axis) with axis = out._saved: return (dL/dx,)."""
    ### BEGIN SOLUTION
    s, axis = out.data, out._saved
    return (s * (g - (g * s).sum(axis=axis, keepdims=True)),)
    ### END SOLUTION


@gradient_rule("log_softmax")
def _log_softmax_grad(g, out):
    """out = log_softmax(x, axis) with axis = out._saved: return (dL/dx,)."""
    ### BEGIN SOLUTION
    axis = out._saved
    return (g - np.exp(out.data) * g.sum(axis=axis, keepdims=True),)
    ### END SOLUTION


@gradient_rule("cross_entropy")
def _cross_entropy_grad(g, out):
    """Saved (probs (N, C), targets (N,)): return (g * (probs - onehot) / N,) in logits' shape."""
    ### BEGIN SOLUTION
    probs, targets = out._saved
    grad = probs.copy()
    grad[np.arange(len(targets)), targets] -= 1
    grad *= g / len(targets)
    return (grad.reshape(out._inputs[0].shape),)
    ### END SOLUTION


@gradient_rule("binary_cross_entropy")
def _binary_cross_entropy_grad(g, out):
    """Saved (p clipped, y): return (g * (p - y) / (p (1 - p)) / N,), N = p.size."""
    ### BEGIN SOLUTION
    p, y = out._saved
    return (g * (p - y) / (p * (1 - p)) / p.size,)
    ### END SOLUTION


# %% [markdown]
# ### Test: activation and loss gradients
#
# **What this checks and why.** The hand examples first: sigmoid's slope 0.25 at 0, the
# softmax example [0.25, -0.125, -0.125], softmax + cross-entropy = [-0.5, 0.25, 0.25], and
# the `(B, T, C)` reshape. Then every activation (with unequal weights on the outputs, since
# a plain sum would give softmax a zero gradient) and every loss against finite differences,
# and finally logits of 1e4, where the gradient must still be softmax - onehot: finite, no NaN.


# %% nbgrader={"grade": true, "grade_id": "test-activation-loss-grads", "locked": true, "points": 15, "schema_version": 3}
def test_activation_and_loss_gradients():
    from tinytorch.core.activations import gelu, log_softmax, relu, sigmoid, softmax, tanh
    from tinytorch.core.losses import binary_cross_entropy, cross_entropy, mse_loss

    (slope,) = _sigmoid_grad(np.ones(1), sigmoid(Tensor([0.0], requires_grad=True)))
    assert np.allclose(slope, 0.25), f"sigmoid'(0) = 0.5 * 0.5 = 0.25, got {slope}"
    z = Tensor(np.log([[4.0, 2.0, 2.0]]), requires_grad=True, dtype=np.float64)
    (dz,) = _softmax_grad(np.array([[1.0, 0.0, 0.0]]), softmax(z))
    assert np.allclose(dz, [[0.25, -0.125, -0.125]]), f"softmax example, got {dz}"
    loss = cross_entropy(z, [0])
    assert np.isclose(loss.item(), np.log(2)), f"-ln 0.5 = 0.693, got {loss.item()}"
    (dz,) = _cross_entropy_grad(np.array(1.0), loss)
    assert np.allclose(dz, [[-0.5, 0.25, 0.25]]), f"softmax - onehot = [-0.5, .25, .25], got {dz}"
    logits = Tensor(np.zeros((2, 3, 4)), requires_grad=True, dtype=np.float64)
    (dz,) = _cross_entropy_grad(np.array(1.0), cross_entropy(logits, np.zeros((2, 3), dtype=int)))
    assert np.shape(dz) == (2, 3, 4), (
        f"the gradient has the logits' shape (2, 3, 4), got {np.shape(dz)}"
    )
    assert np.allclose(dz[0, 0], [-0.75 / 6, 0.25 / 6, 0.25 / 6, 0.25 / 6]), "divided by N = 6"

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

        error = check_gradients(build, (3, 4))
        assert error < 1e-6, f"{name}: differs from finite differences by {error:.2e}"

    targets = np.array([[0, 3, 1], [2, 2, 0]])
    labels = np.array([1.0, 0.0, 1.0, 1.0])
    for name, build, shapes, positive in [
        ("cross_entropy (B, T, C)", lambda z: cross_entropy(z, targets), [(2, 3, 4)], False),
        ("cross_entropy (N, C)", lambda z: cross_entropy(z, targets[0]), [(3, 4)], False),
        ("2 * cross_entropy", lambda z: cross_entropy(z, targets[0]) * 2, [(3, 4)], False),
        ("bce(sigmoid(z))", lambda z: binary_cross_entropy(sigmoid(z), labels), [(4,)], False),
        ("bce(0.4 p)", lambda p: binary_cross_entropy(p * 0.4, labels), [(4,)], True),
        ("mse", lambda a, b: mse_loss(a, b), [(3, 2), (3, 2)], False),
    ]:
        error = check_gradients(build, *shapes, positive=positive)
        assert error < 1e-6, f"{name}: differs from finite differences by {error:.2e}"

    z = Tensor([[1e4, 0.0, -1e4], [0.0, 1e4, -1e4]], requires_grad=True, dtype=np.float64)
    backward(cross_entropy(z, [0, 2]))
    expected = [[0.0, 0.0, 0.0], [0.0, 0.5, -0.5]]
    assert np.allclose(z.grad.data, expected), (
        f"logits of 1e4: expected {expected}, got {z.grad.data}"
    )


if __name__ == "__main__":
    test_activation_and_loss_gradients()

# %% [markdown]
# ## Systems analysis: what the graph costs
#
# **Memory.** Every recorded op keeps its inputs alive through `_inputs` (and extras through
# `_saved`), so as long as the loss exists, **every intermediate activation** of the forward
# pass stays in memory, waiting for backward. Under `no_grad()` nothing is recorded, and each
# activation is freed as soon as the next layer has used it. We measure both with `tracemalloc`
# on your Tensor, activations and engine: a stack of `relu(h @ W)` layers, with the memory
# still held after the forward pass (`current`) and the peak during it.
#
# **Time.** Backward runs one rule per op. For a matmul, forward is one product and backward
# two (`g @ Bᵀ` and `Aᵀ @ g`), so we expect backward to cost about twice the forward pass.


# %%
def _mlp_forward(x: Tensor, weights: list) -> Tensor:
    """relu(h @ W) for each W, then a mean: a small network made of your own ops."""
    from tinytorch.core.activations import relu

    h = x
    for w in weights:
        h = relu(h @ w)
    return (h * h).mean()


def measure_graph_memory(layers: int = 6, batch: int = 128, width: int = 256) -> list:
    """tracemalloc MiB held after the forward pass and peak, with the graph and under no_grad().

    Prints and returns rows (mode, held MiB, peak MiB).
    """
    import tracemalloc

    rng = np.random.default_rng(0)
    weights = [
        Tensor(rng.normal(size=(width, width)) / np.sqrt(width), requires_grad=True)
        for _ in range(layers)
    ]
    x = Tensor(rng.normal(size=(batch, width)))
    activation_mib = batch * width * 4 / 2**20
    rows = []
    for mode, context in (("graph", contextlib.nullcontext), ("no_grad", no_grad)):
        tracemalloc.start()
        with context():
            loss = _mlp_forward(x, weights)
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del loss
        rows.append((mode, held / 2**20, peak / 2**20))
        print(
            f"{mode:8s}: held after forward {held / 2**20:5.2f} MiB, peak {peak / 2**20:5.2f} MiB "
            f"(one activation is {activation_mib:.3f} MiB, {layers} layers)"
        )
    return rows


def measure_backward_cost(layers: int = 6, batch: int = 128, width: int = 256, runs: int = 5):
    """Median seconds of forward and of backward for the same network; prints the ratio.

    Returns (forward seconds, backward seconds).
    """
    import statistics
    import time

    rng = np.random.default_rng(0)
    weights = [
        Tensor(rng.normal(size=(width, width)) / np.sqrt(width), requires_grad=True)
        for _ in range(layers)
    ]
    x = Tensor(rng.normal(size=(batch, width)))
    forward_times, backward_times = [], []
    for _ in range(runs):
        start = time.perf_counter()
        loss = _mlp_forward(x, weights)
        middle = time.perf_counter()
        backward(loss)
        end = time.perf_counter()
        forward_times.append(middle - start)
        backward_times.append(end - middle)
    forward_s, backward_s = statistics.median(forward_times), statistics.median(backward_times)
    print(
        f"forward {forward_s * 1e3:.2f} ms, backward {backward_s * 1e3:.2f} ms "
        f"(backward / forward = {backward_s / forward_s:.1f}x, median of {runs})"
    )
    return forward_s, backward_s


if __name__ == "__main__":
    measure_graph_memory()
    measure_backward_cost()

# %% [markdown]
# **Reading the numbers.** On the reference solution (6 layers, one activation = 0.125 MiB):
# with the graph, 1.63 MiB stays held after the forward pass, 13 activations (each layer keeps
# its matmul output and its ReLU output, plus `h * h`); under `no_grad()` 0.00 MiB stays and the
# peak is 0.38 MiB, three activations, however deep the network. Backward took 2.7-3.2 ms
# against 0.9 ms forward (about 3x, single-threaded BLAS; on a busy shared machine single runs
# vary a lot, which is why we take a median). Two matmuls per matmul explain 2x; the rest is
# the elementwise rules, the copies made by accumulation, and one wasted product: the first
# layer's rule also computes dL/dx for the input x, which needs no gradient (the engine drops
# it). These facts are why evaluation and generation always run under `no_grad()`, and why
# training memory grows with depth × batch × sequence length.

# %% [markdown]
# ## Reflect
#
# Answer in a few sentences each, with numbers where you can (the measurements above help).

# %% [markdown]
# **Q1 (memory kept for backward).** A GPT-style model with 12 layers, batch 8, sequence 1024
# and width 768 keeps, say, 10 activations of shape (B, T, width) per layer for backward, in
# float32. How much memory is that, and which parts of your code keep it alive?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-graph-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# One activation is 8 × 1024 × 768 × 4 bytes = 24 MiB; 10 per layer × 12 layers = 120 of them,
# about 2.9 GiB, more than the model's parameters (about 85 M × 4 bytes = 340 MB). They are
# alive because each recorded op holds its inputs in `out._inputs` (and softmax, cross-entropy
# and layer norm keep extra arrays in `out._saved`), and the loss holds the whole chain. They
# are released only when the loss (and with it the graph) is dropped after backward.
# ### END SOLUTION

# %% [markdown]
# **Q2 (cost of backward).** Why does backward through a linear layer cost about twice its
# forward pass? What did you measure, and why might it differ from exactly 2?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-backward-cost", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Forward does one (M, K) @ (K, N) product, 2MKN flops; backward needs dA = g @ Bᵀ and
# dB = Aᵀ @ g, two products of the same size, 4MKN flops. So a training step costs about 3x a
# forward pass. The measured ratio was about 3x rather than 2x: the elementwise rules (relu,
# the mean) and the copies in the accumulation (`np.array(g)` for each leaf) are memory passes
# that are not matmuls, and the first layer's rule computes dL/dx although x needs no
# gradient (a rule could return None for an input whose `requires_grad` is False and save that
# product). Timings on a shared machine also vary from run to run, hence the median.
# ### END SOLUTION

# %% [markdown]
# **Q3 (what no_grad saves).** What did `measure_graph_memory` report with and without the
# graph? How would the two numbers change with 4x more layers, and with 4x the batch?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-no-grad", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# With the graph the forward pass left 1.63 MiB alive, 13 activations of 0.125 MiB (two per
# layer for 6 layers, plus h * h); under no_grad() 0.00 MiB stays after the forward pass, and the
# peak is 0.38 MiB, about three activations. With 4x the layers the graph's memory grows 4x
# while no_grad's peak stays the same (it depends on the widest layer, not the depth); with 4x
# the batch both grow 4x, because every activation is 4x larger. no_grad also saves the time
# of recording (tiny) and, more importantly, lets generation run for thousands of steps
# without holding any graph.
# ### END SOLUTION

# %% [markdown]
# **Q4 (numerical stability).** The cross-entropy test feeds logits of 1e4 and expects the
# gradient [0, 0.5, -0.5] for the second row. Why is the fused rule (softmax - onehot)
# stable here, while differentiating `-log(softmax(z)[y])` op by op would produce NaN or inf?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-stability", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Op by op, the softmax of [0, 1e4, -1e4] has p = e^-2e4 = 0 exactly for the target class, so
# log p = -inf and the log rule's gradient g / p divides by zero: inf, and inf × 0 in the
# softmax rule gives NaN. The fused rule never divides: the saved probabilities come from the
# log-sum-exp forward pass and lie in [0, 1], and softmax - onehot is bounded in [-1, 1]. The
# same idea (derive the combined rule by hand, compute it from stable saved values) is why
# BCE saves the clipped p.
# ### END SOLUTION

# %% [markdown]
# **Q5 (what breaks).** What would go wrong if `topological_order` were recursive, or if the
# engine overwrote (`=`) instead of adding (`+`) when a tensor receives a second gradient?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-engine-bugs", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Recursive: Python's default recursion limit is 1,000 frames, so a chain of 2,000 ops (an
# unrolled RNN, a long loop of updates, a very deep network) raises RecursionError. Overwriting:
# every tensor used twice (x * x, a residual x + f(x), weights shared between layers) would keep
# only the last contribution, so x * x would get x instead of 2x: training still runs, with
# silently wrong gradients, which is the worst kind of bug and why the diamond test exists.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 05_autograd.")
