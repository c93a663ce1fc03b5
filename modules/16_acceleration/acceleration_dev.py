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
# # Module 16: Acceleration
#
# Module 15 showed where a GPT step spends its time. This module acts on it. Everything here
# is **opt-in and explicit**: the model of module 13 stays as it is, and
# `accelerate(model)` swaps some of its submodules for fused ones that compute the same
# function with fewer passes over memory. Two process-wide switches come with it:
# `set_blas_threads(n)` and `keep_freed_memory()`.
#
# **You will learn**
# - why an op chain like `scores * scale + mask -> softmax` costs a pass over memory (and an
#   array kept for backward) per op, and how one fused op with a hand-derived rule avoids it;
# - how one (D, 3D) product replaces three (D, D) ones for Q, K and V;
# - why a fused op is not yet a fast one when its arrays do not fit in cache, and how
#   working in cache-sized blocks (GELU, attention) and reductions as BLAS products
#   (LayerNorm) cut the memory traffic;
# - how to swap modules for fused ones while keeping the weights, so the loss is the same;
# - when BLAS threads help and when they hurt (a loaded machine), and what the allocator does.
#
# ### What the profile said
#
# A larger GPT step (B 8, T 64, D 128, L 4), profiled with module 15 on a 2-core machine
# shared with other jobs:
#
# ```
# op            calls   fwd ms   bwd ms      %     MB out
# matmul           99    173.0    358.0   60.9       9.4     <- products, and their BLAS threads
# gelu_tanh        12     49.6     29.2    9.0      12.6     <- already one fused op (module 02)
# softmax          12     64.1      9.8    8.5       6.3  \
# layer_norm       27     25.2     35.4    6.9       7.1   | attention's scale, mask, softmax,
# add             114     33.7     14.8    5.6      43.3   | biases: one pass each, and the
# mul              ...                                      /  graph keeps each result
# ```
#
# and the same step with two BLAS threads instead of one took **5x longer**: on a machine
# whose cores are busy with other work, OpenBLAS's second thread waits for a core.
#
# What is already fused: GELU (module 02, one op with an in-place forward and backward),
# softmax and log-softmax (02), cross-entropy from logits (04, softmax - onehot), LayerNorm
# (13). What is not: attention (seven ops: three projections, head split, `Q Kᵀ`, scale,
# mask, softmax, `P V`, merge), and every Linear layer (a matmul op, then an add op for the
# bias, whose gradient is summed by the engine's un-broadcast). And "one op" is not the end:
# GELU is one op, yet it streams the (B·T, 4D) hidden array through memory about twenty
# times, forward and backward.

# %%
#| default_exp acceleration
#| export
import ctypes
import math
import os
import statistics
import sys
import time

import numpy as np

from tinytorch.core.activations import GELU
from tinytorch.core.attention import mask_bias
from tinytorch.core.autograd import gradient_rule
from tinytorch.core.layers import Linear, Module
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor, as_tensor
from tinytorch.models.transformer import GPT, LayerNorm

# %% [markdown]
# ## 1. Threads and memory: two process-wide switches
#
# **BLAS threads.** NumPy's matrix products run in OpenBLAS, which splits a large product
# over all cores and keeps its worker threads spinning between products. On a quiet machine
# with large products, two threads nearly halve a product's time. With small products, or
# when other processes use the cores, the threads wait for each other and the product gets
# slower, not faster. `threadpoolctl` (a small library from the scikit-learn project) finds
# the BLAS library NumPy loaded and sets its thread count at run time.
#
# **Freed memory.** Every NumPy op returns a new array; a training step makes hundreds of
# temporaries of a few MB. By default glibc's `malloc` serves blocks above 128 KB with
# `mmap` and gives them back to Linux on `free`, so the next temporary of the same size
# starts on fresh pages that the kernel must fault in and zero (a 2 MB array is 512 page
# faults). `mallopt(M_MMAP_THRESHOLD, 32 MB)` and `mallopt(M_TRIM_THRESHOLD, 1 GB)` make
# malloc keep freed memory for reuse: the process stays at its peak size, and temporaries
# cost no page faults. Measured on the larger GPT step: about 4% of the step for the model of
# module 13, and the MLP's GELU alone 4x slower with fresh pages. Nothing in tinytorch does
# this for you: importing the package leaves malloc as it is, and a program that wants it
# calls `keep_freed_memory()` (the benchmarks and the `profile` milestone do).
#
# **Specify.**
# - `set_blas_threads(n) -> bool`: limit the BLAS library to `n` threads with
#   `threadpoolctl.threadpool_limits(limits=n, user_api="blas")` and keep the returned
#   object (in `_BLAS_LIMITS`, so it is not garbage-collected, which would undo it); return
#   True. If threadpoolctl is not installed, return False and change nothing. `n` < 1 is a
#   `ValueError`.
# - `keep_freed_memory() -> bool`: on Linux with glibc, call `mallopt(-3, 32 * 2**20)`
#   (M_MMAP_THRESHOLD) and `mallopt(-1, 2**30)` (M_TRIM_THRESHOLD) through
#   `ctypes.CDLL(None).mallopt`; return True when both return 1. Elsewhere, or when the
#   environment variable `TINYTORCH_KEEP_FREED_MEMORY` is "0", return False.

# %% nbgrader={"grade": false, "grade_id": "switches", "locked": false, "schema_version": 3, "solution": true}
#| export
_BLAS_LIMITS: list = []


def set_blas_threads(n: int) -> bool:
    """Limit NumPy's BLAS to n threads (threadpoolctl); False if threadpoolctl is missing."""
    ### BEGIN SOLUTION
    if n < 1:
        raise ValueError(f"set_blas_threads needs at least 1 thread, got {n}.")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    _BLAS_LIMITS.append(threadpool_limits(limits=n, user_api="blas"))
    return True
    ### END SOLUTION


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse; True if both settings applied."""
    ### BEGIN SOLUTION
    if not sys.platform.startswith("linux") or os.environ.get("TINYTORCH_KEEP_FREED_MEMORY") == "0":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's <malloc.h>
    mmap_set = mallopt(m_mmap_threshold, 32 * 1024 * 1024)
    trim_set = mallopt(m_trim_threshold, 1024 * 1024 * 1024)
    return mmap_set == 1 and trim_set == 1
    ### END SOLUTION


# %% [markdown]
# ### Test: the switches
#
# **What this checks and why.** A bad thread count is refused; with threadpoolctl installed
# the BLAS library reports the limit afterwards; `keep_freed_memory` returns a bool (True on
# Linux with glibc) and respects the opt-out variable.


# %% nbgrader={"grade": true, "grade_id": "test-switches", "locked": true, "points": 5, "schema_version": 3}
def test_switches():
    try:
        set_blas_threads(0)
    except ValueError:
        pass
    else:
        raise AssertionError("set_blas_threads(0) must raise ValueError")
    if set_blas_threads(1):
        from threadpoolctl import threadpool_info

        counts = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
        assert all(c == 1 for c in counts), f"BLAS should run 1 thread now, reports {counts}"
    applied = keep_freed_memory()
    assert isinstance(applied, bool), f"keep_freed_memory returns a bool, got {applied!r}"
    os.environ["TINYTORCH_KEEP_FREED_MEMORY"] = "0"
    try:
        assert keep_freed_memory() is False, "TINYTORCH_KEEP_FREED_MEMORY=0 must opt out"
    finally:
        del os.environ["TINYTORCH_KEEP_FREED_MEMORY"]


if __name__ == "__main__":
    test_switches()

# %% [markdown]
# ## 2. A fused linear op
#
# `Linear` records two ops: `x @ W` (a (B, T, in) @ (in, out) product) and `+ b`. The add
# makes a second (B, T, out) array, and in backward the engine sums its gradient over (B, T)
# by un-broadcasting. One op `linear` computes `out = x W; out += b` in place and returns
# the three gradients directly, with x's leading dimensions folded into rows:
#
# ```
#   rows = x.reshape(-1, in)          g2 = g.reshape(-1, out)
#   out  = rows @ W + b               dx = (g2 @ Wᵀ).reshape(x.shape)
#                                     dW = rowsᵀ @ g2        db = g2.sum(axis=0)
# ```
#
# Check by hand: x = [[1, 2]], W = [[1], [1]], b = [0.5]: out = [[3.5]]; with g = [[1]],
# dx = [[1, 1]], dW = [[1], [2]], db = [1].
#
# **Specify.** `linear(x, weight, bias=None) -> Tensor` records op `"linear"` with inputs
# `(x, weight)` or `(x, weight, bias)` and nothing saved; the output has shape
# `x.shape[:-1] + (out,)`. Its rule returns `None` for dx when x does not require a gradient
# (the first layer's input: that saves a whole product). `FusedLinear(weight, bias)` is a
# Module whose forward is `linear(x, self.weight, self.bias)`;
# `FusedLinear.from_linear(layer)` **shares** the layer's weight and bias Tensors (no copy),
# so an optimizer built before the swap still updates them.


# %% nbgrader={"grade": false, "grade_id": "linear", "locked": false, "schema_version": 3, "solution": true}
#| export
def linear(x, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight + bias as one op "linear" (inputs (x, weight[, bias])), any leading shape."""
    ### BEGIN SOLUTION
    x = as_tensor(x)
    if x.dtype.kind != "f":
        x = Tensor(x.data, dtype=weight.dtype)
    rows = x.data.reshape(-1, x.shape[-1])
    out = rows @ weight.data  # (rows, out)
    if bias is not None:
        out += bias.data
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Tensor.from_op(out.reshape(*x.shape[:-1], weight.shape[-1]), "linear", inputs)
    ### END SOLUTION


@gradient_rule("linear")
def _linear_grad(g, out):
    """out = x W + b: (dx or None, dW, db) with x's leading dimensions folded into rows."""
    ### BEGIN SOLUTION
    x, weight = out._inputs[0], out._inputs[1]
    g2 = g.reshape(-1, g.shape[-1])
    rows = x.data.reshape(-1, x.shape[-1])
    grad_x = (g2 @ weight.data.T).reshape(x.shape) if x.requires_grad else None
    grads = [grad_x, rows.T @ g2]
    if len(out._inputs) == 3:
        grads.append(g2.sum(axis=0))
    return tuple(grads)
    ### END SOLUTION


class FusedLinear(Module):
    """A Linear layer computed by the fused op `linear`; shares a Linear's Tensors."""

    def __init__(self, weight: Tensor, bias: Tensor | None = None):
        super().__init__()
        self.weight, self.bias = weight, bias
        self.in_features, self.out_features = weight.shape

    @classmethod
    def from_linear(cls, layer: Linear) -> "FusedLinear":
        """The same layer (the same weight and bias Tensors), computed as one op."""
        return cls(layer.weight, layer.bias)

    def forward(self, x) -> Tensor:
        return linear(x, self.weight, self.bias)


# %% [markdown]
# ### Test: the fused linear op
#
# **What this checks and why.** The worked example; the same values and gradients as
# module 03's Linear on a 3-D input; and the gradients against central finite differences
# in float64, the floor every hand-written rule must stand on.


# %% nbgrader={"grade": true, "grade_id": "test-linear", "locked": true, "points": 10, "schema_version": 3}
def _finite_difference_check(build, arrays, h=1e-6):
    """Worst relative difference between autograd and central differences (float64)."""
    tensors = [Tensor(a.copy(), requires_grad=True, dtype=np.float64) for a in arrays]
    build(*tensors).sum().backward()
    worst = 0.0
    for k, array in enumerate(arrays):
        numeric = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            values = []
            for step in (h, -h):
                moved = [a.copy() for a in arrays]
                moved[k][i] += step
                values.append(
                    float(build(*[Tensor(m, dtype=np.float64) for m in moved]).sum().data)
                )
            numeric[i] = (values[0] - values[1]) / (2 * h)
        scale = max(1.0, float(np.abs(numeric).max()))
        worst = max(worst, float(np.abs(tensors[k].grad.data - numeric).max()) / scale)
    return worst


def test_linear():
    x = Tensor([[1.0, 2.0]], requires_grad=True)
    w = Tensor([[1.0], [1.0]], requires_grad=True)
    b = Tensor([0.5], requires_grad=True)
    out = linear(x, w, b)
    assert np.allclose(out.data, [[3.5]]), f"[[1, 2]] @ [[1], [1]] + 0.5 = 3.5, got {out.data}"
    out.sum().backward()
    assert np.allclose(x.grad.data, [[1, 1]]) and np.allclose(w.grad.data, [[1], [2]]), (
        f"dx = [[1, 1]], dW = [[1], [2]]; got {x.grad.data}, {w.grad.data}"
    )
    assert np.allclose(b.grad.data, [1]), f"db = [1], got {b.grad.data}"
    layer = Linear(4, 3)
    fused = FusedLinear.from_linear(layer)
    assert fused.weight is layer.weight, "from_linear must share the weight Tensor, not copy it"
    data = np.random.default_rng(0).normal(size=(2, 5, 4)).astype(np.float32)
    assert np.allclose(fused(data).data, layer(data).data, atol=1e-6), "same values as Linear"
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)]
    error = _finite_difference_check(linear, arrays)
    assert error < 1e-6, f"linear's gradients differ from finite differences by {error:.2e}"
    ### BEGIN HIDDEN TESTS
    arrays = [rng.normal(size=(5, 3)), rng.normal(size=(3, 4))]
    error = _finite_difference_check(linear, arrays)
    assert error < 1e-6, f"linear without bias: gradients off by {error:.2e}"
    frozen = Tensor(np.ones((2, 3)))
    weight = Tensor(np.ones((3, 1)), requires_grad=True)
    linear(frozen, weight).sum().backward()
    assert np.allclose(weight.grad.data, 2.0), f"dW = rowsᵀ g = 2, got {weight.grad.data}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_linear()

# %% [markdown]
# ## 3. LayerNorm with fewer passes
#
# Module 13's LayerNorm is one op already, but written plainly it makes a new array for
# each step: `x - mean`, its square, `centered * inv_std`, `* gamma`, `+ beta` (five
# (rows, D) arrays) and its rule makes five more. Each is a pass over memory. Three changes
# keep the maths and drop passes:
#
# - **Reductions as products.** A row mean is a product with a constant vector:
#   `rows @ full(D, 1/D)` is one BLAS matrix-vector call, several times faster than
#   `rows.mean(axis=-1)` for rows of 128 (NumPy's reduction loop pays per row). Column sums
#   (dβ, dγ) are `ones(N) @ rows`. The sum of squares per row is
#   `np.einsum("ij,ij->i", n, n)`, which never writes the squared array.
# - **In-place operators** (`normalized *= inv_std`, `out += beta`) reuse arrays.
# - **The rule returns dγ and dβ already summed** over the rows, so the engine's
#   un-broadcast has nothing left to do.
#
# ```
#   n = (x - μ) / σ        y = γ n + β                      x, n, y: (N, D);  μ, σ: (N,)
#   dγ = Σ_rows g·n        dβ = Σ_rows g
#   dx = (ĝ - mean(ĝ) - n · mean(ĝ n)) / σ      with ĝ = g γ (means over each row)
# ```
#
# Worked example, one row x = [1, 2, 3], γ = 1, β = 0, eps = 0: μ = 2, σ = √(2/3) = 0.8165,
# n = [-1.2247, 0, 1.2247]. With g = [1, 0, 0]: ĝ = g, mean(ĝ) = 1/3, mean(ĝ n) = -0.4082,
# dx = ([1, 0, 0] - 1/3 - n · (-0.4082)) / 0.8165 = [0.2041, -0.4082, 0.2041]; the entries
# sum to 0, as they must (shifting x does not change n).
#
# **Specify.** `layer_norm(x, gamma, beta, eps=1e-5) -> Tensor` over the last dimension of
# any (..., D) input, recording op `"layer_norm_fast"` with inputs `(x, gamma, beta)` and
# saved `(normalized, inv_std)`: `normalized` as (N, D) rows (N = x.size // D) and `inv_std`
# as (N,). At most two new full-size arrays in forward (`normalized`, `out`) and one in the
# rule (plus one short-lived temporary). `FastLayerNorm.from_layer_norm(ln)` shares
# `ln.gamma` and `ln.beta` and keeps `ln.eps`.


# %% nbgrader={"grade": false, "grade_id": "layer-norm", "locked": false, "schema_version": 3, "solution": true}
#| export
def layer_norm(x, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last axis; op "layer_norm_fast"."""
    ### BEGIN SOLUTION
    x = as_tensor(x)
    width = x.shape[-1]
    rows = x.data.reshape(-1, width)  # (N, D)
    average = np.full(width, 1.0 / width, dtype=rows.dtype)
    normalized = rows - (rows @ average)[:, None]  # new array 1; the mean is one BLAS gemv
    variance = np.einsum("ij,ij->i", normalized, normalized) / width  # no squared copy
    inv_std = 1.0 / np.sqrt(variance + eps)  # (N,)
    normalized *= inv_std[:, None]
    out = normalized * gamma.data  # new array 2
    out += beta.data
    saved = (normalized, inv_std)
    return Tensor.from_op(out.reshape(x.shape), "layer_norm_fast", (x, gamma, beta), saved)
    ### END SOLUTION


@gradient_rule("layer_norm_fast")
def _layer_norm_fast_grad(g, out):
    """(dx, dgamma, dbeta) of y = gamma * n + beta, in place where the arrays are ours."""
    ### BEGIN SOLUTION
    normalized, inv_std = out._saved  # (N, D), (N,)
    gamma = out._inputs[1].data
    width = normalized.shape[1]
    g2 = g.reshape(-1, width)
    ones = np.ones(len(g2), dtype=g2.dtype)
    grad_beta = ones @ g2  # column sums as one gemv
    work = g2 * normalized  # the only new full-size array
    grad_gamma = ones @ work
    mean_gn = (work @ gamma) / width  # mean over the row of (g·γ)·n
    np.multiply(g2, gamma, out=work)  # ĝ = g·γ
    work -= (work @ np.full(width, 1.0 / width, dtype=work.dtype))[:, None]
    work -= normalized * mean_gn[:, None]
    work *= inv_std[:, None]
    return work.reshape(g.shape), grad_gamma, grad_beta
    ### END SOLUTION


class FastLayerNorm(Module):
    """LayerNorm computed by the in-place op `layer_norm`; shares a LayerNorm's gamma, beta."""

    def __init__(self, gamma: Tensor, beta: Tensor, eps: float = 1e-5):
        super().__init__()
        self.gamma, self.beta, self.eps = gamma, beta, eps
        self.normalized_shape = gamma.shape[0]

    @classmethod
    def from_layer_norm(cls, ln: LayerNorm) -> "FastLayerNorm":
        """The same normalisation with the same parameter Tensors."""
        return cls(ln.gamma, ln.beta, ln.eps)

    def forward(self, x) -> Tensor:
        return layer_norm(x, self.gamma, self.beta, self.eps)


# %% [markdown]
# ### Test: the in-place LayerNorm
#
# **What this checks and why.** The same values and gradients as module 13's LayerNorm
# (whose rule you derived there), and finite differences in float64 for all three inputs.


# %% nbgrader={"grade": true, "grade_id": "test-layer-norm", "locked": true, "points": 10, "schema_version": 3}
def test_layer_norm():
    rng = np.random.default_rng(2)
    reference = LayerNorm(6)
    reference.gamma.data[:] = rng.normal(size=6)
    fast = FastLayerNorm.from_layer_norm(reference)
    assert fast.gamma is reference.gamma, "from_layer_norm must share gamma, not copy it"
    data = rng.normal(size=(2, 3, 6)).astype(np.float32)
    x1, x2 = Tensor(data, requires_grad=True), Tensor(data, requires_grad=True)
    expected, got = reference(x1), fast(x2)
    assert np.allclose(got.data, expected.data, atol=1e-5), "same values as module 13's"
    (expected * expected).sum().backward()
    expected_gamma = reference.gamma.grad.data.copy()
    reference.gamma.grad = None
    (got * got).sum().backward()
    assert np.allclose(x2.grad.data, x1.grad.data, atol=1e-4), "same dx as module 13's"
    assert np.allclose(reference.gamma.grad.data, expected_gamma, atol=1e-4), "same dgamma"
    arrays = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=4)]
    error = _finite_difference_check(lambda x, g, b: layer_norm(x, g, b) ** 2, arrays)
    assert error < 1e-5, f"layer_norm's gradients differ from finite differences by {error:.2e}"
    row = Tensor([[1.0, 2.0, 3.0]], requires_grad=True, dtype=np.float64)
    ones, zeros = Tensor(np.ones(3), dtype=np.float64), Tensor(np.zeros(3), dtype=np.float64)
    (layer_norm(row, ones, zeros, eps=0.0) * Tensor([[1.0, 0.0, 0.0]])).sum().backward()
    assert np.allclose(row.grad.data, [[0.2041, -0.4082, 0.2041]], atol=1e-4), (
        f"the worked example: dx = [0.2041, -0.4082, 0.2041], got {row.grad.data}"
    )
    ### BEGIN HIDDEN TESTS
    arrays = [rng.normal(size=(2, 3, 5)), rng.normal(size=5), rng.normal(size=5)]
    error = _finite_difference_check(lambda x, g, b: layer_norm(x, g, b) ** 3, arrays)
    assert error < 1e-5, f"a 3-D input, cubed: gradients off by {error:.2e}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_layer_norm()

# %% [markdown]
# ## 4. GELU in cache-sized blocks, fused with its Linear
#
# The MLP's hidden layer is the largest activation of a block: (B·T, 4D), 2 MB for
# B·T = 1024 and D = 128, 4 MB at D = 256. Module 02's GELU makes about eight passes over
# it in forward and twelve in backward, and `+ b` of the Linear before it one more. Each
# pass streams the whole array from the L2 cache or from main memory, and the arithmetic per
# element is tiny, so the time goes to moving memory, not to computing.
#
# **Blocking.** Work on a block of rows at a time, small enough that the block and its
# temporaries stay in the core's cache (here 2^16 elements, 256 KB in float32), and make all
# the passes over one block before moving to the next. The number of passes is the same; the
# memory traffic is one read and one write per array instead of one per pass. The price is
# Python: one NumPy call per pass per block, about a microsecond each, so blocks must not be
# too small. On this course's machine, GELU forward on (1024, 512) float32 took 1.22 ms as
# module 02 writes it, 0.93 ms with fewer passes, and 0.66 ms in blocks of 128 rows
# (PyTorch's own kernel: 0.93 ms).
#
# **Fusing with the Linear.** `linear_gelu(x, W, b)` computes `h = x W` (one BLAS product),
# then per block: `h += b`, `u = √(2/π)·(h + 0.044715 h³)`, `t = tanh(u)`,
# `out = 0.5·h·(1 + t)`. It saves `h` and `t` for backward, which per block computes
#
# ```
#   dh = g · 0.5 · (1 + t + (1 - t²) · h · √(2/π) · (1 + 3·0.044715·h²))
# ```
#
# and then the Linear's three gradients from dh, as `linear` does: `dx = dh Wᵀ`,
# `dW = rowsᵀ dh`, `db = ones @ dh`. Check by hand at h = 0 (b = 0, x W = 0): t = 0,
# out = 0, dh = 0.5·g: GELU's slope at 0 is one half.
#
# Shapes: x (..., D) -> rows (N, D); W (D, H); h, t, out, dh: (N, H); result (..., H).
#
# %%
#| export
BLOCK_ELEMENTS = 1 << 16  # 256 KB of float32: a block and a few temporaries fit in L2


def _row_blocks(rows: int, width: int):
    """Slices of about BLOCK_ELEMENTS elements over `rows` rows of `width` (at least 1 row)."""
    step = max(1, BLOCK_ELEMENTS // max(width, 1))
    for start in range(0, rows, step):
        yield slice(start, min(start + step, rows))


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


# %% [markdown]
# **Specify.**
# - `linear_gelu(x, weight, bias) -> Tensor` = module 02's `gelu(linear(x, weight, bias),
#   "tanh")`, recorded as ONE op `"linear_gelu"` with inputs `(x, weight, bias)` and saved
#   `(h, t)` as (N, H) arrays (h includes the bias). Loop over `_row_blocks(N, H)` (given
#   above) in forward and in the rule. The rule returns `(dx or None, dW, db)`: None when x
#   does not require a gradient.
# - `FusedMLP.from_mlp(mlp)` shares the MLP's `linear1` and `linear2` Tensors and its dropout;
#   `forward(x) = dropout(linear(linear_gelu(x, W1, b1), W2, b2))`. It refuses (ValueError)
#   an MLP whose activation is not the tanh GELU, since that is what the op computes.


# %% nbgrader={"grade": false, "grade_id": "linear-gelu", "locked": false, "schema_version": 3, "solution": true}
#| export
def linear_gelu(x, weight: Tensor, bias: Tensor) -> Tensor:
    """gelu(x @ weight + bias, "tanh") as one op "linear_gelu", computed in row blocks."""
    ### BEGIN SOLUTION
    x = as_tensor(x)
    if x.dtype.kind != "f":
        x = Tensor(x.data, dtype=weight.dtype)
    h = x.data.reshape(-1, x.shape[-1]) @ weight.data  # (N, H), before the bias
    t, out = np.empty_like(h), np.empty_like(h)
    scratch = np.empty(min(h.size, BLOCK_ELEMENTS + h.shape[1]), dtype=h.dtype)
    a, c = h.dtype.type(_GELU_A), h.dtype.type(_GELU_C)
    for rows in _row_blocks(*h.shape):
        hb, tb, ob = h[rows], t[rows], out[rows]
        u = scratch[: hb.size].reshape(hb.shape)
        hb += bias.data
        np.square(hb, out=u)
        u *= a
        u += 1
        u *= hb
        u *= c  # u = √(2/π)·(h + 0.044715·h³)
        np.tanh(u, out=tb)
        np.add(tb, 1, out=ob)
        ob *= hb
        ob *= 0.5
    shape = (*x.shape[:-1], h.shape[1])
    return Tensor.from_op(out.reshape(shape), "linear_gelu", (x, weight, bias), (h, t))
    ### END SOLUTION


@gradient_rule("linear_gelu")
def _linear_gelu_grad(g, out):
    """(dx or None, dW, db) of gelu(x W + b), with dh computed in row blocks."""
    ### BEGIN SOLUTION
    x, weight, _ = out._inputs
    h, t = out._saved
    g2 = g.reshape(h.shape)
    dh = np.empty_like(h)
    scratch = np.empty(min(h.size, BLOCK_ELEMENTS + h.shape[1]), dtype=h.dtype)
    a3, c = h.dtype.type(3 * _GELU_A), h.dtype.type(_GELU_C)
    for rows in _row_blocks(*h.shape):
        hb, tb, db = h[rows], t[rows], dh[rows]
        du = scratch[: hb.size].reshape(hb.shape)
        np.square(hb, out=du)
        du *= a3
        du += 1
        du *= hb
        du *= c  # h·du/dh
        np.square(tb, out=db)
        np.subtract(1, db, out=db)
        db *= du
        db += tb
        db += 1
        db *= g2[rows]
        db *= 0.5
    rows_in = x.data.reshape(-1, x.shape[-1])
    grad_x = (dh @ weight.data.T).reshape(x.shape) if x.requires_grad else None
    return grad_x, rows_in.T @ dh, np.ones(len(dh), dtype=dh.dtype) @ dh
    ### END SOLUTION


class FusedMLP(Module):
    """An MLP whose Linear + GELU is the blocked op `linear_gelu`; shares the MLP's Tensors."""

    def __init__(self, linear1: Linear, linear2: Linear, dropout: Module):
        super().__init__()
        self.linear1, self.linear2, self.dropout = linear1, linear2, dropout
        self.gelu = GELU("tanh")  # what linear_gelu computes, for code that reads mlp.gelu
        self.embed_dim, self.hidden_dim = linear1.weight.shape

    @classmethod
    def from_mlp(cls, mlp) -> "FusedMLP":
        """The same MLP (the same Tensors); ValueError unless its activation is the tanh GELU."""
        if getattr(mlp.gelu, "approximate", None) != "tanh":
            raise ValueError(
                f"FusedMLP computes the tanh GELU; this MLP's activation is {mlp.gelu!r}."
            )
        return cls(mlp.linear1, mlp.linear2, mlp.dropout)

    def forward(self, x) -> Tensor:
        hidden = linear_gelu(x, self.linear1.weight, self.linear1.bias)
        return self.dropout(linear(hidden, self.linear2.weight, self.linear2.bias))


# %% [markdown]
# ### Test: GELU fused with its Linear
#
# **What this checks and why.** The hand check at h = 0; the same values and gradients as
# module 03's Linear followed by module 02's GELU, on an input large enough to need several
# blocks (so a block boundary off by one row shows); finite differences in float64; and
# `FusedMLP` against the MLP it was built from.


# %% nbgrader={"grade": true, "grade_id": "test-linear-gelu", "locked": true, "points": 10, "schema_version": 3}
def test_linear_gelu():
    from tinytorch.core.activations import gelu
    from tinytorch.models.transformer import MLP

    zero = Tensor(np.zeros((1, 2)), requires_grad=True)
    weight = Tensor(np.ones((2, 3)), requires_grad=True)
    bias = Tensor(np.zeros(3), requires_grad=True)
    out = linear_gelu(zero, weight, bias)
    assert np.allclose(out.data, 0.0), f"gelu(0) = 0, got {out.data}"
    out.sum().backward()
    assert np.allclose(bias.grad.data, 0.5), f"GELU's slope at 0 is 0.5: db = {bias.grad.data}"
    rng = np.random.default_rng(5)
    rows = BLOCK_ELEMENTS // 64 + 3  # several blocks of width 64, the last one short
    data = rng.normal(size=(rows, 16)).astype(np.float32)
    layer = Linear(16, 64)
    x1, x2 = Tensor(data, requires_grad=True), Tensor(data, requires_grad=True)
    expected = gelu(layer(x1), "tanh")
    got = linear_gelu(x2, layer.weight, layer.bias)
    difference = np.abs(got.data - expected.data).max()
    assert difference < 1e-5, f"same values as gelu(Linear(x)), max difference {difference:.2e}"
    (expected * expected).sum().backward()
    weight_grad = layer.weight.grad.data.copy()
    layer.weight.grad = None
    (got * got).sum().backward()
    assert np.allclose(x2.grad.data, x1.grad.data, atol=1e-4), "same dx in every block"
    assert np.allclose(layer.weight.grad.data, weight_grad, rtol=1e-4, atol=1e-3), "same dW"
    arrays = [rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5)), rng.normal(size=5)]
    error = _finite_difference_check(lambda x, w, b: linear_gelu(x, w, b) ** 2, arrays)
    assert error < 1e-6, f"linear_gelu's gradients differ from finite differences by {error:.2e}"
    np.random.seed(6)
    mlp = MLP(8, 32, dropout_prob=0.0)
    fused = FusedMLP.from_mlp(mlp)
    assert fused.linear1.weight is mlp.linear1.weight, "from_mlp must share the Tensors"
    sample = rng.normal(size=(2, 3, 8)).astype(np.float32)
    assert np.allclose(fused(sample).data, mlp(sample).data, atol=1e-5), "same as the MLP"
    ### BEGIN HIDDEN TESTS
    arrays = [rng.normal(size=(7, 3)), rng.normal(size=(3, 6)), rng.normal(size=6)]
    error = _finite_difference_check(lambda x, w, b: linear_gelu(x, w, b) ** 3, arrays)
    assert error < 1e-6, f"7 rows, cubed: gradients off by {error:.2e}"
    frozen = Tensor(rng.normal(size=(4, 3)))
    w = Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    b = Tensor(np.zeros(2), requires_grad=True)
    linear_gelu(frozen, w, b).sum().backward()
    assert w.grad is not None and frozen.grad is None, "no dx for an input without grad"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_linear_gelu()


# %% [markdown]
# ## 5. Attention as one op, with one projection for Q, K and V
#
# Module 12's attention records, per call: three Linear layers (six ops), three head
# splits, `K.transpose`, `Q Kᵀ`, `* scale`, `+ mask`, softmax, `P V`, and the merge. The graph
# keeps four (B, H, T, T) arrays for backward: the scores, the scaled scores, the masked
# scores and the probabilities. At T = 256, B = 4, H = 4 that is 4 x 4 MB per layer.
#
# Fused: one `qkv_proj` Linear(D, 3D) gives Q, K and V side by side, (B, T, 3D): one larger
# product instead of three. Then one op `attention` does the rest on NumPy arrays in place:
#
# ```
#   q, k, v = split(qkv)              one copy into (3, B·H, T, d): each head contiguous
#   for a block of heads:             as many (T, T) score matrices as fit in BLOCK_ELEMENTS
#       S = q kᵀ;  S *= 1/√d;  S += bias;  S -= rowmax;  exp(S, out=S);  S /= rowsum  -> P
#       out = P v
#   merge heads -> (B, T, D)
# ```
#
# and its rule, derived from the softmax rule of module 05 (dS = P ⊙ (dP - Σ dP ⊙ P)),
# block by block as well:
#
# ```
#   dv = Pᵀ g        dP = g vᵀ        dS = P ⊙ (dP - rowsum(dP ⊙ P)) / √d
#   dq = dS k        dk = dSᵀ q       -> written into (3, B·H, T, d), merged like qkv
# ```
#
# It keeps one (B, H, T, T) array (P) instead of four. Two choices are about memory traffic,
# as in section 4: the heads are copied once into contiguous (T, d) matrices (one pass over
# (B, T, 3D), small next to the (T, T) work, and every product then runs on plain
# contiguous matrices), and the softmax passes run over a block of heads whose scores stay
# in cache, instead of over the whole (B, H, T, T) array at once.
#
# **Kᵀ in row order.** `q @ k.swapaxes(-1, -2)` hands BLAS a transposed operand whose shared
# dimension is short (d = 32). Measured on this course's machine, OpenBLAS is about 1.5x
# slower on that than on the same product with Kᵀ stored row by row: for 64 heads of
# (128, 32) x (32, 128), 0.78 ms against 0.51 ms, while copying K into Kᵀ costs 0.09 ms. So
# forward copies K once into `keys_t` (B·H, d, T), and the rule copies V into `values_t`
# for dP = g Vᵀ. Nothing in the maths says this; only a measurement does.
#
# %%
#| export
def _head_blocks(count: int, length: int):
    """Slices over `count` heads, each block holding about BLOCK_ELEMENTS (T, T) scores."""
    step = max(1, BLOCK_ELEMENTS // max(length * length, 1))
    for start in range(0, count, step):
        yield slice(start, min(start + step, count))


def _head_bias(mask, batch: int, heads: int, length: int, dtype) -> np.ndarray | None:
    """The mask's additive bias for (B·H, T, T) scores: shared ((T, T) or less) or per head."""
    if mask is None:
        return None
    bias = mask_bias(mask, (batch, heads, length, length), dtype)
    if bias.ndim <= 2 or all(n == 1 for n in bias.shape[:-2]):
        return bias.reshape(bias.shape[-2:]) if bias.ndim >= 2 else bias  # the same for all
    full = np.broadcast_to(bias, (batch, heads, length, length))
    return full.reshape(batch * heads, length, length)  # per batch or per head: one copy


# %% [markdown]
# **Specify.**
# - `fused_attention(qkv, num_heads, mask=None) -> Tensor`: qkv (B, T, 3D) holding Q, K, V
#   in that order along the last axis; heads split as in module 12 (head h is columns
#   h·d..(h+1)·d of each of Q, K, V); the mask as in module 12 (booleans True = may attend,
#   or floats added; use `mask_bias`, then `_head_bias` below to get it per head block).
#   Records op `"attention"` with inputs `(qkv,)` and saved `(heads, probs, scale)`: `heads`
#   the contiguous (3, B·H, T, d) copy of q, k, v, `probs` (B·H, T, T), `scale` = 1/√d.
#   Loop over `_head_blocks(B·H, T)` in forward and in the rule. Returns (B, T, D) with the
#   heads merged.
# - `FusedAttention(embed_dim, num_heads)` with `qkv_proj` (a FusedLinear D -> 3D),
#   `out_proj` (a FusedLinear D -> D), `forward(x, mask=None)`.
#   `FusedAttention.from_attention(mha)` builds it from a MultiHeadAttention: `qkv_proj`'s
#   weight is the concatenation `[Wq | Wk | Wv]` (new Tensors: the optimizer must be created
#   after the swap), `out_proj` shares mha's out_proj Tensors.


# %% nbgrader={"grade": false, "grade_id": "attention", "locked": false, "schema_version": 3, "solution": true}
#| export
def fused_attention(qkv, num_heads: int, mask=None) -> Tensor:
    """softmax(q kᵀ/√d + bias) v for qkv (B, T, 3D) as one op "attention" -> (B, T, D)."""
    ### BEGIN SOLUTION
    qkv = as_tensor(qkv)
    batch, length, width = qkv.shape
    head_dim, count = width // (3 * num_heads), batch * num_heads
    split = qkv.data.reshape(batch, length, 3, num_heads, head_dim).transpose(2, 0, 3, 1, 4)
    heads = np.ascontiguousarray(split).reshape(3, count, length, head_dim)
    q, k, v = heads
    keys_t = np.ascontiguousarray(k.swapaxes(-1, -2))  # (B·H, d, T): see "Kᵀ in row order"
    scale = qkv.dtype.type(1.0 / math.sqrt(head_dim))
    bias = _head_bias(mask, batch, num_heads, length, qkv.dtype)
    probs = np.empty((count, length, length), dtype=qkv.dtype)
    merged = np.empty((count, length, head_dim), dtype=qkv.dtype)
    for block in _head_blocks(count, length):
        scores = probs[block]
        np.matmul(q[block], keys_t[block], out=scores)
        scores *= scale
        if bias is not None:
            scores += bias if bias.ndim < 3 else bias[block]
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        np.matmul(scores, v[block], out=merged[block])
    merged = merged.reshape(batch, num_heads, length, head_dim).transpose(0, 2, 1, 3)
    out = merged.reshape(batch, length, num_heads * head_dim)
    return Tensor.from_op(out, "attention", (qkv,), (heads, probs, scale))
    ### END SOLUTION


@gradient_rule("attention")
def _attention_grad(g, out):
    """d(qkv) of the fused attention, (B, T, 3D), from the saved heads and probabilities."""
    ### BEGIN SOLUTION
    heads, probs, scale = out._saved
    q, k, v = heads
    count, length, head_dim = q.shape
    batch = g.shape[0]
    num_heads = count // batch
    g_heads = g.reshape(batch, length, num_heads, head_dim).transpose(0, 2, 1, 3)
    g_heads = np.ascontiguousarray(g_heads).reshape(count, length, head_dim)
    values_t = np.ascontiguousarray(v.swapaxes(-1, -2))  # (B·H, d, T), as keys_t in forward
    grads = np.empty_like(heads)  # (3, B·H, T, d): dq, dk, dv
    for block in _head_blocks(count, length):
        p = probs[block]
        np.matmul(p.swapaxes(-1, -2), g_heads[block], out=grads[2, block])
        d_scores = g_heads[block] @ values_t[block]  # dP
        d_scores -= np.einsum("bij,bij->bi", d_scores, p)[..., None]
        d_scores *= p
        d_scores *= scale
        np.matmul(d_scores, k[block], out=grads[0, block])
        np.matmul(d_scores.swapaxes(-1, -2), q[block], out=grads[1, block])
    grads = grads.reshape(3, batch, num_heads, length, head_dim).transpose(1, 3, 0, 2, 4)
    return (grads.reshape(batch, length, 3 * num_heads * head_dim),)
    ### END SOLUTION


class FusedAttention(Module):
    """Multi-head attention with one Q/K/V projection and the fused op `attention`."""

    def __init__(self, embed_dim: int, num_heads: int):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}.")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.qkv_proj = FusedLinear.from_linear(Linear(embed_dim, 3 * embed_dim))
        self.out_proj = FusedLinear.from_linear(Linear(embed_dim, embed_dim))

    @classmethod
    def from_attention(cls, mha) -> "FusedAttention":
        """The same attention as `mha` (weights concatenated into qkv_proj; out_proj shared)."""
        ### BEGIN SOLUTION
        fused = cls(mha.embed_dim, mha.num_heads)
        projections = (mha.q_proj, mha.k_proj, mha.v_proj)
        weight = np.concatenate([p.weight.data for p in projections], axis=1)
        bias = np.concatenate([p.bias.data for p in projections])
        fused.qkv_proj = FusedLinear(
            Tensor(weight, requires_grad=True, dtype=weight.dtype),
            Tensor(bias, requires_grad=True, dtype=bias.dtype),
        )
        fused.out_proj = FusedLinear.from_linear(mha.out_proj)
        return fused
        ### END SOLUTION

    def forward(self, x, mask=None) -> Tensor:
        return self.out_proj(fused_attention(self.qkv_proj(x), self.num_heads, mask))

    def attend_cached(self, x, cache, layer: int) -> Tensor:
        """Module 14's hook: attention of new positions x (B, T_new, D) against a KV cache.

        Section 7. ONE (D, 3D) product (`linear`) gives q, k, v; k and v are stored with
        cache.update(layer, k, v) (not advanced); new position i attends to keys 0 ..
        cache.length + i; returns out_proj of the merged heads (B, T_new, D). Values only
        (generation runs under no_grad).
        """
        batch, new, _ = x.shape
        qkv = self.qkv_proj(x).data  # (B, T_new, 3D): one `linear` op
        parts = qkv.reshape(batch, new, 3, self.num_heads, self.head_dim).transpose(2, 0, 3, 1, 4)
        start = cache.length
        keys, values = cache.update(layer, parts[1], parts[2])  # (B, H, start + T_new, d)
        scores = parts[0] @ keys.swapaxes(-1, -2)  # (B, H, T_new, start + T_new)
        scores *= 1.0 / math.sqrt(self.head_dim)
        if new > 1:  # one new token may see every key; a chunk needs the offset causal mask
            allowed = np.arange(start + new)[None, :] <= (start + np.arange(new))[:, None]
            scores += mask_bias(allowed, scores.shape, scores.dtype)
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        merged = (scores @ values).transpose(0, 2, 1, 3).reshape(batch, new, self.embed_dim)
        return self.out_proj(Tensor(merged, dtype=merged.dtype))


# %% [markdown]
# ### Test: fused attention
#
# **What this checks and why.** Built from a MultiHeadAttention, the fused module gives the
# same output under a causal mask and the same input gradient; the op's gradients agree
# with finite differences in float64 (with and without a mask), so the rule derived above
# is right, not just close.


# %% nbgrader={"grade": true, "grade_id": "test-attention", "locked": true, "points": 15, "schema_version": 3}
def test_attention():
    from tinytorch.core.attention import MultiHeadAttention, causal_mask

    np.random.seed(3)
    mha = MultiHeadAttention(8, 2)
    fused = FusedAttention.from_attention(mha)
    assert fused.out_proj.weight is mha.out_proj.weight, "out_proj must be shared"
    assert fused.qkv_proj.weight.shape == (8, 24), f"qkv weight is (D, 3D): {fused.qkv_proj}"
    for length, seed in ((5, 3), (70, 5)):
        data = np.random.default_rng(seed).normal(size=(2, length, 8)).astype(np.float32)
        x1, x2 = Tensor(data, requires_grad=True), Tensor(data, requires_grad=True)
        expected, got = mha(x1, causal_mask(length)), fused(x2, causal_mask(length))
        difference = np.abs(got.data - expected.data).max()
        assert np.allclose(got.data, expected.data, atol=1e-5), (
            f"T = {length}: fused attention must match module 12's, max diff {difference:.2e}"
        )
        (expected * expected).sum().backward()
        (got * got).sum().backward()
        assert np.allclose(x2.grad.data, x1.grad.data, atol=1e-4), (
            f"T = {length}: the same input gradient as module 12"
        )
    rng = np.random.default_rng(4)
    qkv = rng.normal(size=(1, 3, 12))
    error = _finite_difference_check(lambda t: fused_attention(t, 2, causal_mask(3)) ** 2, [qkv])
    assert error < 1e-6, f"attention's rule differs from finite differences by {error:.2e}"
    ### BEGIN HIDDEN TESTS
    qkv = rng.normal(size=(2, 4, 18))
    error = _finite_difference_check(lambda t: fused_attention(t, 3) ** 2, [qkv])
    assert error < 1e-6, f"unmasked, 3 heads: gradients off by {error:.2e}"
    per_head = rng.normal(size=(2, 3, 4, 4))
    error = _finite_difference_check(lambda t: fused_attention(t, 3, per_head) ** 2, [qkv])
    assert error < 1e-6, f"a float mask per batch and head: gradients off by {error:.2e}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_attention()

# %% [markdown]
# ## 6. accelerate(model), measured
#
# `accelerate(model)` swaps, in every block, `ln1`, `ln2` (FastLayerNorm), `attention`
# (FusedAttention) and `mlp` (FusedMLP), then `ln_f` (FastLayerNorm) and `lm_head`
# (FusedLinear). It changes no class and patches no method: the model object holds other
# submodules afterwards, and `model.parameters()` finds their Tensors as it finds any.
# Because the Q/K/V weights are concatenated into new Tensors, **build the optimizer after
# `accelerate`**. The model computes the same function, so the loss is the same up to float32
# rounding (the products add in another order).
#
# **Specify.** `accelerate(model: GPT) -> GPT` does the swaps in place and returns the model.
# `compare_steps(config, steps=5, seed=0)`: builds two GPTs with the same seed (weights),
# accelerates the second, builds Adam (lr 1e-3) for each, and alternates their training steps
# (before, after, before, after, ...: a machine that slows down slows both) on the same
# batch; returns `{"before_ms", "after_ms", "speedup", "loss_before", "loss_after"}` with the
# median step times and the first step's losses. `config` is a dict with `vocab`, `embed`,
# `layers`, `heads`, `seq`, `batch`.


# %% nbgrader={"grade": false, "grade_id": "accelerate", "locked": false, "schema_version": 3, "solution": true}
#| export
def accelerate(model: GPT) -> GPT:
    """Swap a GPT's LayerNorms, attentions and Linears for fused ones (same weights)."""
    ### BEGIN SOLUTION
    for block in model.blocks:
        block.ln1 = FastLayerNorm.from_layer_norm(block.ln1)
        block.ln2 = FastLayerNorm.from_layer_norm(block.ln2)
        block.attention = FusedAttention.from_attention(block.attention)
        block.mlp = FusedMLP.from_mlp(block.mlp)
    model.ln_f = FastLayerNorm.from_layer_norm(model.ln_f)
    model.lm_head = FusedLinear.from_linear(model.lm_head)
    return model
    ### END SOLUTION


def _build(config: dict, seed: int, fused: bool):
    """A GPT of `config` with weights from `seed` (accelerated if asked) and its Adam."""
    np.random.seed(seed)
    model = GPT(config["vocab"], config["embed"], config["layers"], config["heads"], config["seq"])
    if fused:
        accelerate(model)
    return model, Adam(model.parameters(), lr=1e-3)


def _step(model, opt, ids, targets) -> float:
    """One training step; returns the loss."""
    opt.zero_grad()
    loss = cross_entropy(model(ids), targets)
    loss.backward()
    opt.step()
    return float(loss.data)


def compare_steps(config: dict, steps: int = 5, seed: int = 0) -> dict:
    """Median step time of a GPT before and after accelerate(), alternated; first losses."""
    ### BEGIN SOLUTION
    tokens = np.random.default_rng(seed).integers(
        0, config["vocab"], size=(config["batch"], config["seq"] + 1)
    )
    ids, targets = tokens[:, :-1], tokens[:, 1:]
    runs = {"before": _build(config, seed, False), "after": _build(config, seed, True)}
    times = {"before": [], "after": []}
    losses = {}
    for _ in range(steps + 1):  # the first round is a warm-up, not timed
        for name, (model, opt) in runs.items():
            started = time.perf_counter()
            loss = _step(model, opt, ids, targets)
            times[name].append(time.perf_counter() - started)
            losses.setdefault(name, loss)
    before = 1e3 * statistics.median(times["before"][1:])
    after = 1e3 * statistics.median(times["after"][1:])
    result = {
        "before_ms": before,
        "after_ms": after,
        "speedup": before / after,
        "loss_before": losses["before"],
        "loss_after": losses["after"],
    }
    print(
        f"step before {before:.1f} ms, after {after:.1f} ms ({before / after:.2f}x); "
        f"first loss {losses['before']:.5f} / {losses['after']:.5f}"
    )
    return result
    ### END SOLUTION


# %% [markdown]
# ### Test: accelerate keeps the model, and the step
#
# **What this checks and why.** After `accelerate`, the model has the same number of
# parameters, gives the same logits, and trains to the same losses for a few steps: a
# fused op that is fast but wrong is worthless. The times are printed, not asserted (the
# machine decides them).


# %% nbgrader={"grade": true, "grade_id": "test-accelerate", "locked": true, "points": 10, "schema_version": 3}
def test_accelerate():
    config = {"vocab": 50, "embed": 16, "layers": 2, "heads": 2, "seq": 12, "batch": 3}
    plain, _ = _build(config, 0, False)
    fast, _ = _build(config, 0, True)
    assert isinstance(fast.blocks[0].attention, FusedAttention), "attention must be swapped"
    assert isinstance(fast.lm_head, FusedLinear), "lm_head must be swapped"
    assert isinstance(fast.blocks[1].mlp, FusedMLP), "every block's mlp must be swapped"
    assert plain.num_parameters() == fast.num_parameters(), (
        f"same parameter count: {plain.num_parameters()} vs {fast.num_parameters()}"
    )
    ids = np.random.default_rng(0).integers(0, 50, size=(3, 12))
    difference = np.abs(plain(ids).data - fast(ids).data).max()
    assert difference < 1e-4, f"accelerated logits must match, max difference {difference:.2e}"
    prompt = ids[0, :4]
    plain_ids = plain.generate(prompt, 6, temperature=0, use_cache=True).data
    fast_ids = fast.generate(prompt, 6, temperature=0, use_cache=True).data
    assert np.array_equal(plain_ids, fast_ids), (
        f"cached generation (module 14) must give the same tokens: {plain_ids} vs {fast_ids}"
    )
    result = compare_steps(config, steps=3)
    assert abs(result["loss_before"] - result["loss_after"]) < 1e-4, f"same loss: {result}"
    assert result["before_ms"] > 0 and result["after_ms"] > 0, f"times measured: {result}"


if __name__ == "__main__":
    test_accelerate()

# %% [markdown]
# ### What to expect
#
# On the course's 2-core VM with one BLAS thread (`python -m benchmarks.gpt`, seven rounds
# alternated with PyTorch 2.13 on one thread), the same loss to 5 digits:
#
# | step | module 13 | accelerated | PyTorch |
# |---|---|---|---|
# | TinyGPT, B 8 | 2.11 ms | 1.57 ms | 2.82 ms |
# | larger (D 128, L 4, T 64), B 16 | 92.6 ms | 76.4 ms | 71.8 ms |
# | wide (D 256, L 4, T 128), B 8 | 286 ms | 233 ms | 215 ms |
# | long (D 128, L 4, T 256), B 4 | 131 ms | 98 ms | 98 ms |
#
# Where the rest goes: the matrix products. Timed alone on the same shapes
# (`python -m benchmarks.products`), the 75 products of a larger step take 38.1 ms in NumPy
# and 32.2 ms in PyTorch: the same arithmetic, but NumPy's wheels bring OpenBLAS and
# PyTorch's bring Intel's MKL, about 12-27% faster on these shapes. Everything else in the
# accelerated step (38 ms) already costs no more than PyTorch's (40 ms); at T = 256 it is
# 10 ms less. No change to our Python can make the BLAS library faster. Run `compare_steps`
# at your sizes and profile both models with module 15 to see which rows shrank.

# %% [markdown]
# ## 7. Generation with the KV cache, accelerated
#
# Module 14's `generate_with_cache` has no model of its own: each step runs the model's
# modules (`forward_with_cache`) on the new positions only. After `accelerate(model)` those
# modules are `FastLayerNorm`, `FusedMLP`, `FusedLinear` and `FusedAttention`, so an
# accelerated model generates through the same function, with the same cache, and the same
# tokens. One piece needs help: module 14's `attend_with_cache` splits heads after `q_proj`, `k_proj` and
# `v_proj`, which `FusedAttention` does not have. So `attend_with_cache` first asks the
# attention module: if it has a method `attend_cached(x, cache, layer)`, that method does the
# work. `FusedAttention.attend_cached` (given, in section 5's class) is the cached attention
# with **one** projection:
#
# ```
# x (B, T_new, D) ─qkv_proj: one `linear` op─► (B, T_new, 3D)      one product, not three
#   ─reshape (B, T_new, 3, H, d), transpose (2, 0, 3, 1, 4)─► q, k, v (B, H, T_new, d) views
# k, v ─cache.update(layer, k, v)─► keys, values (B, H, S, d)      S = start + T_new
# scores = q keysᵀ;  *= 1/√d;  (+ the offset causal bias if T_new > 1);  softmax in place
# scores @ values ─merge─► (B, T_new, D) ─out_proj─► (B, T_new, D)
# ```
#
# Worked for TinyGPT (D = 32, H = 4, d = 8), a step after 16 cached positions: x (1, 1, 32)
# times W_qkv (32, 96) gives (1, 1, 96); q, k, v are (1, 4, 1, 8); the cache returns keys
# and values (1, 4, 17, 8); the scores are (1, 4, 1, 17), 68 numbers. The arrays are tiny, so
# the count of operations is what matters: module 12's path records, per layer, three
# Linear layers (a product and a bias add each) and five attention ops (transpose, product,
# scale, softmax, product); `attend_cached` records two (the two `linear` ops), and the rest
# is a dozen NumPy calls on arrays, with no `Tensor` built for them. Under `no_grad` nothing
# is saved for backward, so the softmax may overwrite the scores in place.
#
# **Specify.** `compare_generation(config, new_tokens=32, rounds=3, seed=0) -> dict`: builds
# two GPTs of `config` (as `_build` does, the same seed, no optimizer), accelerates the
# second, takes the prompt `np.random.default_rng(seed).integers(0, config["vocab"], 8)`,
# and generates `new_tokens` greedily (`temperature=0`) with `use_cache=True` from each,
# alternating (plain, accelerated, plain, ...; the first round is a warm-up, not timed).
# Returns `{"plain_ms", "accelerated_ms", "speedup", "same_tokens"}`: medians, their ratio,
# and whether every generation equals the plain model's `generate` **without** a cache.


# %% nbgrader={"grade": false, "grade_id": "accelerated-generation", "locked": false, "schema_version": 3, "solution": true}
#| export
def compare_generation(config: dict, new_tokens: int = 32, rounds: int = 3, seed: int = 0) -> dict:
    """Median cached-generation time of a GPT before and after accelerate(); same tokens?"""
    ### BEGIN SOLUTION
    models = {}
    for name in ("plain", "accelerated"):
        np.random.seed(seed)
        model = GPT(
            config["vocab"], config["embed"], config["layers"], config["heads"], config["seq"]
        )
        models[name] = accelerate(model) if name == "accelerated" else model
    prompt = np.random.default_rng(seed).integers(0, config["vocab"], 8)
    expected = models["plain"].generate(prompt, new_tokens, temperature=0).data  # no cache
    times = {name: [] for name in models}
    same = True
    for _ in range(rounds + 1):  # the first round is a warm-up, not timed
        for name, model in models.items():
            started = time.perf_counter()
            ids = model.generate(prompt, new_tokens, temperature=0, use_cache=True).data
            times[name].append(time.perf_counter() - started)
            same = same and np.array_equal(ids, expected)
    plain = 1e3 * statistics.median(times["plain"][1:])
    fast = 1e3 * statistics.median(times["accelerated"][1:])
    print(
        f"{new_tokens} tokens with the cache: plain {plain:.1f} ms, accelerated {fast:.1f} ms "
        f"({plain / fast:.2f}x); same tokens as generate without a cache: {same}"
    )
    return {"plain_ms": plain, "accelerated_ms": fast, "speedup": plain / fast, "same_tokens": same}
    ### END SOLUTION


# %% [markdown]
# ### Test: an accelerated model generates the same tokens with the cache
#
# **What this checks and why.** `compare_generation` on a small GPT reports identical tokens;
# then, in float64, an accelerated model's cached logits (a prefill of 4, then one token at
# a time) equal its full forward at every position to 1e-10, so `attend_cached` stores the
# right keys at the right positions and masks a chunk correctly; and seeded top-k sampling
# for a batch of two, past `max_seq_len` (the cache is cleared and the window re-run), gives
# `GPT.generate`'s tokens without a cache. Times are printed, not asserted.


# %% nbgrader={"grade": true, "grade_id": "test-accelerated-generation", "locked": true, "points": 5, "schema_version": 3}
def test_accelerated_generation():
    from tinytorch.core.autograd import no_grad
    from tinytorch.generation.kv_cache import forward_with_cache, generate_with_cache, new_cache

    config = {"vocab": 40, "embed": 16, "layers": 2, "heads": 4, "seq": 12, "batch": 1}
    result = compare_generation(config, new_tokens=10, rounds=1)
    assert result["same_tokens"], f"the same tokens with and without the cache: {result}"
    assert result["plain_ms"] > 0 and result["accelerated_ms"] > 0, f"times measured: {result}"
    np.random.seed(1)
    model = accelerate(GPT(40, 16, 2, 4, 10))
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    ids = np.random.default_rng(2).integers(0, 40, size=(2, 10))
    with no_grad():
        full = model(ids).data
        cache = new_cache(model, batch=2)
        pieces = [forward_with_cache(model, ids[:, :4], cache).data]
        pieces += [forward_with_cache(model, ids[:, i : i + 1], cache).data for i in range(4, 10)]
    difference = np.abs(np.concatenate(pieces, axis=1) - full).max()
    assert difference < 1e-10, f"cached logits equal the full forward, differ by {difference:.2e}"
    prompts = [[1, 2, 3], [4, 5, 6]]
    plain = model.generate(prompts, 12, temperature=1.0, top_k=5, rng=np.random.default_rng(7))
    cached = generate_with_cache(
        model, prompts, 12, temperature=1.0, top_k=5, rng=np.random.default_rng(7)
    )
    assert np.array_equal(plain.data, cached.data), (
        f"sampled, a batch of two, past max_seq_len 10:\n{plain.data}\nvs\n{cached.data}"
    )


if __name__ == "__main__":
    test_accelerated_generation()

# %% [markdown]
# ### What to expect
#
# On the course's 2-core VM (shared, one BLAS thread): a TinyGPT decode step records 50
# `Tensor` ops plain and 21 accelerated (per layer: one `linear` for Q, K, V and one for
# `out_proj` instead of four products, four bias adds and five attention ops; the MLP's
# `linear_gelu` and `linear`). Greedy generation with the cache, `compare_generation` with
# `seq` 128 and 100 new tokens: plain 22-24 ms, accelerated 15 ms (1.5x); the larger
# configuration (D 128, L 4, `seq` 64, 48 new tokens): 28 ms and 21 ms (1.3x), the same
# tokens every time. What is left per step is
# about 4 µs of overhead per op and, at D 128, the one-row products reading every weight.

# %% [markdown]
# ## Reflect

# %% [markdown]
# **Q1 (memory).** For B = 4, H = 4, T = 256, how many bytes of (T, T) arrays does module
# 12's attention keep for backward per layer, and how many does the fused op keep?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-attention-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# One (B, H, T, T) float32 array is 4 * 4 * 256 * 256 * 4 B = 4.2 MB. Module 12 keeps the
# scores, the scaled scores, the masked scores and the softmax: about 16.8 MB per layer,
# 67 MB for 4 layers. The fused op keeps only the probabilities, 4.2 MB per layer; the
# scores are recomputable and not needed by the rule, and q, k, v are views of qkv, which
# the graph keeps anyway.
# ### END SOLUTION

# %% [markdown]
# **Q2 (threads).** Why did two BLAS threads make the step 5x slower on the shared machine,
# while PyTorch and NumPy both default to one thread per core? When would you raise it?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-threads", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# A threaded product splits the work and then waits for every part. When another process
# holds a core, the second half waits for the scheduler (milliseconds) while the product
# itself takes under a millisecond; OpenBLAS's idle workers also spin, stealing time from the
# Python thread doing the elementwise work. The defaults assume a machine to yourself and
# large products. Raise it when the machine is yours and the products are large (D of 512 or
# more, big batches): measure both, as compare_steps does.
# ### END SOLUTION

# %% [markdown]
# **Q3 (fusion).** `linear` saves the bias add. Count the passes over a (rows, out) array in
# forward and backward before and after, and say why the gain is larger in backward.

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-fusion", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Before: forward writes the product, then reads it and writes a new array for + b (two
# writes, one read). After: the product, then b added in place (one write, one read-write).
# Backward before: the add rule hands g to both inputs and the engine sums g over the rows for
# b (unbroadcast), then the matmul rule; for a 3-D x the weight gradient used to need
# reshapes the engine does per op. After: one rule does the sum, and skips dx for an input
# that needs no gradient (a whole product saved at the first layer).
# ### END SOLUTION

# %% [markdown]
# **Q4 (what breaks).** `accelerate` replaces the attention's q_proj, k_proj and v_proj by
# one new qkv_proj. What breaks if you build the optimizer before calling it, and what else
# in the course relied on q_proj?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-breaks", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The optimizer holds the old Tensors: Q, K and V would never be updated (their weights are
# no longer in the model; qkv_proj's new Tensors are not in the optimizer), so the model
# trains with frozen attention projections, silently. Module 14's cached attention splits
# heads after `attention.q_proj` etc.; FusedAttention has none, so module 14 first calls the
# module's own `attend_cached` (section 7), one product for Q, K and V. Anything else that
# reads or assigns q_proj.weight (an export to another framework, weight surgery) must learn
# the merged layout: columns 0..D of qkv_proj are Q, D..2D are K, 2D..3D are V.
# ### END SOLUTION

# %% [markdown]
# **Q5 (cache).** Working in blocks of rows made GELU 1.4x faster. The same blocking applied
# to LayerNorm's forward and backward (tried while writing this module) changed nothing
# measurable. What differs between the two, in array sizes and passes, and what does
# LayerNorm's time go to instead?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-cache", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# GELU's hidden array is (B·T, 4D): 2 MB at D = 128, 4 MB at D = 256, about as large as the
# core's L2 cache, and forward and backward make about twenty passes over it, so unblocked
# most passes stream from L3 or memory; in blocks of 256 KB every pass after the first hits
# L2. LayerNorm's arrays are (B·T, D), four times smaller (512 KB), and already stay in L2
# between its six passes: there was no repeated traffic to save. Its time goes to the first
# touch of arrays that are cold by the time it runs (its input, written long before in the
# step, and fresh output arrays): timed alone it takes 0.16 ms per call with warm caches and
# 0.32 ms after other work evicted them. Blocking does not reduce first touches; only fewer
# arrays (saving less for backward, or folding γ and β into the next product) would.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 16_acceleration.")
