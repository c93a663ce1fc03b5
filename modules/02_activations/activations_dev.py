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
# A linear layer computes `x @ W + b`. Stack two of them and you get
# `(x @ W1 + b1) @ W2 + b2 = x @ (W1 @ W2) + (b1 @ W2 + b2)`: still one linear map. However
# many linear layers you stack, the network can only draw straight lines. An **activation**
# is a nonlinear function applied element by element between the layers, and it is what lets
# a network bend its decision boundary (XOR, images, language).
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
# - why `exp` overflows in float32 past x ≈ 88, and how to compute sigmoid and softmax so it
#   never does;
# - why GELU has an exact form and a tanh approximation, and what each costs;
# - how each activation becomes **one op** in the graph (`"relu"`, `"softmax"`, ...).
#
# **One op per activation.** Softmax could be written with the Tensor operations of module 01
# (`exp`, `sum`, `/`), and autograd would differentiate through them. Instead each activation
# here computes its result in NumPy and records itself as one node with
# `Tensor.from_op(result, "softmax", (x,), saved)`. In module 05 you give each op name one
# hand-derived gradient rule: fewer nodes, less memory, and a gradient that is as stable as
# the forward pass. In this module we only check the forward values and that the right op is
# recorded.

# %%
#| default_exp core.activations
#| export
import math

import numpy as np

from tinytorch.core.tensor import Tensor, as_tensor

# %% [markdown]
# ## Floating-point input
#
# Activations produce fractions, so an integer tensor (`Tensor([1, 2, 3])`) is computed in
# float32, the course's default precision. A float64 tensor stays float64 (gradient checks
# rely on that).


# %%
#| export
def _float_data(x: Tensor) -> np.ndarray:
    """x's values as floats: float tensors as they are, anything else as float32."""
    return x.data if x.data.dtype.kind == "f" else x.data.astype(np.float32)


# %% [markdown]
# ## ReLU
#
# `relu(x) = max(x, 0)`: negative inputs become 0, positive ones pass unchanged. It costs one
# comparison per element and its gradient is 0 or 1, so it neither saturates for large
# inputs (as sigmoid does) nor shrinks gradients layer after layer.
#
# Record it as op `"relu"` with inputs `(x,)`: the gradient rule needs to know where x > 0.


# %% nbgrader={"grade": false, "grade_id": "relu", "locked": false, "schema_version": 3, "solution": true}
#| export
def relu(x) -> Tensor:
    """max(x, 0) elementwise; op "relu"."""
    x = as_tensor(x)
    ### BEGIN SOLUTION
    return Tensor.from_op(np.maximum(x.data, 0), "relu", (x,))
    ### END SOLUTION


# %% [markdown]
# ## Sigmoid and Tanh
#
# `sigmoid(x) = 1 / (1 + e⁻ˣ)` squashes any number into (0, 1). Large inputs make `exp`
# overflow: in float32 `exp(89)` is already `inf`, and `exp(1e4)` is `inf` in any precision.
# Whether that is a bug depends on what happens next:
#
# - here it is harmless: for x = -1e4, `1 / (1 + inf) = 0`, which is the correct limit, and
#   for x = +1e4, `exp(-1e4)` underflows to 0 and the result is exactly 1. No NaN can
#   appear, and both tails keep full relative precision (`sigmoid(-30)` is computed to the
#   last digit), which matters when a loss takes the log of it. We only silence NumPy's
#   overflow warning, with `np.errstate(over="ignore")`, around this one expression;
# - it is fatal when two infinities meet: `inf / inf` and `inf - inf` are NaN. That is what
#   happens in a naive softmax, below, and there we must avoid the overflow itself.
#
# (The identity `sigmoid(x) = 0.5·(1 + tanh(x/2))` never overflows either and is as fast,
# but for very negative x it subtracts two numbers close to 1 and loses relative precision:
# in float32 it is 44% off at x = -17 and returns 0 from x = -20 on.)
#
# `tanh(x) = 2·sigmoid(2x) - 1` has range (-1, 1) and is centred on 0. `np.tanh` is already
# stable. Record op `"sigmoid"` and op `"tanh"`, each with inputs `(x,)`: their gradients are
# written in terms of the output (`s(1 - s)` and `1 - t²`).


# %% nbgrader={"grade": false, "grade_id": "sigmoid-tanh", "locked": false, "schema_version": 3, "solution": true}
#| export
def sigmoid(x) -> Tensor:
    """1 / (1 + exp(-x)); an overflowing exp(-x) gives the correct limit 0; op "sigmoid"."""
    x = as_tensor(x)
    data = _float_data(x)
    ### BEGIN SOLUTION
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
# ## GELU: exact and tanh approximation
#
# GELU weights its input by the probability that a standard normal variable is below it:
#
# ```
# gelu(x) = x·Φ(x) = 0.5·x·(1 + erf(x / √2))          (exact, op "gelu")
# ```
#
# It is smooth where ReLU has a kink, lets small negative values through (its minimum is
# about -0.17 at x ≈ -0.75), and is the activation of BERT and GPT.
#
# NumPy has no vectorised `erf`. `np.frompyfunc(math.erf, 1, 1)` applies Python's `math.erf`
# to each element, which runs at Python speed (tens of times slower than a NumPy ufunc) and
# returns an object array that we convert back to the input's dtype. GPT-2 therefore used a
# tanh approximation built only from fast ufuncs:
#
# ```
# gelu_tanh(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))    (op "gelu_tanh")
# ```
#
# It differs from the exact GELU by less than 5e-4 everywhere. `GELU(approximate="tanh")`
# is our default, because it is fast and it is what GPT-2 was trained with;
# `GELU(approximate="none")` gives the exact form. (PyTorch's `nn.GELU` defaults to `"none"`;
# pass the argument explicitly when you compare with it.) Both names record inputs `(x,)`.


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
        # x³ overflows float32 only beyond |x| ≈ 7e12, where tanh is ±1 anyway.
        with np.errstate(over="ignore"):
            inner = data * data
            inner *= 0.044715 * data  # in place: one array instead of three temporaries
            inner += data
            inner *= _SQRT_2_OVER_PI
        t = np.tanh(inner)
        # t is saved: the gradient needs it, and recomputing tanh costs as much as the forward.
        out = t + 1.0
        out *= 0.5 * data
        return Tensor.from_op(out, "gelu_tanh", (x,), t)
    ### END SOLUTION
    raise ValueError(f"gelu: approximate must be 'tanh' or 'none', not {approximate!r}.")


# %% [markdown]
# ## Softmax and LogSoftmax
#
# Softmax turns a vector of scores (logits) into probabilities along one axis:
#
# ```
# softmax(x)ᵢ = exp(xᵢ) / Σⱼ exp(xⱼ)
# ```
#
# Written literally, logits of 100 already overflow float32 (`exp(100) = inf`, and
# `inf / inf = nan`). Softmax does not change when you add the same number `c` to every
# element, because `exp(xᵢ - c) / Σⱼ exp(xⱼ - c)` has the factor `e⁻ᶜ` on top and bottom.
# Choosing `c = max(x)` makes every exponent ≤ 0, so each `exp` is in (0, 1] and the largest
# is exactly 1: the sum is at least 1 and nothing overflows or divides by zero.
#
# Shapes: for `x` of shape `(B, T, C)` and `dim=-1`, the max and the sum are taken with
# `keepdims=True`, giving `(B, T, 1)`, which broadcasts back over `C`.
#
# **LogSoftmax** is `log(softmax(x))`, but computing it that way fails when a probability
# underflows to 0 (`log 0 = -inf`). With `m = max(x)`:
#
# ```
# log_softmax(x)ᵢ = (xᵢ - m) - log Σⱼ exp(xⱼ - m)          (the log-sum-exp trick)
# ```
#
# Every term is finite. Record op `"softmax"` / `"log_softmax"` with inputs `(x,)` and the
# axis as `saved`: the gradient rule sums along that axis.


# %% nbgrader={"grade": false, "grade_id": "softmax", "locked": false, "schema_version": 3, "solution": true}
#| export
def _shifted(data: np.ndarray, axis: int) -> np.ndarray:
    """x - max(x) along `axis`: every entry ≤ 0, so exp of it cannot overflow."""
    return data - np.max(data, axis=axis, keepdims=True)


def softmax(x, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`, stable for any magnitude; op "softmax"."""
    x = as_tensor(x)
    ### BEGIN SOLUTION
    e = np.exp(_shifted(_float_data(x), axis))
    return Tensor.from_op(e / e.sum(axis=axis, keepdims=True), "softmax", (x,), axis)
    ### END SOLUTION


def log_softmax(x, axis: int = -1) -> Tensor:
    """log(softmax(x)) by the log-sum-exp trick: finite for any finite x; op "log_softmax"."""
    x = as_tensor(x)
    ### BEGIN SOLUTION
    shifted = _shifted(_float_data(x), axis)
    log_sum = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return Tensor.from_op(shifted - log_sum, "log_softmax", (x,), axis)
    ### END SOLUTION


# %% [markdown]
# ## Activation classes
#
# Layers (module 03) are objects you call: `layer(x)`. The activation classes wrap the
# functions above so they fit in a `Sequential` next to `Linear` layers. Each has `forward`,
# `__call__` (which calls `forward`) and `parameters()`, which is empty: activations have
# nothing to learn.


# %% nbgrader={"grade": false, "grade_id": "activation-classes", "locked": false, "schema_version": 3, "solution": true}
#| export
class _Activation:
    """Base of the activation layers: callable, no parameters."""

    def forward(self, x) -> Tensor:
        raise NotImplementedError

    def __call__(self, x) -> Tensor:
        return self.forward(x)

    def parameters(self) -> list:
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ReLU(_Activation):
    """max(x, 0)."""

    def forward(self, x) -> Tensor:
        return relu(x)


class Sigmoid(_Activation):
    """1 / (1 + exp(-x))."""

    def forward(self, x) -> Tensor:
        return sigmoid(x)


class Tanh(_Activation):
    """tanh(x)."""

    def forward(self, x) -> Tensor:
        return tanh(x)


class GELU(_Activation):
    """x·Φ(x); approximate="tanh" (default, GPT-2) or "none" (exact, via erf)."""

    def __init__(self, approximate: str = "tanh"):
        ### BEGIN SOLUTION
        if approximate not in ("tanh", "none"):
            raise ValueError(f"GELU: approximate must be 'tanh' or 'none', not {approximate!r}.")
        self.approximate = approximate
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        return gelu(x, self.approximate)

    def __repr__(self) -> str:
        return f"GELU(approximate={self.approximate!r})"


class Softmax(_Activation):
    """Probabilities along `dim` (default: the last axis)."""

    def __init__(self, dim: int = -1):
        self.dim = dim

    def forward(self, x) -> Tensor:
        return softmax(x, self.dim)

    def __repr__(self) -> str:
        return f"Softmax(dim={self.dim})"


class LogSoftmax(_Activation):
    """Log-probabilities along `dim` (default: the last axis)."""

    def __init__(self, dim: int = -1):
        self.dim = dim

    def forward(self, x) -> Tensor:
        return log_softmax(x, self.dim)

    def __repr__(self) -> str:
        return f"LogSoftmax(dim={self.dim})"


# %% [markdown]
# ## Unit tests
#
# These tests check forward values against the formulas, stability for inputs of ±1e4,
# shapes and dtypes, and that each activation records the right op. Gradients are checked in
# module 05, once the rules exist. Run this file or `tito module test 02_activations`.


# %% nbgrader={"grade": true, "grade_id": "test-relu", "locked": true, "points": 10, "schema_version": 3}
def test_relu():
    x = Tensor([[-2.0, -0.5, 0.0], [0.5, 2.0, 3.0]])
    out = ReLU()(x)
    assert np.array_equal(out.data, [[0, 0, 0], [0.5, 2, 3]])
    assert out.shape == (2, 3) and out.dtype == np.float32
    assert np.array_equal(relu([-1.0, 4.0]).data, [0, 4]), "array-likes are accepted"
    w = Tensor([-1.0, 1.0], requires_grad=True)
    assert relu(w)._op == "relu" and relu(w)._inputs[0] is w
    assert not relu(x).requires_grad and ReLU().parameters() == []


# %% nbgrader={"grade": true, "grade_id": "test-sigmoid-tanh", "locked": true, "points": 20, "schema_version": 3}
def test_sigmoid_and_tanh():
    values = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    s = Sigmoid()(values)
    assert np.allclose(s.data, 1 / (1 + np.exp(-values)), atol=1e-7)
    assert s.data[2] == 0.5 and s.dtype == np.float32
    assert np.allclose(Tanh()(values).data, np.tanh(values), atol=1e-7)
    huge = Tensor([-1e4, -100.0, 100.0, 1e4])
    # Any overflow, 0/0 or division by zero fails the test (underflow to 0 is fine).
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s_huge, t_huge = sigmoid(huge), tanh(huge)
    assert np.allclose(s_huge.data, [0, 0, 1, 1], atol=1e-30) and s_huge.data[0] == 0
    assert np.array_equal(t_huge.data, [-1, -1, 1, 1])
    tail = sigmoid(Tensor([-30.0], dtype=np.float64)).data[0]
    assert abs(tail / math.exp(-30) - 1) < 1e-12, "full relative precision in the far tail"
    assert sigmoid(Tensor([1, 2])).dtype == np.float32, "integers are computed in float32"
    x64 = Tensor([0.3], dtype=np.float64)
    assert sigmoid(x64).dtype == np.float64 and tanh(x64).dtype == np.float64
    w = Tensor([0.1], requires_grad=True)
    assert sigmoid(w)._op == "sigmoid" and tanh(w)._op == "tanh"


# %% nbgrader={"grade": true, "grade_id": "test-gelu", "locked": true, "points": 20, "schema_version": 3}
def test_gelu():
    xs = np.linspace(-6, 6, 121)
    exact_formula = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in xs])
    exact = GELU(approximate="none")(Tensor(xs, dtype=np.float64))
    assert np.allclose(exact.data, exact_formula, atol=1e-12)
    tanh_formula = 0.5 * xs * (1 + np.tanh(math.sqrt(2 / math.pi) * (xs + 0.044715 * xs**3)))
    approx = GELU()(Tensor(xs, dtype=np.float64))
    assert np.allclose(approx.data, tanh_formula, atol=1e-12), "the default is the tanh form"
    assert np.max(np.abs(approx.data - exact.data)) < 5e-4, "the approximation is close"
    assert gelu(Tensor(0.5), "none").shape == (), "a 0-d tensor works (erf gives a bare float)"
    big = Tensor([-1e4, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert np.array_equal(gelu(big).data, [0, 1e4])
    assert np.array_equal(gelu(big, "none").data, [0, 1e4])
    w = Tensor([0.1], requires_grad=True)
    assert gelu(w)._op == "gelu_tanh" and gelu(w, "none")._op == "gelu"
    assert GELU()(np.ones((2, 3), dtype=np.float32)).dtype == np.float32
    try:
        GELU(approximate="fast")
    except ValueError as error:
        assert "fast" in str(error)
    else:
        raise AssertionError("an unknown approximation must raise ValueError")


# %% nbgrader={"grade": true, "grade_id": "test-softmax", "locked": true, "points": 25, "schema_version": 3}
def test_softmax_and_log_softmax():
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    p = Softmax()(logits)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.allclose(p.data, expected, atol=1e-7) and np.allclose(p.data.sum(axis=1), 1)
    assert np.allclose(softmax(logits + 1000).data, p.data, atol=1e-7), "shift invariance"
    assert np.allclose(Softmax(dim=0)(logits).data.sum(axis=0), 1), "dim picks the axis"
    big = Tensor([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p_big, lp_big = softmax(big), log_softmax(big)
    assert np.allclose(p_big.data, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]])
    assert np.all(np.isfinite(lp_big.data)) and np.isclose(lp_big.data[0, 2], -2e4)
    lp = LogSoftmax()(logits)
    assert np.allclose(lp.data, np.log(expected), atol=1e-6)
    x = Tensor(np.zeros((2, 3, 4)), requires_grad=True)
    assert softmax(x).shape == (2, 3, 4) and softmax(x, axis=1)._saved == 1
    assert softmax(x)._op == "softmax" and log_softmax(x)._op == "log_softmax"
    assert log_softmax(x, axis=-1)._saved == -1, "the axis is saved for the gradient"


# %% nbgrader={"grade": true, "grade_id": "test-classes", "locked": true, "points": 10, "schema_version": 3}
def test_activation_classes():
    layers = [ReLU(), Sigmoid(), Tanh(), GELU(), GELU("none"), Softmax(), LogSoftmax()]
    x = Tensor(np.random.default_rng(0).normal(size=(4, 5)))
    for layer in layers:
        assert layer.parameters() == [], f"{layer!r} has nothing to learn"
        assert np.array_equal(layer(x).data, layer.forward(x).data)
        assert layer(x).shape == (4, 5) and layer(x).dtype == np.float32
        assert layer([[0.5, -0.5]]).shape == (1, 2)
    assert repr(GELU()) == "GELU(approximate='tanh')"


# %% [markdown]
# ## Systems analysis: cost per element
#
# Every activation reads and writes each element once, so its memory traffic is
# `2 · size · itemsize` bytes, small next to a matmul. What differs is the arithmetic: ReLU
# is one comparison, sigmoid and tanh need an exponential, and the exact GELU calls
# `math.erf` once per element from Python. For training, each activation also keeps one
# tensor of its size alive until the backward pass (its input or its output), which is why
# activation memory grows with batch size × sequence length × width.


# %%
def analyze_activation_costs(size: int = 100_000) -> dict[str, float]:
    """Nanoseconds per element of each activation on `size` float32 numbers."""
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
        for _ in range(3):
            start = time.perf_counter()
            fn(x)
            seconds.append(time.perf_counter() - start)
        costs[name] = min(seconds) / size * 1e9
        print(f"{name:13s} {costs[name]:7.2f} ns/element")
    print(f"memory kept for backward: {x.nbytes / 2**20:.2f} MiB per activation of this size")
    return costs


# %%
if __name__ == "__main__":
    test_relu()
    test_sigmoid_and_tanh()
    test_gelu()
    test_softmax_and_log_softmax()
    test_activation_classes()
    analyze_activation_costs()
    print("All tests passed for module 02_activations.")
