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
# # Module 09: Spatial (convolutions and pooling)
#
# The MLP of the `mlp` milestone reads 8×8 digits as 64 unrelated numbers. Move a digit one
# pixel to the right and every one of those numbers changes: to the MLP it is a new input,
# and it must learn "a 3 at this position" separately for every position it can occur at. An
# image has structure an MLP ignores: nearby pixels belong together, and a pattern means the
# same thing wherever it appears. A **convolution** builds both facts into the layer:
#
# - **locality** (receptive fields): each output looks at a small window of the input, say
#   3×3 pixels, not at the whole image;
# - **parameter sharing**: the same small set of weights (a *kernel*, or filter) slides over
#   every window. A kernel that detects a vertical edge detects it everywhere.
#
# ```
#   input (5 × 6)            kernel (3 × 3)          output (3 × 4)
#   ┌─┬─┬─┬─┬─┬─┐            ┌─┬─┬─┐                 ┌─┬─┬─┬─┐
#   │█│█│█│ │ │ │            │a│b│c│                 │●│ │ │ │   ● = a·x00 + b·x01 + c·x02
#   ├─┼─┼─┼─┼─┼─┤            ├─┼─┼─┤                 ├─┼─┼─┼─┤      + d·x10 + ... + i·x22
#   │█│█│█│ │ │ │     ⊛      │d│e│f│        =        │ │ │ │ │
#   ├─┼─┼─┼─┼─┼─┤            ├─┼─┼─┤                 ├─┼─┼─┼─┤   the next output slides the
#   │█│█│█│ │ │ │            │g│h│i│                 │ │ │ │ │   same 9 weights one step right
#   ├─┼─┼─┼─┼─┼─┤            └─┴─┴─┘                 └─┴─┴─┴─┘
#   │ │ │ │ │ │ │
#   ├─┼─┼─┼─┼─┼─┤
#   │ │ │ │ │ │ │
#   └─┴─┴─┴─┴─┴─┘
# ```
#
# The numbers make the point. Mapping a 28×28 image to eight 26×26 feature maps with a
# `Linear` takes 784 · 5,408 ≈ 4.2 million weights; a `Conv2d(1, 8, 3)` does it with
# 8 · 9 + 8 = 80, and still has 80 when the image is 1000×1000. Stacking convolutions and
# **pooling** (keep the largest, or the average, of each small window) lets later layers see
# larger and larger parts of the image with few parameters: LeCun's LeNet (1998) read
# handwritten cheques this way.
#
# In this module you build `tinytorch.core.spatial`:
#
# | piece | what it is |
# |---|---|
# | `conv2d_naive` | the convolution as four nested loops: slow, but checkable by hand |
# | `im2col`, `col2im` | copy every window into a column of a matrix, and the way back |
# | `conv2d` | the convolution as one graph op: im2col, one matrix product, a hand-written backward |
# | `max_pool2d`, `avg_pool2d` | pooling as graph ops, with PyTorch's tie rule |
# | `Conv2d`, `MaxPool2d`, `AvgPool2d`, `Flatten` | the layers, named and shaped as in PyTorch |
# | `receptive_field` | how much of the image one output sees |
#
# **You will learn** how a convolution turns into one matrix product, why its backward pass is
# the same trick run backwards, what a convolution costs in FLOPs and memory (im2col copies
# the input up to kH·kW times), and how much faster one BLAS call is than Python loops,
# measured on your own code.
#
# **Conventions** (PyTorch's): images are `(N, C, H, W)`: batch, channels, height, width. A
# kernel is `(out_channels, in_channels, kH, kW)`. Kernel sizes, strides and paddings are an
# `int` (the same for height and width) or a pair `(height, width)`.

# %%
#| default_exp core.spatial
#| export
import math

import numpy as np

from tinytorch.core.autograd import gradient_rule
from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor, as_tensor

# %% [markdown]
# Two small helpers are given: `_pair` turns `3` into `(3, 3)` and checks the values, and
# `conv_output_size` is the formula every spatial layer uses (derived in the next section).


# %%
#| export
def _pair(value, name: str, minimum: int = 1) -> tuple[int, int]:
    """`3` -> (3, 3); `(3, 5)` -> (3, 5); values must be integers >= `minimum`."""
    pair = tuple(value) if isinstance(value, tuple | list) else (value, value)
    valid = len(pair) == 2 and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= minimum for v in pair
    )
    if not valid:
        raise ValueError(
            f"{name} must be an integer >= {minimum} or a pair of them, not {value!r}."
        )
    return int(pair[0]), int(pair[1])


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """floor((size + 2·padding − kernel) / stride) + 1: how many window positions fit."""
    fitted = (size + 2 * padding - kernel) // stride + 1
    if fitted < 1:
        raise ValueError(
            f"A kernel of {kernel} does not fit an input of {size} with padding {padding}."
        )
    return fitted


# %%
def numerical_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences (f(x + h·e_i) − f(x − h·e_i)) / 2h for every element (float64)."""
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        plus = f(x)
        x[i] = original - h
        minus = f(x)
        x[i] = original
        grad[i] = (plus - minus) / (2 * h)
    return grad


# %% [markdown]
# ## 1. Convolution by hand, then as loops
#
# One input channel, one 2×2 kernel, stride 1, no padding. The output at row r, column s is
# the kernel laid over the input with its top-left corner at (r, s), multiplied element by
# element and summed:
#
# ```
# out[r, s] = Σ_i Σ_j  x[r + i, s + j] · w[i, j]        (i, j run over the kernel)
# ```
#
# With this 4×4 input and a kernel that subtracts the bottom-right pixel from the top-left
# one (it responds to a diagonal edge):
#
# ```
#      x               w             out = x ⊛ w
# 1  2  0  1        1   0            0  -1  -1
# 0  1  3  1        0  -1           -1   1   3
# 2  1  0  0                         2   0  -2
# 1  0  1  2
# ```
#
# out[0, 0] = 1·1 + 2·0 + 0·0 + 1·(−1) = 0, and out[1, 2] = x[1, 2] − x[2, 3] = 3 − 0 = 3.
# Check two more by hand before reading on. (Deep-learning "convolution" does not flip the
# kernel; mathematicians call this cross-correlation. Since the kernel is learned, the flip
# would change nothing.)
#
# **Size.** A kernel of size k fits `size − k + 1` times along an axis of `size` pixels.
# **Stride** s moves it s pixels at a time; **padding** p adds p zeros on every side first
# (so `padding = k // 2` with stride 1 keeps the size: "same" convolution). Together:
#
# ```
# H_out = floor((H + 2·p − kH) / s) + 1            (and the same for W)
# ```
#
# **Channels.** With C input channels the kernel has C slices, one per channel, and the
# output sums over all of them: a colour image (C = 3) and a 3×3 kernel give 27 products per
# output. With O output channels there are O such kernels, each producing its own feature
# map, plus one bias per output channel:
#
# ```
# out[n, o, r, s] = b[o] + Σ_c Σ_i Σ_j  x_padded[n, c, r·sh + i, s·sw + j] · w[o, c, i, j]
# ```
#
# **Specification.** `conv2d_naive(x, weight, bias=None, stride=1, padding=0)` computes this
# formula with explicit loops over the batch, the output channels and the output positions
# (each position: one `np.sum` of the window times the kernel).
#
# - `x`: ndarray `(N, C, H, W)`; `weight`: `(O, C, kH, kW)`; `bias`: `(O,)` or `None`.
# - `stride`, `padding`: `int` or `(height, width)`; use `_pair` and `conv_output_size`.
# - Pad with zeros: `np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))`.
# - Returns an ndarray `(N, O, H_out, W_out)` with the dtype of `x * weight`.
# - NumPy in, NumPy out: this is the reference to check the fast version against, not a
#   graph op.


# %% nbgrader={"grade": false, "grade_id": "conv-loops", "locked": false, "schema_version": 3, "solution": true}
#| export
def conv2d_naive(x: np.ndarray, weight: np.ndarray, bias=None, stride=1, padding=0) -> np.ndarray:
    """Convolution by loops: x (N, C, H, W), weight (O, C, kH, kW) -> (N, O, H_out, W_out)."""
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding", minimum=0)
    ### BEGIN SOLUTION
    n, _, h, w = x.shape
    out_channels, _, kh, kw = weight.shape
    h_out, w_out = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((n, out_channels, h_out, w_out), dtype=np.result_type(x, weight))
    for b in range(n):
        for o in range(out_channels):
            for r in range(h_out):
                for s in range(w_out):
                    window = padded[b, :, r * sh : r * sh + kh, s * sw : s * sw + kw]
                    out[b, o, r, s] = np.sum(window * weight[o])
    if bias is not None:
        out += bias[None, :, None, None]  # one bias per output channel
    return out
    ### END SOLUTION


# %% [markdown]
# **Test: the loops.** The 4×4 example above, value for value; then random inputs with several
# channels, strides and paddings against NumPy's `sliding_window_view` (a different route to
# the same windows); then a padded case where the border outputs see zeros.


# %% nbgrader={"grade": true, "grade_id": "test-conv-loops", "locked": true, "points": 15, "schema_version": 3}
def _reference_conv(x, weight, bias, stride, padding):
    """The same formula through sliding_window_view and einsum (test helper)."""
    (sh, sw), (ph, pw) = _pair(stride, "stride"), _pair(padding, "padding", 0)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, weight.shape[2:], axis=(2, 3))
    out = np.einsum("ncrsij,ocij->nors", windows[:, :, ::sh, ::sw], weight)
    return out if bias is None else out + bias[None, :, None, None]


def test_conv_loops():
    x = np.array([[1, 2, 0, 1], [0, 1, 3, 1], [2, 1, 0, 0], [1, 0, 1, 2]], dtype=float)
    w = np.array([[1, 0], [0, -1]], dtype=float)
    out = conv2d_naive(x[None, None], w[None, None])
    expected = np.array([[0, -1, -1], [-1, 1, 3], [2, 0, -2]])
    assert out.shape == (1, 1, 3, 3), f"4x4 input, 2x2 kernel: output (1, 1, 3, 3), got {out.shape}"
    assert np.array_equal(out[0, 0], expected), (
        f"the worked example: expected\n{expected}\ngot\n{out[0, 0]}"
    )
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 3, 6, 7)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)
    for stride, padding in [(1, 0), (2, 1), ((1, 2), (2, 0))]:
        got = conv2d_naive(x, w, b, stride, padding)
        want = _reference_conv(x, w, b, stride, padding)
        assert got.shape == want.shape, (
            f"stride {stride}, padding {padding}: shape {got.shape}, expected {want.shape}"
        )
        assert np.allclose(got, want), (
            f"stride {stride}, padding {padding}: values differ by {np.abs(got - want).max():.2e}"
        )
    corner = conv2d_naive(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), padding=1)[0, 0]
    assert np.array_equal(corner, [[4, 6, 4], [6, 9, 6], [4, 6, 4]]), (
        f"zero padding: a corner window holds 4 ones, got\n{corner}"
    )
    ### BEGIN HIDDEN TESTS
    x, w = rng.normal(size=(1, 2, 5, 5)), rng.normal(size=(3, 2, 2, 3))
    got = conv2d_naive(x, w, None, 2, (1, 2))
    assert np.allclose(got, _reference_conv(x, w, None, 2, (1, 2))), (
        "hidden: stride 2, padding (1, 2)"
    )
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_conv_loops()

# %% [markdown]
# ## 2. im2col: every window becomes a column
#
# Look at the formula again: each output is the **dot product** of the flattened kernel
# (C·kH·kW numbers) with the flattened window under it. Write every window as a column of a
# matrix, and all the dot products become one matrix product:
#
# ```
# cols   (C·kH·kW, N·H_out·W_out)      one column per output position, one row per kernel entry
# W2   = weight.reshape(O, C·kH·kW)    one row per output channel
# out2 = W2 @ cols                     (O, N·H_out·W_out)  -> reshape to (N, O, H_out, W_out)
# ```
#
# For the 4×4 example (C = 1, 2×2 kernel, 9 positions, taken row by row) the matrix is
#
# ```
#                 position (r, s):  00 01 02 10 11 12 20 21 22
# kernel entry (0, 0): x[r,   s  ]   1  2  0  0  1  3  2  1  0
# kernel entry (0, 1): x[r,   s+1]   2  0  1  1  3  1  1  0  0
# kernel entry (1, 0): x[r+1, s  ]   0  1  3  2  1  0  1  0  1
# kernel entry (1, 1): x[r+1, s+1]   1  3  1  1  0  0  0  1  2
# ```
#
# and `[1, 0, 0, -1] @ cols` = row 1 − row 4 = `0 -1 -1 -1 1 3 2 0 -2`: the output, row by
# row. That is a convolution as **one** matrix product, which BLAS runs at close to the
# machine's peak instead of one Python iteration per output.
#
# **Building it without a loop per window.** Read the table by rows instead of columns: row
# (i, j) holds `x[r + i, s + j]` for every position (r, s), which is one strided slice of the
# (padded) input, `padded[:, :, i : i + sh·H_out : sh, j : j + sw·W_out : sw]`. So the loop
# runs over the kH·kW kernel offsets only (9 for a 3×3 kernel), whatever the image size, and
# each step copies a whole slice at once.
#
# **Layout.** Rows are ordered (c, i, j), the order of `weight.reshape(O, -1)`; columns are
# ordered (n, r, s). Filling an array of shape `(C, kH, kW, N, H_out, W_out)` and reshaping
# it to `(C·kH·kW, N·H_out·W_out)` gives exactly this order with no extra copy: for offset
# (i, j), the slice has shape `(N, C, H_out, W_out)`, so transpose it to `(C, N, H_out, W_out)`
# and store it in `cols[:, i, j]`.
#
# **Specification.** `im2col(x, kernel_size, stride=1, padding=0)`:
# - `x`: ndarray `(N, C, H, W)`; `kernel_size`, `stride`, `padding`: int or pair.
# - Returns an ndarray `(C·kH·kW, N·H_out·W_out)` of x's dtype, laid out as above, with
#   zeros where a window covers the padding.
# - A kernel larger than the padded input raises `ValueError` (`conv_output_size` does that).


# %% nbgrader={"grade": false, "grade_id": "im2col", "locked": false, "schema_version": 3, "solution": true}
#| export
def im2col(x: np.ndarray, kernel_size, stride=1, padding=0) -> np.ndarray:
    """(N, C, H, W) -> (C·kH·kW, N·H_out·W_out): every window of the padded input as a column."""
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding", minimum=0)
    ### BEGIN SOLUTION
    n, c, h, w = x.shape
    h_out, w_out = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    cols = np.empty((c, kh, kw, n, h_out, w_out), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            window = padded[:, :, i : i + sh * h_out : sh, j : j + sw * w_out : sw]
            cols[:, i, j] = window.transpose(1, 0, 2, 3)  # (N, C, ...) -> (C, N, ...)
    return cols.reshape(c * kh * kw, n * h_out * w_out)
    ### END SOLUTION


# %% [markdown]
# **Test: im2col.** The 4×4 example's matrix entry by entry; the convolution as
# `weight.reshape(O, -1) @ cols` against your loops for several strides and paddings
# (this is the whole point of the layout); and zeros where windows cover the padding.


# %% nbgrader={"grade": true, "grade_id": "test-im2col", "locked": true, "points": 15, "schema_version": 3}
def test_im2col():
    x = np.array([[1, 2, 0, 1], [0, 1, 3, 1], [2, 1, 0, 0], [1, 0, 1, 2]], dtype=float)
    cols = im2col(x[None, None], 2)
    expected = np.array(
        [
            [1, 2, 0, 0, 1, 3, 2, 1, 0],
            [2, 0, 1, 1, 3, 1, 1, 0, 0],
            [0, 1, 3, 2, 1, 0, 1, 0, 1],
            [1, 3, 1, 1, 0, 0, 0, 1, 2],
        ]
    )
    assert cols.shape == (4, 9), (
        f"1 channel, 2x2 kernel, 9 positions: shape (4, 9), got {cols.shape}"
    )
    assert np.array_equal(cols, expected), f"the worked example: expected\n{expected}\ngot\n{cols}"
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(5, 3, 3, 2))
    for stride, padding in [(1, 0), (1, 1), (2, 0), (2, 2), ((2, 1), (0, 1))]:
        cols = im2col(x, (3, 2), stride, padding)
        direct = conv2d_naive(x, w, None, stride, padding)
        n, o, h_out, w_out = direct.shape
        assert cols.shape == (3 * 3 * 2, n * h_out * w_out), (
            f"stride {stride}, padding {padding}: shape {cols.shape}"
        )
        product = (w.reshape(5, -1) @ cols).reshape(o, n, h_out, w_out).transpose(1, 0, 2, 3)
        assert np.allclose(product, direct), (
            f"stride {stride}, padding {padding}: W2 @ cols differs from the loops"
        )
    padded = im2col(np.ones((1, 1, 2, 2)), 3, padding=1)
    assert padded.shape == (9, 4) and padded.sum() == 16, (
        f"each of the 4 windows holds all 4 pixels, got sum {padded.sum()}"
    )
    assert im2col(np.ones((1, 1, 4, 4), dtype=np.float32), 2).dtype == np.float32, (
        "keep the input's dtype"
    )
    try:
        im2col(np.ones((1, 1, 2, 2)), 3)
    except ValueError:
        pass
    else:
        raise AssertionError("a 3x3 kernel on a 2x2 input without padding must raise ValueError")


if __name__ == "__main__":
    test_im2col()

# %% [markdown]
# ## 3. col2im: the way back
#
# The backward pass needs the gradient with respect to x. The forward pass copied each pixel
# into every column whose window covers it, so (chain rule, "a value used several times
# receives the sum of its gradients") the pixel's gradient is the **sum** of the gradients of
# all those copies. `col2im` does exactly that: it takes a matrix shaped like `cols` and adds
# every entry back onto the pixel it was copied from. (In linear-algebra terms it is the
# transpose, or adjoint, of im2col: `⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩` for any x and c.)
#
# Fed a matrix of ones, col2im counts how many windows cover each pixel. For the 4×4 image
# and a 2×2 kernel with stride 1:
#
# ```
# 1 2 2 1      corners are in one window, edges in two,
# 2 4 4 2      the inner pixels in four
# 2 4 4 2
# 1 2 2 1
# ```
#
# Same loop as im2col, run backwards: for each kernel offset (i, j), **add** the slice
# `cols[:, i, j]` (transposed back to `(N, C, H_out, W_out)`) into the strided slice of a
# zero-filled padded image, then cut the padding off. Within one offset the slice's pixels
# are all different, so `+=` on the slice is safe; the overlaps come from different offsets,
# and the loop adds them one after another. (Assigning with `=` instead of `+=` would keep only
# the last window's gradient: the classic col2im bug.)
#
# **Specification.** `col2im(cols, input_shape, kernel_size, stride=1, padding=0)`:
# - `cols`: ndarray `(C·kH·kW, N·H_out·W_out)` in im2col's layout; `input_shape`: `(N, C, H, W)`.
# - Returns an ndarray of `input_shape` (and cols' dtype): every entry added to the pixel of x
#   it was copied from; entries that fell on the padding are dropped.


# %% nbgrader={"grade": false, "grade_id": "col2im", "locked": false, "schema_version": 3, "solution": true}
#| export
def col2im(cols: np.ndarray, input_shape: tuple, kernel_size, stride=1, padding=0) -> np.ndarray:
    """Adjoint of im2col: add every column entry back onto its pixel -> (N, C, H, W)."""
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding", minimum=0)
    ### BEGIN SOLUTION
    n, c, h, w = input_shape
    h_out, w_out = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    windows = cols.reshape(c, kh, kw, n, h_out, w_out)
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            target = padded[:, :, i : i + sh * h_out : sh, j : j + sw * w_out : sw]
            target += windows[:, i, j].transpose(1, 0, 2, 3)  # +=: overlapping windows add up
    return padded[:, :, ph : ph + h, pw : pw + w]
    ### END SOLUTION


# %% [markdown]
# **Test: col2im.** The coverage counts above; the adjoint identity
# `⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩` for random x and c over strides, paddings and
# non-square kernels (it fails if a single window is dropped or counted twice).


# %% nbgrader={"grade": true, "grade_id": "test-col2im", "locked": true, "points": 10, "schema_version": 3}
def test_col2im():
    counts = col2im(np.ones((4, 9)), (1, 1, 4, 4), 2)[0, 0]
    expected = np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])
    assert np.array_equal(counts, expected), (
        f"windows covering each pixel: expected\n{expected}\ngot\n{counts}"
    )
    rng = np.random.default_rng(2)
    shape = (2, 3, 6, 5)
    for kernel, stride, padding in [
        (3, 1, 0),
        (3, 1, 1),
        ((2, 3), 2, 1),
        (3, (2, 1), 2),
        (2, 2, 0),
    ]:
        x = rng.normal(size=shape)
        cols = im2col(x, kernel, stride, padding)
        c = rng.normal(size=cols.shape)
        back = col2im(c, shape, kernel, stride, padding)
        assert back.shape == shape, (
            f"col2im must return the input's shape {shape}, got {back.shape}"
        )
        left, right = np.sum(cols * c), np.sum(x * back)
        assert np.isclose(left, right), (
            f"kernel {kernel}, stride {stride}, padding {padding}: <im2col(x), c> = {left:.6f} but <x, col2im(c)> = {right:.6f}"
        )


if __name__ == "__main__":
    test_col2im()

# %% [markdown]
# ## 4. The convolution as one graph op
#
# Forward, with `cols = im2col(x)` and `W2 = weight.reshape(O, C·kH·kW)`:
#
# ```
# out2 = W2 @ cols + b[:, None]          (O, N·H_out·W_out)
# out  = out2.reshape(O, N, H_out, W_out).transpose(1, 0, 2, 3)      (N, O, H_out, W_out)
# ```
#
# Backward is module 05's matmul rule plus the reshapes undone. With `g` = dL/d(out), first
# bring it into out2's layout, `g2 = g.transpose(1, 0, 2, 3).reshape(O, −1)`; then
#
# ```
# dL/dW2   = g2 @ colsᵀ           -> reshape to weight.shape (O, C, kH, kW)
# dL/db    = g2.sum(axis=1)        every position used the same bias
# dL/dcols = W2ᵀ @ g2             (C·kH·kW, N·H_out·W_out)
# dL/dx    = col2im(dL/dcols)     each pixel collects the gradients of all its copies
# ```
#
# The weight gradient sums over every position (and every image): that is **parameter
# sharing** seen from the backward pass. A kernel entry's gradient is the sum of what it
# contributed everywhere it was used.
#
# Why one op and not `Tensor` operations (`reshape`, `@`, `+`)? The im2col copy is not a
# Tensor operation; writing the convolution as one node with its own rule keeps the graph
# to one node per layer and the backward pass to two matrix products and one col2im. It
# registers its rule exactly as LayerNorm (module 13) and the losses do: with
# `@gradient_rule("conv2d")` in module 05's table, so `loss.backward()` needs no change.
#
# The first layer's input (the images) never needs a gradient: the rule computes dL/dx only
# when `x.requires_grad`, and returns `None` otherwise (the engine skips `None`). That saves
# one matrix product and one col2im per step.
#
# **Specification.** `conv2d(x, weight, bias=None, stride=1, padding=0) -> Tensor`:
# - `x` (N, C, H, W), `weight` (O, C, kH, kW), `bias` (O,) or `None`: Tensors (the checks
#   of shapes are given).
# - Returns `Tensor.from_op(out, "conv2d", inputs, saved)` where `out` is `(N, O, H_out, W_out)`,
#   `inputs = (x, weight)` or `(x, weight, bias)` (bias last, only when given), and
#   `saved = (cols, (sh, sw), (ph, pw))`: the im2col matrix and the stride and padding pairs.
# - The rule `_conv2d_grad(g, out)` returns one gradient per input in the same order:
#   `(dx, dweight)` or `(dx, dweight, dbias)`, with `dx = None` when x needs no gradient.


# %% nbgrader={"grade": false, "grade_id": "conv2d-op", "locked": false, "schema_version": 3, "solution": true}
#| export
def _check_conv_inputs(x: Tensor, weight: Tensor, bias) -> None:
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(
            f"conv2d expects x (N, C, H, W) and weight (O, C, kH, kW), got {x.shape} and "
            f"{weight.shape}."
        )
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"conv2d: x has {x.shape[1]} channels but the weight expects {weight.shape[1]}."
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}.")


def conv2d(x: Tensor, weight: Tensor, bias=None, stride=1, padding=0) -> Tensor:
    """Convolution as one op: im2col, one matrix product, plus bias -> (N, O, H_out, W_out).

    Records Tensor.from_op(out, "conv2d", (x, weight[, bias]), (cols, stride, padding)).
    """
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding", minimum=0)
    _check_conv_inputs(x, weight, bias)
    ### BEGIN SOLUTION
    n, _, h, w = x.shape
    out_channels, _, kh, kw = weight.shape
    h_out = conv_output_size(h, kh, stride[0], padding[0])
    w_out = conv_output_size(w, kw, stride[1], padding[1])
    cols = im2col(x.data, (kh, kw), stride, padding)  # (C·kH·kW, N·H_out·W_out)
    out = weight.data.reshape(out_channels, -1) @ cols  # (O, N·H_out·W_out)
    if bias is not None:
        out += bias.data[:, None]
    out = out.reshape(out_channels, n, h_out, w_out).transpose(1, 0, 2, 3)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Tensor.from_op(out, "conv2d", inputs, (cols, stride, padding))
    ### END SOLUTION


@gradient_rule("conv2d")
def _conv2d_grad(g, out):
    """dL/dx = col2im(W2ᵀ @ g2) (None if x needs none), dL/dW = g2 @ colsᵀ, dL/db = Σ g2."""
    x, weight = out._inputs[0], out._inputs[1]
    cols, stride, padding = out._saved
    ### BEGIN SOLUTION
    out_channels = weight.shape[0]
    g2 = g.transpose(1, 0, 2, 3).reshape(out_channels, -1)  # (O, N·H_out·W_out)
    grad_weight = (g2 @ cols.T).reshape(weight.shape)
    grad_x = None
    if x.requires_grad:
        grad_cols = weight.data.reshape(out_channels, -1).T @ g2
        grad_x = col2im(grad_cols, x.shape, weight.shape[2:], stride, padding)
    if len(out._inputs) == 3:
        return grad_x, grad_weight, g2.sum(axis=1)
    return grad_x, grad_weight
    ### END SOLUTION


# %% [markdown]
# **Test: the op and its gradients.** Forward against your loops; the recorded op; then every
# gradient (x, weight, bias) against central finite differences in float64, for strides
# 1 and 2, paddings 0 to 2 and a non-square kernel. The loss weights each output by a
# different random number, so a gradient in the wrong place cannot hide behind a sum.


# %% nbgrader={"grade": true, "grade_id": "test-conv2d-op", "locked": true, "points": 20, "schema_version": 3}
def test_conv2d_op():
    rng = np.random.default_rng(3)
    x, w, b = rng.normal(size=(2, 2, 5, 6)), rng.normal(size=(3, 2, 3, 2)), rng.normal(size=3)
    for stride, padding in [(1, 0), (2, 1), (1, 2), ((2, 1), (1, 0))]:
        out = conv2d(
            Tensor(x, dtype=np.float64),
            Tensor(w, dtype=np.float64),
            Tensor(b, dtype=np.float64),
            stride,
            padding,
        )
        direct = conv2d_naive(x, w, b, stride, padding)
        assert out.shape == direct.shape, (
            f"stride {stride}, padding {padding}: shape {out.shape}, loops give {direct.shape}"
        )
        assert np.allclose(out.data, direct), (
            f"stride {stride}, padding {padding}: im2col and loops disagree"
        )
        weights = rng.normal(size=direct.shape)
        tensors = [Tensor(a, requires_grad=True, dtype=np.float64) for a in (x, w, b)]
        result = conv2d(*tensors, stride, padding)
        assert result._op == "conv2d" and len(result._inputs) == 3, (
            "record one 'conv2d' op with inputs (x, weight, bias)"
        )
        (result * Tensor(weights, dtype=np.float64)).sum().backward()
        for k, name in enumerate(("x", "weight", "bias")):

            def loss(value, k=k, stride=stride, padding=padding, weights=weights):
                # the im2col forward (checked above) is much faster than the loops
                arrays = [Tensor(a, dtype=np.float64) for a in (x, w, b)]
                arrays[k] = Tensor(value, dtype=np.float64)
                return float(np.sum(conv2d(*arrays, stride, padding).data * weights))

            expected = numerical_gradient(loss, [x, w, b][k].copy())
            error = np.abs(tensors[k].grad.data - expected).max()
            assert error < 1e-6, (
                f"d loss / d {name} (stride {stride}, padding {padding}) is off by {error:.2e}"
            )
    plain = conv2d(Tensor(x, dtype=np.float64), Tensor(w, requires_grad=True, dtype=np.float64))
    assert len(plain._inputs) == 2, "without a bias the inputs are (x, weight)"
    plain.sum().backward()
    assert plain._inputs[1].grad.shape == w.shape, "the weight gets a gradient of its own shape"
    assert (
        conv2d(Tensor(np.ones((1, 1, 3, 3))), Tensor(np.ones((1, 1, 2, 2)))).dtype == np.float32
    ), "float32 stays float32"
    ### BEGIN HIDDEN TESTS
    x1, w1 = rng.normal(size=(1, 3, 4, 4)), rng.normal(size=(2, 3, 2, 2))
    t = Tensor(x1, requires_grad=True, dtype=np.float64)
    conv2d(t, Tensor(w1, dtype=np.float64), None, 2, 1).sum().backward()
    expected = numerical_gradient(lambda v: float(conv2d_naive(v, w1, None, 2, 1).sum()), x1.copy())
    assert np.allclose(t.grad.data, expected, atol=1e-6), (
        "hidden: input gradient, stride 2, padding 1"
    )
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_conv2d_op()

# %% [markdown]
# ## 5. Measure: loops against im2col, on your code
#
# Both versions do the same arithmetic: `2·N·O·H_out·W_out·C·kH·kW` floating-point operations
# (one multiply and one add per kernel entry per output). The loops pay Python's overhead, a
# few microseconds, for every one of the `N·O·H_out·W_out` outputs; im2col pays it kH·kW
# times for the copy and once for the product. `compare_conv_speed` times both on the same
# input (median of a few runs, so one slow run does not decide) and checks that they agree.


# %%
def median_seconds(fn, repeats: int = 5) -> float:
    """The median wall-clock time of `repeats` calls of fn()."""
    import time

    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def compare_conv_speed(shape=(4, 3, 16, 16), out_channels: int = 8, kernel: int = 3) -> dict:
    """Time conv2d_naive and conv2d (im2col) on the same input; print and return the numbers."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32)
    w = rng.normal(size=(out_channels, shape[1], kernel, kernel)).astype(np.float32)
    loops = median_seconds(lambda: conv2d_naive(x, w), repeats=3)
    fast = median_seconds(lambda: conv2d(Tensor(x), Tensor(w)), repeats=7)
    agree = np.allclose(conv2d_naive(x, w), conv2d(Tensor(x), Tensor(w)).data, atol=1e-4)
    n, _, h, width = shape
    outputs = n * out_channels * (h - kernel + 1) * (width - kernel + 1)
    flops = 2 * outputs * shape[1] * kernel * kernel
    row = {
        "loops_ms": loops * 1e3,
        "im2col_ms": fast * 1e3,
        "speedup": loops / fast,
        "mflop": flops / 1e6,
        "agree": bool(agree),
    }
    print(
        f"conv {shape} * ({out_channels}, {shape[1]}, {kernel}, {kernel}): {flops / 1e6:.2f} MFLOP; "
        f"loops {row['loops_ms']:.1f} ms ({flops / loops / 1e9:.3f} GFLOP/s, "
        f"{loops / outputs * 1e6:.1f} us per output), im2col {row['im2col_ms']:.2f} ms "
        f"({flops / fast / 1e9:.2f} GFLOP/s): {row['speedup']:.0f}x faster, same values: {agree}"
    )
    return row


# %% [markdown]
# Typical runs on the course's 2-core machine: the loops take 18 to 40 ms (3 to 6 µs per
# output, the cost of slicing a window and one small `np.sum` call: about 0.01 GFLOP/s), the
# im2col version about 0.03 ms (about 10 GFLOP/s), several hundred to a thousand times
# faster. Both do the same 0.34 million floating-point operations; only the overhead per
# operation differs. The numbers move with the machine's load, which is why we take medians.

# %%
if __name__ == "__main__":
    compare_conv_speed()

# %% [markdown]
# ## 6. The layer: Conv2d
#
# `Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True)` holds
#
# - `weight`: `(out_channels, in_channels, kH, kW)`, float32, `requires_grad=True`;
# - `bias`: `(out_channels,)` (or `None` when `bias=False`).
#
# **Initialisation**, as `Linear` (module 03) and PyTorch: each output sums
# `fan_in = in_channels·kH·kW` products, so weights and bias are drawn from
# `uniform(−k, k)` with `k = 1/√fan_in`, weight first, then bias, from NumPy's global
# generator (`np.random.uniform`), so `np.random.seed` reproduces a model.
#
# **Parameter count**: `out·in·kH·kW + out`. It does not depend on the image size: the
# same kernel slides over every position (parameter sharing).
#
# `forward(x)` accepts a Tensor or anything `np.asarray` takes (integer images become the
# weight's dtype), requires `(N, in_channels, H, W)` (given check), and calls your `conv2d`.


# %% nbgrader={"grade": false, "grade_id": "conv2d-layer", "locked": false, "schema_version": 3, "solution": true}
#| export
def _as_float_images(x, dtype, layer: str) -> Tensor:
    """A Tensor of 4-D float images; integer data becomes `dtype`."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        x = Tensor(x.data, dtype=dtype)
    if x.ndim != 4:
        raise ValueError(f"{layer} expects images of shape (N, C, H, W), got {x.shape}.")
    return x


class Conv2d(Module):
    """2-D convolution: weight (out, in, kH, kW), bias (out,); (N, in, H, W) -> (N, out, H', W')."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        bias: bool = True,
    ):
        """weight (out, in, kH, kW) and bias (out,): float32 from uniform(±1/√(in·kH·kW))."""
        super().__init__()
        self.in_channels = _pair(in_channels, "in_channels")[0]
        self.out_channels = _pair(out_channels, "out_channels")[0]
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding", minimum=0)
        ### BEGIN SOLUTION
        kh, kw = self.kernel_size
        bound = 1.0 / math.sqrt(self.in_channels * kh * kw)
        shape = (self.out_channels, self.in_channels, kh, kw)
        weight = np.random.uniform(-bound, bound, shape)
        self.weight = Tensor(weight, requires_grad=True, dtype=np.float32)
        self.bias = None
        if bias:
            values = np.random.uniform(-bound, bound, self.out_channels)
            self.bias = Tensor(values, requires_grad=True, dtype=np.float32)
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        """(N, in_channels, H, W) -> (N, out_channels, H_out, W_out)."""
        x = _as_float_images(x, self.weight.dtype, "Conv2d")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2d({self.in_channels}, {self.out_channels}) expects {self.in_channels} "
                f"input channels, got {x.shape[1]} (input shape {x.shape})."
            )
        ### BEGIN SOLUTION
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)
        ### END SOLUTION

    def __repr__(self) -> str:
        return (
            f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None})"
        )


# %% [markdown]
# **Test: Conv2d.** Shapes and dtype of the parameters, the initialisation bound, the count
# `out·in·kH·kW + out`, a forward pass equal to your loops on the layer's own weights, "same"
# padding keeping the size, and a wrong number of channels rejected.


# %% nbgrader={"grade": true, "grade_id": "test-conv2d-layer", "locked": true, "points": 10, "schema_version": 3}
def test_conv2d_layer():
    np.random.seed(0)
    layer = Conv2d(3, 8, (3, 5), padding=(1, 2))
    assert layer.weight.shape == (8, 3, 3, 5) and layer.bias.shape == (8,), (
        f"weight (8, 3, 3, 5) and bias (8,), got {layer.weight.shape} and {layer.bias.shape}"
    )
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad, (
        "weights are float32 parameters"
    )
    bound = 1 / math.sqrt(3 * 3 * 5)
    assert (
        np.abs(layer.weight.data).max() <= bound and np.abs(layer.weight.data).max() > 0.8 * bound
    ), f"uniform(-1/sqrt(fan_in), +), bound {bound:.3f}"
    assert layer.num_parameters() == 8 * 3 * 3 * 5 + 8, (
        f"out*in*kH*kW + out = 368, got {layer.num_parameters()}"
    )
    np.random.seed(0)
    assert np.array_equal(Conv2d(3, 8, (3, 5)).weight.data, layer.weight.data), (
        "np.random.seed reproduces the weights"
    )
    x = np.random.default_rng(4).normal(size=(2, 3, 9, 10)).astype(np.float32)
    y = layer(x)
    assert y.shape == (2, 8, 9, 10), f"'same' padding keeps 9x10, got {y.shape}"
    expected = conv2d_naive(x, layer.weight.data, layer.bias.data, 1, (1, 2))
    assert np.allclose(y.data, expected, atol=1e-5), (
        "the layer computes conv2d with its weight and bias"
    )
    assert Conv2d(1, 2, 2, stride=2)(np.ones((1, 1, 6, 6), dtype=int)).shape == (1, 2, 3, 3), (
        "stride 2 halves, integer images work"
    )
    assert len(Conv2d(1, 2, 3, bias=False).parameters()) == 1, "bias=False: the weight only"
    try:
        layer(np.ones((1, 4, 9, 10)))
    except ValueError as error:
        assert "3" in str(error) and "4" in str(error), f"name both channel counts: {error}"
    else:
        raise AssertionError("4 channels into Conv2d(3, ...) must raise ValueError")


if __name__ == "__main__":
    test_conv2d_layer()

# %% [markdown]
# ## 7. Pooling
#
# A pooling layer summarises each window of each channel by one number, with no
# parameters: **max pooling** keeps the largest ("is the feature present anywhere in this
# window?"), **average pooling** the mean. With a 2×2 window and stride 2 it halves the
# height and width: the next convolution's 3×3 kernel then spans a 6×6 region of the
# feature map before the pooling, so later layers see more of the image for the same cost,
# and a shift of the input by one pixel often leaves the pooled output unchanged.
#
# ```
#        x                 max_pool2d(x, 2)        avg_pool2d(x, 2)
# 1  3 │ 2  0
# 4  2 │ 1  5               4   5                  2.5   2.0
# ─────┼─────
# 0  1 │ 3  3               2   3                  1.25  1.75
# 2  2 │ 1  0
# ```
#
# `stride` defaults to `kernel_size` (PyTorch's default: windows side by side). A smaller
# stride makes windows **overlap**.
#
# Pooling works per channel, so it reuses im2col: treat the channels as a batch dimension.
# `im2col(x, kernel, stride)` is `(C·kH·kW, N·H_out·W_out)`; reshaped to
# `(C, kH·kW, N, H_out, W_out)`, axis 1 runs over the kH·kW entries of each window (in row-major
# order: (0, 0), (0, 1), ..., (1, 0), ...).
#
# **Gradients.**
# - Average: every entry of a window gets `g / (kH·kW)`.
# - Max: the gradient goes to the entry that was the maximum, and nowhere else.
#
# **The tie rule.** When several entries of a window share the maximum (bottom row of the
# example: two 2s; bottom right: two 3s) the maximum is still one number, but which entry
# "was" it? Any choice is a valid subgradient. **PyTorch gives the whole gradient to one
# entry: the first maximum in row-major order within the window**, and so do we: `np.argmax`
# returns the first maximum along the window axis, and the window axis is in row-major order.
# (Module 05's `max` reduction shares the gradient equally between ties instead; both are
# correct, but only the same rule makes our gradients match PyTorch's exactly.) With the
# example above and `g = 1` everywhere, the gradient of max pooling is
#
# ```
# 0 0 0 0
# 1 0 0 1        4 and 5 are unique maxima; for the tied 2s the first, x[3, 0];
# 0 0 1 0        for the tied 3s the first, x[2, 2]
# 1 0 0 0
# ```
#
# **Overlapping windows.** With a 3×3 window and stride 1 a pixel can be the maximum of
# several windows; it then receives the gradient of every one of them. Building the
# gradient as a `cols`-shaped matrix and handing it to `col2im` does that adding for you.
#
# **Specification.**
# - `max_pool2d(x, kernel_size, stride=None) -> Tensor`: x a Tensor `(N, C, H, W)`; output
#   `(N, C, H_out, W_out)` (no padding). Record `Tensor.from_op(out, "max_pool2d", (x,),
#   (winner, (kH, kW), (sH, sW)))` where `winner` is the `(C, N, H_out, W_out)` array of
#   `argmax` positions (0 to kH·kW − 1) within each window.
# - `avg_pool2d(x, kernel_size, stride=None) -> Tensor`: same shapes; record
#   `Tensor.from_op(out, "avg_pool2d", (x,), ((kH, kW), (sH, sW)))`.
# - Their rules return `(dx,)`, dx of x's shape. Hint for max: fill a zero array shaped
#   `(C, kH·kW, N, H_out, W_out)` with `np.put_along_axis`, reshape it to cols' shape, `col2im`.


# %% nbgrader={"grade": false, "grade_id": "pooling", "locked": false, "schema_version": 3, "solution": true}
#| export
def _pool_geometry(x: Tensor, kernel_size, stride) -> tuple:
    """Kernel and stride pairs (stride defaults to the kernel) and the output size."""
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else _pair(stride, "stride")
    if x.ndim != 4:
        raise ValueError(f"Pooling expects images of shape (N, C, H, W), got {x.shape}.")
    h_out = conv_output_size(x.shape[2], kernel[0], stride[0])
    w_out = conv_output_size(x.shape[3], kernel[1], stride[1])
    return kernel, stride, h_out, w_out


def _pool_windows(x: Tensor, kernel, stride, h_out: int, w_out: int) -> np.ndarray:
    """(C, kH·kW, N, H_out, W_out): axis 1 runs over each window's entries, row-major."""
    n, c = x.shape[:2]
    return im2col(x.data, kernel, stride).reshape(c, kernel[0] * kernel[1], n, h_out, w_out)


def max_pool2d(x: Tensor, kernel_size, stride=None) -> Tensor:
    """The maximum of each window, per channel: (N, C, H, W) -> (N, C, H_out, W_out).

    Records Tensor.from_op(out, "max_pool2d", (x,), (winner, kernel, stride)).
    """
    x = as_tensor(x)
    kernel, stride, h_out, w_out = _pool_geometry(x, kernel_size, stride)
    ### BEGIN SOLUTION
    windows = _pool_windows(x, kernel, stride, h_out, w_out)
    winner = windows.argmax(axis=1)  # the first maximum: PyTorch's tie rule
    out = np.take_along_axis(windows, winner[:, None], axis=1)[:, 0]  # (C, N, H_out, W_out)
    return Tensor.from_op(out.transpose(1, 0, 2, 3), "max_pool2d", (x,), (winner, kernel, stride))
    ### END SOLUTION


@gradient_rule("max_pool2d")
def _max_pool2d_grad(g, out):
    """Each window's gradient goes to its (first) maximum; overlaps add up through col2im."""
    (x,), (winner, kernel, stride) = out._inputs, out._saved
    ### BEGIN SOLUTION
    c, n, h_out, w_out = winner.shape
    grad_windows = np.zeros((c, kernel[0] * kernel[1], n, h_out, w_out), dtype=g.dtype)
    np.put_along_axis(grad_windows, winner[:, None], g.transpose(1, 0, 2, 3)[:, None], axis=1)
    return (col2im(grad_windows.reshape(-1, n * h_out * w_out), x.shape, kernel, stride),)
    ### END SOLUTION


def avg_pool2d(x: Tensor, kernel_size, stride=None) -> Tensor:
    """The mean of each window, per channel: (N, C, H, W) -> (N, C, H_out, W_out).

    Records Tensor.from_op(out, "avg_pool2d", (x,), (kernel, stride)).
    """
    x = as_tensor(x)
    kernel, stride, h_out, w_out = _pool_geometry(x, kernel_size, stride)
    ### BEGIN SOLUTION
    out = _pool_windows(x, kernel, stride, h_out, w_out).mean(axis=1)  # (C, N, H_out, W_out)
    return Tensor.from_op(out.transpose(1, 0, 2, 3), "avg_pool2d", (x,), (kernel, stride))
    ### END SOLUTION


@gradient_rule("avg_pool2d")
def _avg_pool2d_grad(g, out):
    """Every entry of a window gets g / (kH·kW); overlaps add up through col2im."""
    (x,), (kernel, stride) = out._inputs, out._saved
    ### BEGIN SOLUTION
    n, c, h_out, w_out = g.shape
    share = g.transpose(1, 0, 2, 3)[:, None] / (kernel[0] * kernel[1])  # (C, 1, N, H', W')
    grad_windows = np.broadcast_to(share, (c, kernel[0] * kernel[1], n, h_out, w_out))
    return (col2im(grad_windows.reshape(-1, n * h_out * w_out), x.shape, kernel, stride),)
    ### END SOLUTION


class MaxPool2d(Module):
    """Max pooling over kernel_size windows; stride defaults to kernel_size."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")

    def forward(self, x) -> Tensor:
        return max_pool2d(
            _as_float_images(x, np.float32, "MaxPool2d"), self.kernel_size, self.stride
        )

    def __repr__(self) -> str:
        return f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride})"


class AvgPool2d(Module):
    """Average pooling over kernel_size windows; stride defaults to kernel_size."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")

    def forward(self, x) -> Tensor:
        return avg_pool2d(
            _as_float_images(x, np.float32, "AvgPool2d"), self.kernel_size, self.stride
        )

    def __repr__(self) -> str:
        return f"AvgPool2d(kernel_size={self.kernel_size}, stride={self.stride})"


# %% [markdown]
# **Test: pooling.** The worked example (values and the tie rule's gradient), a pixel that is
# the maximum of four overlapping windows (gradient 4), average pooling's values and its
# gradient counts, and finite differences for both pools with overlapping, non-square
# windows (on inputs without ties, where the max is differentiable).


# %% nbgrader={"grade": true, "grade_id": "test-pooling", "locked": true, "points": 20, "schema_version": 3}
def test_pooling():
    x = np.array([[1, 3, 2, 0], [4, 2, 1, 5], [0, 1, 3, 3], [2, 2, 1, 0]], dtype=float)
    t = Tensor(x[None, None], requires_grad=True, dtype=np.float64)
    out = max_pool2d(t, 2)
    assert np.array_equal(out.data[0, 0], [[4, 5], [2, 3]]), (
        f"max of each 2x2 window: [[4, 5], [2, 3]], got {out.data[0, 0]}"
    )
    assert out._op == "max_pool2d", "record one 'max_pool2d' op"
    out.sum().backward()
    expected = np.array([[0, 0, 0, 0], [1, 0, 0, 1], [0, 0, 1, 0], [1, 0, 0, 0]])
    assert np.array_equal(t.grad.data[0, 0], expected), (
        f"ties: the gradient goes to the first maximum in row-major order; expected\n{expected}\ngot\n{t.grad.data[0, 0]}"
    )
    avg = avg_pool2d(Tensor(x[None, None]), 2)
    assert np.allclose(avg.data[0, 0], [[2.5, 2.0], [1.25, 1.75]]), (
        f"mean of each window, got {avg.data[0, 0]}"
    )

    big = np.zeros((1, 1, 4, 4))
    big[0, 0, 1, 1] = 9.0
    peak = Tensor(big, requires_grad=True, dtype=np.float64)
    max_pool2d(peak, 3, stride=1).sum().backward()
    assert peak.grad.data[0, 0, 1, 1] == 4.0, (
        f"x[1, 1] is the maximum of all four overlapping windows: gradient 4, got {peak.grad.data[0, 0, 1, 1]}"
    )
    ones = Tensor(np.ones((1, 1, 4, 4)), requires_grad=True, dtype=np.float64)
    avg_pool2d(ones, 3, 1).sum().backward()
    counts = np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]) / 9
    assert np.allclose(ones.grad.data[0, 0], counts), (
        f"each window passes 1/9 to each of its pixels; expected\n{counts}\ngot\n{ones.grad.data[0, 0]}"
    )

    rng = np.random.default_rng(5)
    x = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 10.0  # distinct values: no ties
    weights = rng.normal(size=(2, 3, 3, 5))
    for pool in (max_pool2d, avg_pool2d):
        t = Tensor(x, requires_grad=True, dtype=np.float64)
        (pool(t, (3, 2), (2, 1)) * Tensor(weights, dtype=np.float64)).sum().backward()

        def loss(value, pool=pool):
            return float(
                (pool(Tensor(value, dtype=np.float64), (3, 2), (2, 1)).data * weights).sum()
            )

        error = np.abs(t.grad.data - numerical_gradient(loss, x.copy())).max()
        assert error < 1e-6, (
            f"{pool.__name__}: gradient differs from finite differences by {error:.2e}"
        )
    assert MaxPool2d(2)(np.ones((2, 3, 6, 6))).shape == (2, 3, 3, 3), (
        "MaxPool2d(2) halves height and width"
    )
    assert AvgPool2d(3, stride=1)(np.ones((1, 1, 5, 5))).shape == (1, 1, 3, 3), "stride 1 overlaps"
    assert MaxPool2d(2).parameters() == [], "pooling has no parameters"
    ### BEGIN HIDDEN TESTS
    tied = Tensor(np.ones((1, 1, 2, 2)), requires_grad=True, dtype=np.float64)
    max_pool2d(tied, 2).sum().backward()
    assert np.array_equal(tied.grad.data[0, 0], [[1, 0], [0, 0]]), (
        "hidden: all four tied, the first gets it"
    )
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_pooling()

# %% [markdown]
# ## 8. Flatten, and a whole CNN
#
# Convolutions and pooling keep the image's shape; a classifier's last layer is a `Linear`
# that wants one vector per image. `Flatten()` keeps the batch dimension and flattens the
# rest: `(N, C, H, W) -> (N, C·H·W)`, recorded as the ordinary `reshape` op (module 05 already
# has its rule). With it, a LeNet-style network is a `Sequential`:
#
# ```
# (N, 1, 16, 16) ─ Conv2d(1, 8, 3, padding=1) ─ ReLU ─ MaxPool2d(2) ─► (N, 8, 8, 8)
#                ─ Conv2d(8, 16, 3, padding=1) ─ ReLU ─ MaxPool2d(2) ─► (N, 16, 4, 4)
#                ─ Flatten ─► (N, 256) ─ Linear(256, 10) ─► logits (N, 10)
# ```
#
# **Specification.** `Flatten().forward(x)`: x a Tensor (or array-like) with at least one
# dimension; returns `x.reshape(N, -1)`, a Tensor `(N, product of the other dimensions)`.


# %% nbgrader={"grade": false, "grade_id": "flatten", "locked": false, "schema_version": 3, "solution": true}
#| export
class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1·d2·...): keep the batch dimension, flatten the rest."""

    def forward(self, x) -> Tensor:
        """A 'reshape' op to (N, -1)."""
        x = as_tensor(x)
        ### BEGIN SOLUTION
        return x.reshape(x.shape[0], -1)
        ### END SOLUTION

    def __repr__(self) -> str:
        return "Flatten()"


# %% [markdown]
# **Test: a small CNN learns.** Flatten's shape and op; the LeNet-style model above: its
# output shape, its parameter count, and ten Adam-free gradient steps on two tiny classes
# (a bright left half against a bright right half) that lower the loss and give every
# parameter a gradient.


# %% nbgrader={"grade": true, "grade_id": "test-flatten-cnn", "locked": true, "points": 5, "schema_version": 3}
def test_flatten_and_cnn():
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.losses import cross_entropy

    flat = Flatten()(Tensor(np.arange(24.0).reshape(2, 3, 2, 2), requires_grad=True))
    assert flat.shape == (2, 12) and flat._op == "reshape", (
        f"(2, 3, 2, 2) -> (2, 12) as a reshape, got {flat.shape}"
    )
    np.random.seed(0)
    model = Sequential(
        Conv2d(1, 8, 3, padding=1), ReLU(), MaxPool2d(2),
        Conv2d(8, 16, 3, padding=1), ReLU(), MaxPool2d(2),
        Flatten(), Linear(256, 2),
    )  # fmt: skip
    expected = (8 * 9 + 8) + (16 * 8 * 9 + 16) + (256 * 2 + 2)
    assert model.num_parameters() == expected, (
        f"parameters: {expected}, got {model.num_parameters()}"
    )
    rng = np.random.default_rng(6)
    images = rng.normal(scale=0.1, size=(16, 1, 16, 16)).astype(np.float32)
    labels = np.arange(16) % 2
    images[labels == 0, :, :, :8] += 1.0
    images[labels == 1, :, :, 8:] += 1.0
    assert model(images).shape == (16, 2), "logits (N, classes)"
    losses = []
    for _ in range(10):
        loss = cross_entropy(model(images), labels)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            assert p.grad is not None and p.grad.shape == p.shape, "every parameter gets a gradient"
            p.data -= 0.1 * p.grad.data
        losses.append(float(loss.data))
    assert losses[-1] < 0.5 * losses[0], (
        f"ten SGD steps should halve the loss, got {losses[0]:.3f} -> {losses[-1]:.3f}"
    )


if __name__ == "__main__":
    test_flatten_and_cnn()

# %% [markdown]
# ## 9. Receptive fields
#
# The **receptive field** of an output is the region of the input image it depends on. One
# 3×3 convolution: 3×3. Two stacked: an output sees 3×3 outputs of the first layer, each of
# which sees 3×3 pixels, shifted by one: 5×5. A 2×2 pooling with stride 2 makes each later
# step count double: the next 3×3 convolution adds 2·2 = 4 pixels instead of 2. In general,
# going through the layers in order with `r = 1` (one pixel sees itself) and `j = 1` (the
# distance in pixels between neighbouring outputs):
#
# ```
# r ← r + (k − 1)·j        j ← j·s           for each layer of kernel k and stride s
# ```
#
# For the CNN above (conv 3 s1, pool 2 s2, conv 3 s1, pool 2 s2): r = 1 → 3 → 4 → 8 → 10, and
# j = 1 → 1 → 2 → 2 → 4. Each of the final 4×4 positions sees a 10×10 patch of the 16×16
# image. A network must see the whole object in some layer before it can recognise it; deep
# networks reach large receptive fields by stacking small kernels and downsampling.
#
# **Specification.** `receptive_field(layers)`: `layers` is a list of `(kernel, stride)`
# pairs of ints (one axis); returns the receptive field `r` (an int) of one output of the
# last layer, by the recurrence above. An empty list returns 1.


# %% nbgrader={"grade": false, "grade_id": "receptive-field", "locked": false, "schema_version": 3, "solution": true}
#| export
def receptive_field(layers: list) -> int:
    """Receptive field of one output after `layers`, a list of (kernel, stride) per layer."""
    ### BEGIN SOLUTION
    field, jump = 1, 1
    for kernel, stride in layers:
        field += (kernel - 1) * jump
        jump *= stride
    return field
    ### END SOLUTION


# %% [markdown]
# **Test: receptive fields.** The numbers worked out above, and a deeper stack.


# %% nbgrader={"grade": true, "grade_id": "test-receptive-field", "locked": true, "points": 5, "schema_version": 3}
def test_receptive_field():
    assert receptive_field([]) == 1, "no layers: one pixel"
    assert receptive_field([(3, 1)]) == 3, "one 3x3 convolution sees 3 pixels"
    assert receptive_field([(3, 1), (3, 1)]) == 5, (
        f"two stacked 3x3: 5, got {receptive_field([(3, 1), (3, 1)])}"
    )
    lenet = [(3, 1), (2, 2), (3, 1), (2, 2)]
    assert receptive_field(lenet) == 10, f"conv, pool, conv, pool: 10, got {receptive_field(lenet)}"
    vgg = [(3, 1), (3, 1), (2, 2)] * 3
    assert receptive_field(vgg) == 36, f"three VGG stages: 36, got {receptive_field(vgg)}"


if __name__ == "__main__":
    test_receptive_field()

# %% [markdown]
# ## 10. Systems: what a convolution costs
#
# For a layer `Conv2d(C, O, k)` on N images of H×W (output H_out×W_out):
#
# | quantity | formula | why |
# |---|---|---|
# | parameters | O·C·k² + O | shared by every position |
# | forward FLOPs | 2·N·O·H_out·W_out·C·k² | one multiply-add per kernel entry per output |
# | backward FLOPs | about 2× forward | two matrix products (dW, dcols) plus col2im's adds |
# | im2col memory | C·k²·N·H_out·W_out numbers | every pixel copied into up to k² columns |
#
# The last row is im2col's price: with stride 1 and "same" padding the `cols` matrix is k²
# times the input (9× for 3×3, 25× for 5×5), and the graph keeps it alive until the backward
# pass. A `Linear` from the same input to the same output connects every output to every
# pixel: (C·H·W)·(O·H_out·W_out) weights. `analyze_conv_costs` prints these for a few layers
# and measures the memory im2col really allocates (`tracemalloc`, on your im2col).


# %%
def analyze_conv_costs(batch: int = 32) -> list[dict]:
    """Parameters, FLOPs and im2col memory per layer (formulas and a tracemalloc peak)."""
    import tracemalloc

    layers = [  # (in channels, out channels, kernel, image size), "same" padding, stride 1
        (1, 8, 3, 16),
        (8, 16, 3, 8),
        (3, 64, 3, 32),
        (3, 64, 5, 32),
    ]
    rows = []
    for c, o, k, size in layers:
        x = np.zeros((batch, c, size, size), dtype=np.float32)
        tracemalloc.start()
        im2col(x, k, 1, k // 2)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        params = o * c * k * k + o
        flops = 2 * batch * o * size * size * c * k * k
        linear = (c * size * size) * (o * size * size)
        row = {
            "layer": f"Conv2d({c}, {o}, {k}) on {size}x{size}",
            "params": params,
            "linear_params": linear,
            "mflop": flops / 1e6,
            "input_kib": x.nbytes / 1024,
            "im2col_kib": peak / 1024,
            "blowup": peak / x.nbytes,
        }
        rows.append(row)
        print(
            f"{row['layer']:26s} {params:6d} params (a Linear: {linear:11,d}), "
            f"{row['mflop']:7.1f} MFLOP fwd, input {row['input_kib']:7.0f} KiB, "
            f"im2col peak {row['im2col_kib']:7.0f} KiB ({row['blowup']:.1f}x)"
        )
    return rows


# %% [markdown]
# On a batch of 32, the first layer of a small CIFAR-style network, `Conv2d(3, 64, 3)` on
# 32×32 colour images, has 1,792 parameters (a Linear would need 201 million), costs about
# 113 MFLOP forward, and im2col's peak is about 3.9 MiB for a 0.4 MiB input, 10.1×: 9× for
# `cols` plus 1.1× for the zero-padded copy of the input (34×34 instead of 32×32) that is
# alive at the same time. With a 5×5 kernel the blow-up is about 26×. Production frameworks avoid materialising `cols`
# (implicit GEMM, Winograd, FFT), which is one reason PyTorch's convolution is faster than
# ours on large layers (see `benchmarks/conv.py`).

# %%
if __name__ == "__main__":
    analyze_conv_costs()

# %% [markdown]
# ## Reflect
#
# Answer in a few sentences each; numbers from your own runs above are welcome.

# %% [markdown]
# **Q1 (memory).** A `Conv2d(64, 64, 3, padding=1)` runs on a batch of 32 images of 56×56 in
# float32. How large is its input, and how large is the im2col matrix the graph keeps until the
# backward pass? What would you change to cut that memory, and what would it cost?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The input is 32·64·56·56 = 6.4 million numbers, 25.7 MB. With a 3×3 kernel, stride 1 and
# "same" padding, cols is (64·9, 32·56·56) = 576 × 100,352 = 57.8 million numbers, 231 MB:
# nine times the input, and the graph keeps it alive until the backward pass. To
# cut it: keep only x and recompute cols in the backward pass (memory of x, cost of a second
# im2col copy), or process the batch in chunks (smaller matrices, more Python overhead and
# smaller, less efficient products), or avoid materialising cols at all (implicit GEMM, as
# cuDNN and oneDNN do: the windows are read straight from x inside the product kernel).
# ### END SOLUTION

# %% [markdown]
# **Q2 (compute).** Your measurement compared loops and im2col for the same FLOPs. Where did
# the loop version's time go, and why does the im2col version get closer to the machine's
# peak? What part of the im2col version would dominate for a 1×1 convolution?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-compute", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The loops spend microseconds of interpreter and NumPy call overhead per output (slicing,
# a temporary product, np.sum) on a handful of multiply-adds: about 5 µs per output against
# nanoseconds of arithmetic, so well under 0.1 GFLOP/s. im2col pays that overhead only kH·kW
# times for the copies and once for a large matrix product, which BLAS runs with vector
# instructions and cache blocking at tens of GFLOP/s. For a 1×1 convolution there is no
# windowing to do: cols is just a transposed copy of the input and the product is small per
# element (2·C FLOPs per output), so the copy and the transposes (memory traffic) dominate;
# a 1×1 convolution is better written as a plain matmul over the channel axis without im2col.
# ### END SOLUTION

# %% [markdown]
# **Q3 (parameter sharing).** The weight gradient of a convolution is a sum over all
# positions and all images. What does that mean for how much one training image teaches a
# Conv2d compared with a Linear layer on the same pixels, and what does a CNN give up in
# exchange?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-sharing", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Every position of every image contributes to the same few kernel weights: a 16×16 image
# with "same" padding gives each 3×3 kernel 256 examples of "a 3×3 patch" per image, where
# a Linear weight connects one pixel to one output and learns from that one pair only. So a
# CNN needs far fewer images to learn a feature, and a feature learned at one position works
# at every other (translation equivariance). The price is an assumption built in: the same
# feature means the same thing everywhere, and each layer sees only a local window. Where
# position matters (the top of an image is sky) or long-range relations matter, the network
# must learn them through depth, pooling or a final Linear layer.
# ### END SOLUTION

# %% [markdown]
# **Q4 (what breaks).** Max pooling gives the whole gradient of a window to one entry. What
# happens to the gradient when a window is flat (all values equal, e.g. a zero region after
# ReLU), and why does matching PyTorch's tie rule matter for the tests but not for training?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-ties", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# In a flat window every entry ties, and the first one in row-major order (the top-left)
# receives the whole gradient while the others get none. After ReLU, all-zero windows are
# common, but there the gradient stops at the ReLU anyway (its slope is 0 for inputs <= 0),
# so nothing is learned from them whichever entry is picked; elsewhere exact ties between
# float activations are rare. Any choice is a valid subgradient (max is not differentiable
# at a tie), so training does not care. Tests do: an element-by-element comparison with
# PyTorch to 1e-8 passes only if both pick the same entry; sharing the gradient equally (as
# module 05's max does) is equally valid and would fail it.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 09_spatial.")
