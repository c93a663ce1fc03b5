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
# # Module 02: Activations
#
# A linear layer computes `x @ W + b`. Stack two of them and you get another linear map.
# With numbers, in one dimension: `f(x) = 3x + 1` followed by `g(y) = 2y + 5` is
# `g(f(x)) = 2(3x + 1) + 5 = 6x + 7`. With matrices the same algebra gives
# `(x @ W1 + b1) @ W2 + b2 = x @ (W1 @ W2) + (b1 @ W2 + b2)`: however many linear layers you
# stack, the network can only draw straight lines (planes, hyperplanes). An **activation** is
# a nonlinear function applied element by element between the layers, and it is what lets a
# network bend its decision boundary. With ReLU between them, `g(relu(f(x)))` is `6x + 7`
# for `x > -1/3` and the constant `5` below it: a kink, and enough kinks make any shape.
#
# In this module you build the activations of `tinytorch.core.activations`:
#
# | name | formula | range | used in |
# |---|---|---|---|
# | ReLU | max(x, 0) | [0, ∞) | most MLPs and CNNs |
# | Sigmoid | 1 / (1 + e⁻ˣ) | (0, 1) | probabilities for binary labels, gates |
# | Tanh | (eˣ - e⁻ˣ) / (eˣ + e⁻ˣ) | (-1, 1) | RNNs, zero-centred outputs |
# | GELU | x·Φ(x) | ≈ [-0.17, ∞) | transformers (BERT, GPT) |
# | Softmax | eˣⁱ / Σⱼ eˣʲ along one axis | (0, 1), sums to 1 | class probabilities, attention |
# | LogSoftmax | xᵢ - log Σⱼ eˣʲ | (-∞, 0] | classification losses |
#
# **You will learn**
# - why `exp` overflows in float32 past x ≈ 88.7, and how to compute sigmoid and softmax so
#   that it never hurts;
# - why GELU has an exact form and a tanh approximation, and what each costs per element;
# - how each activation becomes **one op** in the graph (`"relu"`, `"softmax"`, ...), and
#   what it must save for its gradient.
#
# **One op per activation.** Softmax could be written with the Tensor operations of module 01
# (`exp`, `sum`, `/`), and autograd would differentiate through them. Instead each activation
# here computes its result in NumPy and records itself as **one** node with
# `Tensor.from_op(result, "softmax", (x,), saved)`. In module 05 you give each op name one
# hand-derived gradient rule: fewer nodes, less memory, and a gradient as stable as the
# forward pass. This module checks the forward values and that the right node is recorded.
#
# Each piece below follows the same order: explanation with a worked example, specification,
# your code, and a graded test right after it. Run `tito module test 02_activations` as you go.

# %%
#| default_exp core.activations
#| export
import math

import numpy as np

from tinytorch.core.tensor import Tensor, as_tensor

# %% [markdown]
# ## 1. ReLU, and floating-point input
#
# `relu(x) = max(x, 0)`: negative inputs become 0, positive ones pass unchanged.
#
# ```
# x       = [-2.0, -0.5, 0.0, 0.5, 2.0]
# relu(x) = [ 0.0,  0.0, 0.0, 0.5, 2.0]
# ```
#
# It costs one comparison per element, and its gradient is 0 or 1, so it neither saturates
# for large inputs (as sigmoid does) nor shrinks gradients layer after layer.
#
# **What it records:** op `"relu"`, inputs `(x,)`, nothing saved: the gradient rule needs to
# know where `x > 0`, and reads that from the input itself.
#
# **Floating-point input.** The other activations produce fractions, so an integer tensor
# (`Tensor([1, 2, 3])`) must be computed in float32, the course's default precision, while a
# float64 tensor stays float64 (gradient checks rely on that). `_float_data(x)` gives those
# values; ReLU does not need it (`max(x, 0)` of integers is an integer).
#
# ### Specification
#
# - `_float_data(x)`: `x.data` itself when its dtype kind is `"f"` (float16/32/64: no copy),
#   else `x.data.astype(np.float32)`.
# - `relu(x)`: `x` may be a Tensor, a list or an ndarray (`as_tensor`, given, makes it a
#   Tensor). Return `Tensor.from_op(np.maximum(x.data, 0), "relu", (x,))`: same shape, same
#   dtype as the input.


# %% nbgrader={"grade": false, "grade_id": "relu", "locked": false, "schema_version": 3, "solution": true}
#| export
def _float_data(x: Tensor) -> np.ndarray:
    """x's values as floats: float tensors as they are, anything else as float32."""
    ### BEGIN SOLUTION
    return x.data if x.data.dtype.kind == "f" else x.data.astype(np.float32)
    ### END SOLUTION


def relu(x) -> Tensor:
    """max(x, 0) elementwise; op "relu" with inputs (x,)."""
    x = as_tensor(x)
    ### BEGIN SOLUTION
    return Tensor.from_op(np.maximum(x.data, 0), "relu", (x,))
    ### END SOLUTION


# %% [markdown]
# ### Test: ReLU
#
# What this checks and why: the worked example by value, that shape and dtype are kept, that
# array-likes are accepted (layers pass lists through), that `_float_data` converts integers
# only, and that a `"relu"` node is recorded exactly when the input requires a gradient.


# %% nbgrader={"grade": true, "grade_id": "test-relu", "locked": true, "points": 10, "schema_version": 3}
def test_relu():
    x = Tensor([[-2.0, -0.5, 0.0], [0.5, 2.0, 3.0]])
    out = relu(x)
    assert np.array_equal(out.data, [[0, 0, 0], [0.5, 2, 3]]), f"max(x, 0), got {out.data}"
    assert out.shape == (2, 3) and out.dtype == np.float32, "shape and float32 are kept"
    assert np.array_equal(relu([-1.0, 4.0]).data, [0, 4]), "array-likes are accepted"
    assert _float_data(Tensor([1, 2])).dtype == np.float32, "integers become float32"
    d = Tensor([1.0], dtype=np.float64)
    assert _float_data(d) is d.data, "float data is returned as it is (no copy)"
    w = Tensor([-1.0, 1.0], requires_grad=True)
    assert relu(w)._op == "relu" and relu(w)._inputs[0] is w, "records 'relu' with (x,)"
    assert relu(x)._op is None and not relu(x).requires_grad, "no grad needed: no node"
    ### BEGIN HIDDEN TESTS
    y = relu(Tensor([3.0, -7.0, 0.25], dtype=np.float64))
    assert np.array_equal(y.data, [3.0, 0.0, 0.25]) and y.dtype == np.float64, "float64 kept"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_relu()


# %% [markdown]
# ## 2. Sigmoid and Tanh
#
# `sigmoid(x) = 1 / (1 + e⁻ˣ)` squashes any number into (0, 1). By hand:
# `sigmoid(0) = 1 / (1 + 1) = 0.5`, `sigmoid(2) = 1 / (1 + 0.1353) = 0.8808`,
# `sigmoid(-2) = 1 - 0.8808 = 0.1192`.
#
# **Overflow.** `exp` grows fast: in float32 the largest number is about 3.4e38, so
# `exp(88.7)` is the last finite value and `exp(89)` is `inf`; `exp(1e4)` is `inf` in any
# precision. Whether that is a bug depends on what happens next:
#
# - in sigmoid it is harmless: for x = -1e4, `1 / (1 + inf) = 0`, which is the correct limit,
#   and for x = +1e4, `exp(-1e4)` underflows to 0 and the result is exactly 1. No NaN can
#   appear, and both tails keep full relative precision (`sigmoid(-30)` is computed to the
#   last digit), which matters when a loss takes its log. We only silence NumPy's overflow
#   warning, with `with np.errstate(over="ignore"):`, around this one expression;
# - it is fatal when two infinities meet: `inf / inf` and `inf - inf` are NaN. That is what
#   happens in a naive softmax (section 4), and there we must avoid the overflow itself.
#
# (The identity `sigmoid(x) = 0.5·(1 + tanh(x/2))` never overflows either and is as fast,
# but for very negative x it subtracts two numbers close to 1 and loses relative precision:
# in float32 it is 44% off at x = -17 and returns 0 from x = -20 on.)
#
# `tanh(x) = 2·sigmoid(2x) - 1` has range (-1, 1) and is centred on 0: `tanh(1) =
# 2·0.8808 - 1 = 0.7616`. `np.tanh` is already stable.
#
# **What they record:** op `"sigmoid"` and op `"tanh"`, each with inputs `(x,)` and nothing
# saved: their gradients are written in terms of the **output** (`s·(1 - s)` and `1 - t²`),
# which the result tensor holds anyway.
#
# ### Specification
#
# - `sigmoid(x)`: compute on `_float_data(x)` (integers become float32, float64 stays);
#   `1 / (1 + np.exp(-data))` inside `np.errstate(over="ignore")`; return
#   `Tensor.from_op(out, "sigmoid", (x,))`. No overflow warning and no NaN for any finite
#   input; `sigmoid(-1e4) == 0` and `sigmoid(1e4) == 1` exactly.
# - `tanh(x)`: `Tensor.from_op(np.tanh(_float_data(x)), "tanh", (x,))`.


# %% nbgrader={"grade": false, "grade_id": "sigmoid-tanh", "locked": false, "schema_version": 3, "solution": true}
#| export
def sigmoid(x) -> Tensor:
    """1 / (1 + exp(-x)); an overflowing exp(-x) gives the correct limit 0; op "sigmoid"."""
    x = as_tensor(x)
    ### BEGIN SOLUTION
    data = _float_data(x)
    with np.errstate(over="ignore"):  # exp(-x) = inf gives 1 / (1 + inf) = 0: correct
        out = 1 / (1 + np.exp(-data))
    return Tensor.from_op(out, "sigmoid", (x,))
    ### END SOLUTION


def tanh(x) -> Tensor:
    """Hyperbolic tangent, range (-1, 1); op "tanh"."""
    x = as_tensor(x)
    ### BEGIN SOLUTION
    return Tensor.from_op(np.tanh(_float_data(x)), "tanh", (x,))
    ### END SOLUTION


# %% [markdown]
# ### Test: Sigmoid and Tanh
#
# What this checks and why: the hand-computed values, the identity `tanh(x) = 2σ(2x) - 1`,
# inputs of ±1e4 with NumPy told to *raise* on overflow (so a stray warning fails the test),
# full precision in the far tail (a loss takes `log σ(x)`), and the dtype rules.


# %% nbgrader={"grade": true, "grade_id": "test-sigmoid-tanh", "locked": true, "points": 20, "schema_version": 3}
def test_sigmoid_and_tanh():
    s = sigmoid(Tensor([0.0, 2.0, -2.0]))
    assert np.allclose(s.data, [0.5, 0.8808, 0.1192], atol=1e-4), f"by hand, got {s.data}"
    assert s.data[0] == 0.5 and s.dtype == np.float32, "sigmoid(0) = 0.5 exactly, in float32"
    values = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    t = tanh(values)
    assert np.allclose(t.data, np.tanh(values), atol=1e-7), f"tanh values, got {t.data}"
    via_sigmoid = 2 * sigmoid(2 * values).data - 1
    assert np.allclose(t.data, via_sigmoid, atol=1e-6), "tanh(x) = 2·sigmoid(2x) - 1"
    huge = Tensor([-1e4, -100.0, 100.0, 1e4])
    # Any overflow, 0/0 or division by zero fails the test (underflow to 0 is fine).
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s_huge, t_huge = sigmoid(huge), tanh(huge)
    assert np.allclose(s_huge.data, [0, 0, 1, 1], atol=1e-30), f"the limits, got {s_huge.data}"
    assert s_huge.data[0] == 0 and s_huge.data[3] == 1, "sigmoid(∓1e4) is exactly 0 and 1"
    assert np.array_equal(t_huge.data, [-1, -1, 1, 1]), f"tanh saturates, got {t_huge.data}"
    tail = sigmoid(Tensor([-30.0], dtype=np.float64)).data[0]
    assert abs(tail / math.exp(-30) - 1) < 1e-12, f"full relative precision in the tail: {tail}"
    assert sigmoid(Tensor([1, 2])).dtype == np.float32, "integers are computed in float32"
    x64 = Tensor([0.3], dtype=np.float64)
    assert sigmoid(x64).dtype == np.float64 and tanh(x64).dtype == np.float64, "float64 kept"
    w = Tensor([0.1], requires_grad=True)
    assert sigmoid(w)._op == "sigmoid" and tanh(w)._op == "tanh", "one node each"
    assert sigmoid(w)._inputs[0] is w and tanh(w)._saved is None, "inputs (x,), nothing saved"


if __name__ == "__main__":
    test_sigmoid_and_tanh()


# %% [markdown]
# ## 3. GELU: exact and tanh approximation
#
# GELU weights its input by the probability that a standard normal variable is below it:
#
# ```
# gelu(x) = x·Φ(x) = 0.5·x·(1 + erf(x / √2))                    (exact, op "gelu")
# ```
#
# It is smooth where ReLU has a kink, lets small negative values through (its minimum is
# about -0.17 at x ≈ -0.75), and is the activation of BERT and GPT.
#
# NumPy has no vectorised `erf`. `np.frompyfunc(math.erf, 1, 1)` (given as `_ERF`) applies
# Python's `math.erf` to each element, which runs at Python speed (tens of times slower than
# a NumPy ufunc; section 6 measures it) and returns an array of Python objects (a bare float
# for a 0-d input), which you convert back with `np.asarray(..., dtype=data.dtype)`. GPT-2
# therefore used a tanh approximation built only from fast ufuncs:
#
# ```
# u = √(2/π)·(x + 0.044715·x³)
# gelu_tanh(x) = 0.5·x·(1 + tanh(u))                              (op "gelu_tanh")
# ```
#
# **Worked example at x = 1:** exact: `0.5·(1 + erf(0.7071)) = 0.5·(1 + 0.6827) = 0.84134`.
# Approximation: `u = 0.79788·1.044715 = 0.83356`, `tanh(u) = 0.68238`,
# `0.5·(1 + 0.68238) = 0.84119`. They differ by 1.5e-4; everywhere the difference stays
# below 5e-4.
#
# `GELU(approximate="tanh")` is our default, because it is fast and it is what GPT-2 was
# trained with; `GELU(approximate="none")` gives the exact form. (PyTorch's `nn.GELU`
# defaults to `"none"`; pass the argument explicitly when you compare with it.)
#
# **What they record:** `"gelu"` with inputs `(x,)`, nothing saved. `"gelu_tanh"` with inputs
# `(x,)` and **`saved = t`, the array `tanh(u)`**: the gradient
# `0.5·(1 + t) + 0.5·x·(1 - t²)·du/dx` needs it, and recomputing a tanh in the backward pass
# would cost as much as the whole forward pass.
#
# **Speed, optional.** The tanh form runs on the widest activations of a transformer, so
# temporaries matter: `x*x*x` is much faster than `x**3` for float32 arrays, and in-place
# updates (`inner *= ...`) avoid allocating a new array per step. Any correct formula passes
# the tests; the reference solution shows the fast one.
#
# ### Specification: `gelu(x, approximate="tanh")`
#
# - Compute on `data = _float_data(x)` (given); the result has data's dtype.
# - `approximate == "none"`: `erf = np.asarray(_ERF(data / math.sqrt(2.0)), dtype=data.dtype)`,
#   return `Tensor.from_op(0.5 * data * (1 + erf), "gelu", (x,))`.
# - `approximate == "tanh"`: `u` as above (`_SQRT_2_OVER_PI` is given), `t = np.tanh(u)`, return
#   `Tensor.from_op(0.5 * data * (1 + t), "gelu_tanh", (x,), t)`. For |x| beyond about 7e12
#   `x³` overflows float32 to ±inf, where `tanh` is ±1 anyway: silence the warning with
#   `np.errstate(over="ignore")` so `gelu(±1e4)` is `[0, 1e4]` without a warning.
# - Any other `approximate` falls through to the given `ValueError` naming the bad value.


# %% nbgrader={"grade": false, "grade_id": "gelu", "locked": false, "schema_version": 3, "solution": true}
#| export
_ERF = np.frompyfunc(math.erf, 1, 1)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(x, approximate: str = "tanh") -> Tensor:
    """x·Φ(x): exact with approximate="none" (op "gelu"), tanh form with "tanh" (op "gelu_tanh")."""
    x = as_tensor(x)
    data = _float_data(x)
    ### BEGIN SOLUTION
    if approximate == "none":
        # frompyfunc returns objects (a bare float for 0-d input): convert back to the dtype.
        erf = np.asarray(_ERF(data / math.sqrt(2.0)), dtype=data.dtype)
        return Tensor.from_op(0.5 * data * (1 + erf), "gelu", (x,))
    if approximate == "tanh":
        # x*x*x, not x**3: NumPy's float32 power is about 40x slower than two multiplies.
        with np.errstate(over="ignore"):
            inner = data * data
            inner *= 0.044715 * data  # in place: one array instead of three temporaries
            inner += data
            inner *= _SQRT_2_OVER_PI
        t = np.tanh(inner)
        out = t + 1.0
        out *= 0.5 * data
        return Tensor.from_op(out, "gelu_tanh", (x,), t)
    ### END SOLUTION
    raise ValueError(f"gelu: approximate must be 'tanh' or 'none', not {approximate!r}.")


# %% [markdown]
# ### Test: GELU
#
# What this checks and why: the worked example at x = 1 for both forms, both forms against
# their formulas on a grid in float64, the 5e-4 bound between them, a 0-d input (the
# object-array pitfall of `frompyfunc`), ±1e4 without overflow warnings, and the saved `t`
# that module 05's rule reads.


# %% nbgrader={"grade": true, "grade_id": "test-gelu", "locked": true, "points": 20, "schema_version": 3}
def test_gelu():
    one = Tensor([1.0], dtype=np.float64)
    exact_one, approx_one = gelu(one, "none").data[0], gelu(one).data[0]
    assert abs(exact_one - 0.84134) < 1e-5, f"exact gelu(1) = 0.84134, got {exact_one}"
    assert abs(approx_one - 0.84119) < 1e-5, f"tanh-form gelu(1) = 0.84119, got {approx_one}"
    xs = np.linspace(-6, 6, 121)
    exact_formula = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in xs])
    exact = gelu(Tensor(xs, dtype=np.float64), approximate="none")
    assert np.allclose(exact.data, exact_formula, atol=1e-12), "exact form matches x·Φ(x)"
    tanh_formula = 0.5 * xs * (1 + np.tanh(math.sqrt(2 / math.pi) * (xs + 0.044715 * xs**3)))
    approx = gelu(Tensor(xs, dtype=np.float64))
    assert np.allclose(approx.data, tanh_formula, atol=1e-12), "the default is the tanh form"
    gap = np.max(np.abs(approx.data - exact.data))
    assert gap < 5e-4, f"the approximation stays within 5e-4, got {gap}"
    assert gelu(Tensor(0.5), "none").shape == (), "a 0-d tensor works (erf gives a bare float)"
    assert gelu(Tensor(0.5), "none").dtype == np.float32, "the exact form keeps float32"
    big = Tensor([-1e4, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = gelu(big).data
    assert np.array_equal(got, [0, 1e4]), f"gelu(∓1e4) = [0, 1e4] without overflow, got {got}"
    assert np.array_equal(gelu(big, "none").data, [0, 1e4]), "the exact form too"
    w = Tensor([0.1, -2.0], requires_grad=True)
    node = gelu(w)
    assert node._op == "gelu_tanh" and gelu(w, "none")._op == "gelu", "op names by form"
    u = math.sqrt(2 / math.pi) * (w.data + 0.044715 * w.data**3)
    assert np.allclose(node._saved, np.tanh(u), atol=1e-6), "gelu_tanh saves t = tanh(u)"
    try:
        gelu(w, "fast")
    except ValueError as error:
        assert "fast" in str(error), f"the message names the bad value: {error}"
    else:
        raise AssertionError("an unknown approximation must raise ValueError")
    ### BEGIN HIDDEN TESTS
    neg = Tensor([-0.75], dtype=np.float64)
    assert abs(gelu(neg, "none").data[0] + 0.1700) < 1e-3, "GELU's minimum is about -0.17"
    assert gelu(Tensor([[2, -1]])).dtype == np.float32, "integers are computed in float32"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_gelu()


# %% [markdown]
# ## 4. Softmax and LogSoftmax
#
# Softmax turns a vector of scores (logits) into probabilities along one axis:
#
# ```
# softmax(x)ᵢ = exp(xᵢ) / Σⱼ exp(xⱼ)
# ```
#
# Written literally, logits of 100 already overflow float32 (`exp(100) = inf`, and
# `inf / inf = nan`). But softmax does not change when you add the same number `c` to every
# element: `exp(xᵢ - c) / Σⱼ exp(xⱼ - c)` has the factor `e⁻ᶜ` on top and bottom. Choosing
# `c = max(x)` makes every exponent ≤ 0, so each `exp` is in (0, 1] and the largest is
# exactly 1: the sum is at least 1 and nothing overflows or divides by zero.
#
# **Worked example, x = [1, 2, 3]:**
#
# ```
# shifted = x - max(x)        = [-2, -1, 0]
# e = exp(shifted)            = [0.1353, 0.3679, 1.0000]        sum = 1.5032
# softmax = e / sum           = [0.0900, 0.2447, 0.6652]        (sums to 1)
# ```
#
# `[1001, 1002, 1003]` gives the same shifted vector, so the same probabilities, where the
# literal formula would give `nan`.
#
# **Shapes.** For `x` of shape `(B, T, C)` and `axis=-1`, the max and the sum are taken with
# `keepdims=True`, giving `(B, T, 1)`, which broadcasts back over `C`. Any axis works the
# same way; `axis=0` normalises down the columns.
#
# **LogSoftmax** is `log(softmax(x))`, but computing it that way fails when a probability
# underflows to 0 (`log 0 = -inf`): in float32, any logit more than about 104 below the
# maximum. With `m = max(x)`:
#
# ```
# log_softmax(x)ᵢ = (xᵢ - m) - log Σⱼ exp(xⱼ - m)          (the log-sum-exp trick)
# ```
#
# For `x = [1, 2, 3]`: `log(1.5032) = 0.4076`, so `log_softmax = [-2.4076, -1.4076,
# -0.4076]`. Every term is finite for any finite x.
#
# **What they record:** op `"softmax"` / `"log_softmax"`, inputs `(x,)`, **`saved = axis`**
# (the int you were given): the gradient rules sum along that axis. Both gradients are
# written in terms of the output, so nothing else is saved.
#
# ### Specification
#
# - `_shifted(data, axis)`: `data - max(data along axis, keepdims=True)`, same shape as data.
# - `softmax(x, axis=-1)`: on `_float_data(x)`: shift, `np.exp`, divide by the sum along
#   `axis` (keepdims). Return `Tensor.from_op(probs, "softmax", (x,), axis)`.
# - `log_softmax(x, axis=-1)`: `shifted - log(sum(exp(shifted)))` along `axis` (keepdims).
#   Return `Tensor.from_op(out, "log_softmax", (x,), axis)`.
# - Edge cases: a row of equal values gives the uniform distribution; a row like
#   `[1e4, 0, -1e4]` gives `[1, 0, 0]` with no warning; an axis out of range raises NumPy's
#   `AxisError` (a `ValueError`) by itself.


# %% nbgrader={"grade": false, "grade_id": "softmax", "locked": false, "schema_version": 3, "solution": true}
#| export
def _shifted(data: np.ndarray, axis: int) -> np.ndarray:
    """x - max(x) along `axis`: every entry ≤ 0, so exp of it cannot overflow."""
    ### BEGIN SOLUTION
    return data - np.max(data, axis=axis, keepdims=True)
    ### END SOLUTION


def softmax(x, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`, stable for any magnitude; op "softmax" saves axis."""
    x = as_tensor(x)
    ### BEGIN SOLUTION
    e = np.exp(_shifted(_float_data(x), axis))
    probs = e / e.sum(axis=axis, keepdims=True)
    return Tensor.from_op(probs, "softmax", (x,), axis)
    ### END SOLUTION


def log_softmax(x, axis: int = -1) -> Tensor:
    """log(softmax(x)) by the log-sum-exp trick; op "log_softmax" saves axis."""
    x = as_tensor(x)
    ### BEGIN SOLUTION
    shifted = _shifted(_float_data(x), axis)
    log_sum = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return Tensor.from_op(shifted - log_sum, "log_softmax", (x,), axis)
    ### END SOLUTION


# %% [markdown]
# ### Test: Softmax and LogSoftmax
#
# What this checks and why: the worked example by value, rows summing to 1, shift invariance
# (x + 1000 gives the same probabilities), the `axis` argument, inputs of ±1e4 with NumPy
# raising on any overflow or NaN, log-softmax against `log(softmax)` where both are finite,
# and the saved axis that module 05's rules read.


# %% nbgrader={"grade": true, "grade_id": "test-softmax", "locked": true, "points": 25, "schema_version": 3}
def test_softmax_and_log_softmax():
    got = softmax(Tensor([1.0, 2.0, 3.0])).data
    assert np.allclose(got, [0.0900, 0.2447, 0.6652], atol=1e-4), f"worked example, got {got}"
    got = log_softmax(Tensor([1.0, 2.0, 3.0])).data
    assert np.allclose(got, [-2.4076, -1.4076, -0.4076], atol=1e-4), f"log form, got {got}"
    shifted = _shifted(np.array([[1.0, 2.0, 3.0]]), -1)
    assert np.array_equal(shifted, [[-2, -1, 0]]), f"_shifted subtracts the row max: {shifted}"
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    p = softmax(logits)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.allclose(p.data, expected, atol=1e-7), "matches the literal formula"
    assert np.allclose(p.data.sum(axis=1), 1), f"rows sum to 1, got {p.data.sum(axis=1)}"
    assert np.allclose(softmax(logits + 1000).data, p.data, atol=1e-7), "shift invariance"
    assert np.allclose(softmax(logits, axis=0).data.sum(axis=0), 1), "axis picks the axis"
    big = Tensor([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p_big, lp_big = softmax(big), log_softmax(big)
    assert np.allclose(p_big.data, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]]), f"got {p_big.data}"
    assert np.all(np.isfinite(lp_big.data)), f"log_softmax stays finite, got {lp_big.data}"
    assert np.isclose(lp_big.data[0, 2], -2e4), "log-probability of the -1e4 logit is -2e4"
    lp = log_softmax(logits)
    assert np.allclose(lp.data, np.log(expected), atol=1e-6), "log_softmax = log(softmax)"
    x = Tensor(np.zeros((2, 3, 4)), requires_grad=True)
    assert softmax(x).shape == (2, 3, 4), "the shape is kept"
    assert softmax(x)._op == "softmax" and log_softmax(x)._op == "log_softmax", "op names"
    assert softmax(x, axis=1)._saved == 1, "softmax saves its axis"
    assert log_softmax(x, axis=-1)._saved == -1, "log_softmax saves its axis"
    ### BEGIN HIDDEN TESTS
    q = softmax(Tensor([[0.0, math.log(3.0)]], dtype=np.float64)).data
    assert np.allclose(q, [[0.25, 0.75]]), f"e^0 : e^log3 = 1 : 3, got {q}"
    r = log_softmax(Tensor([[5.0], [7.0]]), axis=0).data
    assert np.allclose(r, [[-2.126928], [-0.126928]], atol=1e-5), f"axis=0 log form, got {r}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_softmax_and_log_softmax()


# %% [markdown]
# ## 5. Activation classes
#
# Layers (module 03) are objects you call: `layer(x)`. The activation classes wrap the
# functions above so they fit in a `Sequential` next to `Linear` layers:
# `Sequential(Linear(2, 8), ReLU(), Linear(8, 1))`.
#
# ```
# _Activation              __call__(x) -> self.forward(x);  parameters() -> []
#  ├── ReLU                forward(x) = relu(x)
#  ├── Sigmoid, Tanh       forward(x) = sigmoid(x), tanh(x)
#  ├── GELU(approximate)   forward(x) = gelu(x, self.approximate)
#  ├── Softmax(dim=-1)     forward(x) = softmax(x, self.dim)
#  └── LogSoftmax(dim=-1)  forward(x) = log_softmax(x, self.dim)
# ```
#
# `parameters()` returns an empty list: activations have nothing to learn, and an optimizer
# collecting a model's parameters asks every layer. (PyTorch's argument is called `dim`, the
# functions above call it `axis`, as NumPy does.)
#
# ### Specification
#
# - `_Activation.__call__(x)` returns `self.forward(x)`; `_Activation.parameters()` returns `[]`.
# - Each `forward(x)` returns the function of its class applied to `x`, with the stored
#   settings.
# - `_check_dim(dim)`: return `int(dim)` for an integer (Python `int` or a NumPy integer);
#   anything else, including `None` and `True`, raises `TypeError` naming the value.
#   `Softmax(dim)` and `LogSoftmax(dim)` store `self.dim = _check_dim(dim)`. (A `dim=None`
#   would silently normalise over *all* elements of a batch, mixing samples together.)
# - `GELU(approximate="tanh")`: an `approximate` other than `"tanh"` or `"none"` raises
#   `ValueError` naming the bad value **at construction** (not at the first call, when the
#   mistake is far away); otherwise store it as `self.approximate`.


# %% nbgrader={"grade": false, "grade_id": "activation-classes", "locked": false, "schema_version": 3, "solution": true}
#| export
def _check_dim(dim) -> int:
    """`dim` as an int; None, bools, floats and strings raise TypeError."""
    ### BEGIN SOLUTION
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"dim must be an integer axis such as -1, not {dim!r}.")
    return int(dim)
    ### END SOLUTION


class _Activation:
    """Base of the activation layers: callable, no parameters."""

    def forward(self, x) -> Tensor:
        raise NotImplementedError

    def __call__(self, x) -> Tensor:
        """layer(x) is layer.forward(x)."""
        ### BEGIN SOLUTION
        return self.forward(x)
        ### END SOLUTION

    def parameters(self) -> list:
        """Nothing to learn: an empty list."""
        ### BEGIN SOLUTION
        return []
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ReLU(_Activation):
    """max(x, 0)."""

    def forward(self, x) -> Tensor:
        """relu(x): elementwise, any shape in, the same shape out (array-likes accepted)."""
        ### BEGIN SOLUTION
        return relu(x)
        ### END SOLUTION


class Sigmoid(_Activation):
    """1 / (1 + exp(-x))."""

    def forward(self, x) -> Tensor:
        """sigmoid(x): elementwise, any shape in, the same shape out (array-likes accepted)."""
        ### BEGIN SOLUTION
        return sigmoid(x)
        ### END SOLUTION


class Tanh(_Activation):
    """tanh(x)."""

    def forward(self, x) -> Tensor:
        """tanh(x): elementwise, any shape in, the same shape out (array-likes accepted)."""
        ### BEGIN SOLUTION
        return tanh(x)
        ### END SOLUTION


class GELU(_Activation):
    """x·Φ(x); approximate="tanh" (default, GPT-2) or "none" (exact, via erf)."""

    def __init__(self, approximate: str = "tanh"):
        """Check and store `approximate` ("tanh" or "none"; anything else: ValueError)."""
        ### BEGIN SOLUTION
        if approximate not in ("tanh", "none"):
            raise ValueError(f"GELU: approximate must be 'tanh' or 'none', not {approximate!r}.")
        self.approximate = approximate
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        """gelu(x, self.approximate)."""
        ### BEGIN SOLUTION
        return gelu(x, self.approximate)
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"GELU(approximate={self.approximate!r})"


class Softmax(_Activation):
    """Probabilities along `dim` (default: the last axis)."""

    def __init__(self, dim: int = -1):
        """Store `dim`, checked by _check_dim."""
        ### BEGIN SOLUTION
        self.dim = _check_dim(dim)
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        """softmax(x, self.dim)."""
        ### BEGIN SOLUTION
        return softmax(x, self.dim)
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"Softmax(dim={self.dim})"


class LogSoftmax(_Activation):
    """Log-probabilities along `dim` (default: the last axis)."""

    def __init__(self, dim: int = -1):
        """Store `dim`, checked by _check_dim."""
        ### BEGIN SOLUTION
        self.dim = _check_dim(dim)
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        """log_softmax(x, self.dim)."""
        ### BEGIN SOLUTION
        return log_softmax(x, self.dim)
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"LogSoftmax(dim={self.dim})"


# %% [markdown]
# ### Test: activation classes
#
# What this checks and why: every class gives the same values as its function (so a model
# built from classes computes what the text says), accepts array-likes, has no parameters,
# uses its stored `dim` and `approximate`, and rejects a bad `dim` or `approximate` when it
# is built.


# %% nbgrader={"grade": true, "grade_id": "test-classes", "locked": true, "points": 10, "schema_version": 3}
def test_activation_classes():
    x = Tensor(np.random.default_rng(0).normal(size=(4, 5)))
    pairs = [
        (ReLU(), relu(x)),
        (Sigmoid(), sigmoid(x)),
        (Tanh(), tanh(x)),
        (GELU(), gelu(x)),
        (GELU("none"), gelu(x, "none")),
        (Softmax(), softmax(x)),
        (Softmax(dim=0), softmax(x, 0)),
        (LogSoftmax(), log_softmax(x)),
    ]
    for layer, expected in pairs:
        assert layer.parameters() == [], f"{layer!r} has nothing to learn"
        got = layer(x)
        assert np.array_equal(got.data, expected.data), f"{layer!r}(x) must equal its function"
        assert got.shape == (4, 5) and got.dtype == np.float32, f"{layer!r} keeps shape, dtype"
        assert layer([[0.5, -0.5]]).shape == (1, 2), f"{layer!r} accepts a list"
    assert repr(GELU()) == "GELU(approximate='tanh')", f"repr shows the form: {GELU()!r}"
    assert Softmax(np.int64(1)).dim == 1 and type(Softmax(np.int64(1)).dim) is int, "int dim"
    for bad in (None, True, 1.0, "-1"):
        try:
            LogSoftmax(bad)
        except TypeError:
            pass
        else:
            raise AssertionError(f"dim={bad!r} must raise TypeError")
    try:
        GELU(approximate="fast")
    except ValueError as error:
        assert "fast" in str(error), f"the message names the bad value: {error}"
    else:
        raise AssertionError("GELU(approximate='fast') must raise ValueError when built")


if __name__ == "__main__":
    test_activation_classes()


# %% [markdown]
# ## 6. Systems: cost per element and memory
#
# Every activation reads and writes each element once, so its memory traffic is at least
# `2 · size · itemsize` bytes, small next to a matmul's arithmetic. What differs is the work
# per element: ReLU is one comparison, sigmoid and tanh need an exponential, and the exact
# GELU calls `math.erf` once per element from Python. `analyze_activation_costs` times each
# activation on 100,000 float32 numbers (median of 5 runs) and reports nanoseconds per
# element.
#
# Memory matters as much as time. During training each activation keeps a tensor of its
# size alive until the backward pass (its input, its output, and for `gelu_tanh` the saved
# `t` as well), and while it runs it allocates temporaries. `analyze_softmax_memory` uses
# `tracemalloc` to measure the peak memory that one softmax over a (64, 1024) float32 batch
# allocates, and compares it with the size of the output.


# %%
def analyze_activation_costs(size: int = 100_000) -> dict[str, float]:
    """Nanoseconds per element (median of 5 runs) of each activation on `size` float32s."""
    import time

    x = Tensor(np.random.default_rng(0).normal(size=size).astype(np.float32))
    costs = {}
    for name, fn in [
        ("relu", relu),
        ("sigmoid", sigmoid),
        ("tanh", tanh),
        ("gelu (tanh)", gelu),
        ("gelu (exact)", lambda t: gelu(t, "none")),
        ("softmax", softmax),
    ]:
        fn(x)  # warm-up: the first call pays for allocating the result buffers
        seconds = []
        for _ in range(5):
            start = time.perf_counter()
            fn(x)
            seconds.append(time.perf_counter() - start)
        costs[name] = sorted(seconds)[2] / size * 1e9
        print(f"{name:13s} {costs[name]:7.2f} ns/element")
    return costs


def analyze_softmax_memory(shape=(64, 1024)) -> tuple[float, float]:
    """(MiB of the output, MiB peak allocated) of one float32 softmax of `shape`."""
    import tracemalloc

    x = Tensor(np.random.default_rng(0).normal(size=shape).astype(np.float32))
    tracemalloc.start()
    out = softmax(x)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    size = out.nbytes / 2**20
    print(f"softmax {shape}: output {size:.2f} MiB, peak allocated {peak:.2f} MiB")
    return size, peak


if __name__ == "__main__":
    analyze_activation_costs()
    analyze_softmax_memory()


# %% [markdown]
# ## Reflect
#
# Answer in a few sentences, with numbers where you can. Use your measurements above.

# %% [markdown]
# **Q1 (compute).** From `analyze_activation_costs`, how many times slower per element is
# the exact GELU than the tanh form, and than ReLU? Where does the exact form's time go?
# What would you change to make the exact form fast?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-compute", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Measured on the machine this course was written on: ReLU 0.2 ns/element, the tanh form of
# GELU 1.3 ns, the exact form 227 ns: about 175 times slower than the tanh form and a
# thousand times slower than ReLU (your numbers differ, the ratios are similar). The time goes
# into the Python interpreter: frompyfunc calls math.erf once per element, boxing each float into
# a Python object and back, instead of running a compiled loop over the array. A vectorised erf
# (scipy.special.erf, or a polynomial approximation written with NumPy ufuncs) would bring it
# close to the tanh form.
# ### END SOLUTION

# %% [markdown]
# **Q2 (memory).** In GPT-2 small (12 layers, width 768, MLP width 3072), how much memory do
# the GELU inputs of all layers take for a batch of 8 sequences of 1024 tokens in float32?
# Our `gelu_tanh` also saves `t` of the same size: how much is that together, and why is it
# worth it?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# One layer's GELU input is 8 x 1024 x 3072 = 25.2 million numbers, 100.7 MB in float32;
# over 12 layers 1.21 GB. Saving t doubles that to about 2.4 GB of activations kept for the
# backward pass (the output is needed too by the next matmul's weight gradient). It is worth
# it because recomputing tanh in the backward pass costs as much as the forward GELU itself;
# when memory is the limit, the trade can be reversed (recompute instead of save, as
# "activation checkpointing" does for whole blocks).
# ### END SOLUTION

# %% [markdown]
# **Q3 (what breaks).** Compute softmax of `[100, 101, 102]` in float32 without the max
# subtraction: what do you get and why? At what logit size does the same happen in float16
# (largest value about 65504)? Why does subtracting the max fix it without changing the result?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-overflow", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# exp(100) is about 2.7e43, above float32's maximum of 3.4e38, so every exp is inf and
# inf / inf gives [nan, nan, nan]. In float16 exp overflows already past x = ln(65504) ≈ 11.1,
# so logits of 12 break a naive softmax. Subtracting the max multiplies numerator and
# denominator by the same factor e^-max, so the ratio is unchanged, while every exponent is
# now <= 0 and the largest exp is exactly 1: no overflow, and the denominator is at least 1.
# ### END SOLUTION

# %% [markdown]
# **Q4 (memory traffic).** `analyze_softmax_memory` shows a peak larger than the output.
# Which temporary arrays does your softmax allocate, and how many bytes are read and written
# in total for a (64, 1024) float32 input? Why does the speed of softmax depend more on
# memory bandwidth than on arithmetic?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-traffic", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The input is 64 x 1024 x 4 B = 256 KiB. The reference softmax allocates the shifted array
# and exp of it (256 KiB each) and the output (256 KiB), plus the (64, 1) max and sum, so the
# peak is about 2-3 times the output: roughly 0.5-0.75 MiB. The passes are: max (read x),
# subtract (read x, write shifted), exp (read, write), sum (read), divide (read, write):
# about 8 array passes, 2 MiB of traffic, for only a handful of arithmetic operations per
# element. Each element costs a few flops but 8 x 4 bytes of memory traffic, so the time is
# set by how fast memory (or cache) delivers the bytes; fusing the passes (one loop that
# does all steps) is what fast softmax kernels do.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 02_activations.")
