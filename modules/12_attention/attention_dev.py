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
# # Module 12: Attention
#
# A language model predicts the next token from the ones before it. To do that, each position
# must gather information from other positions: "it" needs to know which noun it refers to.
# **Attention** lets every position look at every other position and take what it needs.
#
# Each position asks a **query** `q` ("what am I looking for?"), and every position offers a
# **key** `k` ("what do I contain?") and a **value** `v` ("what do I hand over?"). The answer
# for a query is an average of the values, weighted by how well the query matches each key:
#
# ```
# Attention(Q, K, V) = softmax(Q Kᵀ / √d) V
#
#    Q (T, d)   Kᵀ (d, S)        scores (T, S)     weights (T, S)      V (S, dv)    out (T, dv)
#   [q0 ...] @ [k0 k1 ... ]  =  q_t · k_s / √d  -> softmax per row  @  [v0 ...]  =  Σ_s w_ts v_s
# ```
#
# T queries, S keys (in self-attention both are the sequence, S = T). Each row of `weights`
# is a probability distribution over the keys, so each output row is a convex mix of values.
#
# **Why divide by √d.** If the entries of q and k are independent with variance 1, the dot
# product q·k is a sum of d such products: its variance is d. For d = 64 scores of ±8 and more
# are common, and the softmax of such scores is nearly one-hot: its gradient nearly vanishes,
# and learning stalls. Dividing by √d brings the scores back to variance 1.
#
# What you will write:
#
# 1. `causal_mask` and `mask_bias`: which scores are blocked, and what is added to them;
# 2. `scaled_dot_product_attention`: scores, mask, softmax, weighted sum;
# 3. `MultiHeadAttention`: the projections, the head split, the merge and the output
#    projection;
# 4. `attention_flops`, then measure attention's memory and time on your code.

# %% [markdown]
# ## A 4 x 4 example, by hand
#
# Four tokens with d = 4 (so √d = 2). Take Q = K = X and values of width 2 (values may have any
# width; 2 keeps the arithmetic short):
#
# ```
# X = Q = K = [[1,  1,  1,  1],      V = [[1, 0],
#              [1,  1, -1, -1],           [0, 1],
#              [1, -1,  1, -1],           [1, 1],
#              [1,  1,  1,  1]]           [0, 0]]
# ```
#
# **1. Scores** `Q Kᵀ / √d`: rows 0 and 3 are equal, the others are orthogonal, so every dot
# product is 4 or 0, divided by 2:
#
# ```
# scores = [[2, 0, 0, 2],
#           [0, 2, 0, 0],
#           [0, 0, 2, 0],
#           [2, 0, 0, 2]]
# ```
#
# **2. Mask.** A language model must not look at the future: position t may attend to
# positions 0..t only. The **causal mask** is True on and below the diagonal; a blocked score
# gets `MASKED = -1e9` added, so it becomes about -1e9:
#
# ```
# causal_mask(4)       masked scores
# [[T, F, F, F],       [[2,    -1e9, -1e9, -1e9],
#  [T, T, F, F],        [0,    2,    -1e9, -1e9],
#  [T, T, T, F],        [0,    0,    2,    -1e9],
#  [T, T, T, T]]        [2,    0,    0,    2   ]]
# ```
#
# **3. Softmax** of each row (e² = 7.389, e^-1e9 = 0):
#
# ```
# row 0: [e², 0, 0, 0] / e²                = [1,     0,     0,     0    ]
# row 1: [1, e², 0, 0] / (1 + e²)          = [0.119, 0.881, 0,     0    ]
# row 2: [1, 1, e², 0] / (2 + e²)          = [0.107, 0.107, 0.787, 0    ]
# row 3: [e², 1, 1, e²] / (2 + 2e²)        = [0.440, 0.060, 0.060, 0.440]
# ```
#
# **4. Weighted values** `weights @ V`:
#
# ```
# out 0 = 1 · [1, 0]                                          = [1,     0    ]
# out 1 = 0.119 · [1, 0] + 0.881 · [0, 1]                     = [0.119, 0.881]
# out 2 = 0.107 · [1, 0] + 0.107 · [0, 1] + 0.787 · [1, 1]    = [0.893, 0.893]
# out 3 = 0.440 · [1, 0] + 0.060 · [0, 1] + 0.060 · [1, 1]    = [0.500, 0.119]
# ```
#
# Without the mask, row 0 would be `[0.440, 0.060, 0.060, 0.440]` like row 3: position 0
# would copy from position 3, the future. A model trained that way learns to read the answer
# instead of predicting it.

# %%
#| default_exp core.attention
#| export
import math

import numpy as np

from tinytorch.core.activations import softmax
from tinytorch.core.layers import Linear, Module
from tinytorch.core.tensor import Tensor, as_tensor

MASKED = -1e9  # added to blocked scores: exp() of it is 0 in float32 and float64


# %% [markdown]
# ## 1. Masks: one convention, PyTorch's
#
# A mask says which (query, key) scores are allowed. We follow
# `torch.nn.functional.scaled_dot_product_attention` exactly, so code written for PyTorch
# works here:
#
# | mask dtype | meaning | what is added to the scores |
# |---|---|---|
# | boolean | True = may attend, False = blocked | 0 where True, `MASKED = -1e9` where False |
# | float | a bias *added* to the scores | the values themselves, with `-inf` raised to `MASKED` |
# | `None` | no mask: every query may attend to every key | nothing |
#
# So the upper-triangular `-inf` masks of many tutorials (`np.triu(np.full((T, T), -np.inf),
# 1)`) give the same weights as `causal_mask(T)`, and a float mask can also *favour* keys
# (adding `log 2` doubles a key's weight before normalising).
#
# **Shapes.** Scores have the shape `(batch, heads, T, S)` (or fewer leading dimensions). A
# mask must broadcast to it: a `(T, S)` mask applies to every batch row and head; a
# `(B, 1, 1, S)` mask blocks padding keys per batch row.
#
# **Why -1e9 and not -inf.** Look at a row where *every* key is blocked (a query that is
# itself padding, say). With -inf the softmax computes `exp(-inf - (-inf)) = exp(nan)`: the
# row is NaN, and NaN spreads through every later layer and the whole backward pass. With -1e9
# every score of the row is about -1e9; the softmax subtracts the row maximum, and the row
# stays finite. In float32 the small scores even vanish next to 1e9 (float32 numbers near 1e9
# are 64 apart), so the row is exactly uniform. In the example above, blocking all of row 0:
#
# ```
# row 0 scores [2 - 1e9, 0 - 1e9, 0 - 1e9, 2 - 1e9] = [-1e9, -1e9, -1e9, -1e9] in float32
# weights      [0.25, 0.25, 0.25, 0.25]         out 0 = mean of V = [0.5, 0.5]   (no NaN)
# ```
#
# That is why `mask_bias` raises a float mask's `-inf` to `MASKED` too.
#
# **What is refused**, each with a clear error, because each is a bug waiting to happen:
#
# - an integer mask (a 0/1 array): is 1 "may attend" or "add 1 to the score"? PyTorch refuses
#   it too, and the fix is one call, `mask.astype(bool)`;
# - a float mask holding NaN or `+inf` (it would turn the scores into NaN);
# - a mask whose shape does not broadcast to the scores (a mask built for another length).
#
# ### Specification
#
# - `causal_mask(length)`: a NumPy `(length, length)` **boolean** array, True on and below the
#   diagonal (`[t, s]` is True when `s <= t`). `np.tril` helps.
# - `mask_bias(mask, shape, dtype)`: what a mask adds to scores of shape `shape`, as an
#   ndarray of dtype `dtype` with the **mask's own shape** (it broadcasts when added).
#   `mask` may be a Tensor (use its `.data`), an ndarray or a nested list (`np.asarray`).
#   1. boolean: `np.where(mask, 0.0, MASKED)`;
#   2. floating (`mask.dtype.kind == "f"`): if it holds NaN or `+inf`, raise
#      `ValueError("A float attention mask may not hold NaN or +inf.")`; otherwise the values,
#      with everything below `MASKED` (that is, `-inf`) raised to `MASKED` (`np.maximum`);
#   3. anything else: raise `TypeError(f"An attention mask must be boolean (True = may attend)
#      or float (added to the scores), not {mask.dtype}; for a 0/1 mask pass
#      mask.astype(bool).")`;
#   4. then the shape: unless `np.broadcast_shapes(mask.shape, shape) == tuple(shape)` (and
#      `np.broadcast_shapes` raises ValueError when they do not broadcast at all), raise
#      `ValueError(f"An attention mask of shape {mask.shape} does not broadcast to the scores'
#      shape {tuple(shape)} (batch, heads, queries, keys).")`.
#
#   Example: `mask_bias(causal_mask(2), (1, 2, 2), np.float32)` is
#   `[[0, -1e9], [0, 0]]` (float32, shape (2, 2)).


# %% nbgrader={"grade": false, "grade_id": "masks", "locked": false, "schema_version": 3, "solution": true}
#| export
def causal_mask(length: int) -> np.ndarray:
    """(T, T) booleans, True on and below the diagonal: position t may attend to 0..t."""
    ### BEGIN SOLUTION
    return np.tril(np.ones((length, length), dtype=bool))
    ### END SOLUTION


def mask_bias(mask, shape: tuple, dtype) -> np.ndarray:
    """What a mask adds to scores of `shape`: 0 / MASKED for booleans, the values for floats.

    Returns an ndarray of `dtype` in the mask's own shape. Raises TypeError for any other
    dtype, ValueError for NaN / +inf in a float mask or a shape not broadcasting to `shape`.
    """
    ### BEGIN SOLUTION
    mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if mask.dtype == bool:
        bias = np.where(mask, 0.0, MASKED)
    elif mask.dtype.kind == "f":
        if np.isnan(mask).any() or np.isposinf(mask).any():
            raise ValueError("A float attention mask may not hold NaN or +inf.")
        bias = np.maximum(mask, MASKED)  # -inf becomes MASKED: a fully blocked row stays finite
    else:
        raise TypeError(
            f"An attention mask must be boolean (True = may attend) or float (added to the "
            f"scores), not {mask.dtype}; for a 0/1 mask pass mask.astype(bool)."
        )
    try:
        broadcast = np.broadcast_shapes(mask.shape, tuple(shape))
    except ValueError:
        broadcast = None
    if broadcast != tuple(shape):
        raise ValueError(
            f"An attention mask of shape {mask.shape} does not broadcast to the scores' shape "
            f"{tuple(shape)} (batch, heads, queries, keys)."
        )
    return bias.astype(dtype)
    ### END SOLUTION


# %% [markdown]
# **What this checks and why.** The causal mask of the example, then each row of the
# convention table: a boolean mask becomes 0 / -1e9, a float mask is kept (its -inf raised to
# -1e9), and the three kinds of wrong mask are refused with an error that says what to do.


# %% nbgrader={"grade": true, "grade_id": "test-masks", "locked": true, "points": 30, "schema_version": 3}
def test_masks():
    mask = causal_mask(4)
    expected = [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
    assert mask.dtype == bool, f"causal_mask gives booleans (True = may attend), not {mask.dtype}"
    assert np.array_equal(mask, np.array(expected, dtype=bool)), (
        f"causal_mask(4) is True on and below the diagonal, got\n{mask.astype(int)}"
    )
    bias = mask_bias(causal_mask(2), (1, 2, 2), np.float32)
    assert bias.dtype == np.float32 and bias.shape == (2, 2), (
        f"the bias has the mask's shape (2, 2) in the scores' dtype, got {bias.shape} {bias.dtype}"
    )
    assert np.array_equal(bias, np.array([[0, MASKED], [0, 0]], dtype=np.float32)), (
        f"True -> 0, False -> MASKED = -1e9; got {bias}"
    )
    floats = np.array([[0.0, -np.inf], [np.log(2.0), -3.0]])
    added = mask_bias(floats, (2, 2), np.float64)
    assert np.allclose(added, [[0.0, MASKED], [np.log(2.0), -3.0]]), (
        f"a float mask is kept as it is, with -inf raised to MASKED; got {added}"
    )
    wide = mask_bias(Tensor(np.ones((1, 5), dtype=bool)), (2, 3, 4, 5), np.float32)
    assert wide.shape == (1, 5) and not wide.any(), "a Tensor mask (1, S) broadcasts; all True: 0"
    refused = [
        (np.tril(np.ones((4, 4), dtype=int)), TypeError, "astype(bool)"),
        (np.full((4, 4), np.nan), ValueError, "NaN"),
        (np.full((4, 4), np.inf), ValueError, "+inf"),
        (np.ones((3, 3), dtype=bool), ValueError, "does not broadcast"),
        (np.ones((2, 4, 4), dtype=bool), ValueError, "(2, 4, 4)"),
    ]
    for bad, error, words in refused:
        try:
            mask_bias(bad, (1, 4, 4), np.float32)
        except error as raised:
            assert words in str(raised), f"the {error.__name__} should mention {words!r}: {raised}"
        else:
            raise AssertionError(
                f"a {bad.dtype} mask of shape {bad.shape} must raise {error.__name__} "
                f"for scores of shape (1, 4, 4)"
            )
    ### BEGIN HIDDEN TESTS
    assert np.array_equal(causal_mask(3), np.tril(np.ones((3, 3), dtype=bool))), "T = 3"
    assert causal_mask(1).tolist() == [[True]], "T = 1"
    keys = np.array([[[[True, True, False]]]])  # (1, 1, 1, 3): a padding mask on the keys
    padded = mask_bias(keys, (1, 2, 3, 3), np.float64)
    assert padded.shape == (1, 1, 1, 3) and padded[0, 0, 0, 2] == MASKED, f"got {padded}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_masks()


# %% [markdown]
# ## 2. Scaled dot-product attention
#
# ### Specification
#
# `scaled_dot_product_attention(Q, K, V, mask=None)` with `Q` of shape `(..., T, d)`, `K` of
# shape `(..., S, d)` and `V` of shape `(..., S, dv)` (the leading dimensions, such as batch
# and heads, match or broadcast). Array-likes are turned into Tensors for you (`as_tensor`).
#
# 1. `scores = (Q @ Kᵀ) * (1 / √d)`, shape `(..., T, S)`; `Kᵀ` is `K.transpose(-2, -1)` and
#    `d` is `Q.shape[-1]`;
# 2. if `mask` is not None: `scores = scores + mask_bias(mask, scores.shape, scores.dtype)`
#    (`mask=None` means **no mask**: every query sees every key, as in an encoder);
# 3. `weights = softmax(scores, axis=-1)` (module 02's stable softmax): each row sums to 1;
# 4. return the tuple `(weights @ V, weights)`: the output `(..., T, dv)` and the weights
#    `(..., T, S)`, both Tensors.
#
# Use Tensor operations only (`@`, `transpose`, `*`, `+`, `softmax`), never `.data`
# arithmetic: the gradient must reach Q, K and V through every step. The mask's bias is a
# constant, so adding it records an ordinary `+` whose gradient passes straight to the scores.
#
# Example: the 4 x 4 example above, with `causal_mask(4)`, returns the `out` and the weights
# written there.


# %% nbgrader={"grade": false, "grade_id": "sdpa", "locked": false, "schema_version": 3, "solution": true}
#| export
def scaled_dot_product_attention(Q: Tensor, K: Tensor, V: Tensor, mask=None):
    """softmax(Q Kᵀ / √d + bias) V; returns (output, attention weights).

    mask: None, booleans (True = may attend) or floats added to the scores, broadcastable to
    the scores (..., T, S), as in torch.nn.functional.scaled_dot_product_attention.
    """
    Q, K, V = as_tensor(Q), as_tensor(K), as_tensor(V)  # array-likes are welcome too
    ### BEGIN SOLUTION
    d = Q.shape[-1]
    scores = (Q @ K.transpose(-2, -1)) * (1.0 / math.sqrt(d))  # (..., T, S)
    if mask is not None:
        scores = scores + mask_bias(mask, scores.shape, scores.dtype)
    weights = softmax(scores, axis=-1)
    return weights @ V, weights
    ### END SOLUTION


# %% [markdown]
# **What this checks and why.** The worked example, number for number (scores, causal mask,
# softmax, weighted values), and the same example without a mask, where row 0 looks at the
# future. Then random inputs against a plain NumPy computation, a float `-inf` mask against
# the boolean one, a fully blocked row (uniform weights, no NaN, finite gradients), and the
# gradient reaching Q, K and V.


# %% nbgrader={"grade": true, "grade_id": "test-sdpa", "locked": true, "points": 35, "schema_version": 3}
def test_attention_weights_and_output():
    X = Tensor([[1.0, 1, 1, 1], [1, 1, -1, -1], [1, -1, 1, -1], [1, 1, 1, 1]])
    values = Tensor([[1.0, 0], [0, 1], [1, 1], [0, 0]])
    out, weights = scaled_dot_product_attention(X, X, values, causal_mask(4))
    expected_weights = [
        [1, 0, 0, 0],
        [0.119, 0.881, 0, 0],
        [0.107, 0.107, 0.787, 0],
        [0.440, 0.060, 0.060, 0.440],
    ]
    assert np.allclose(weights.data, expected_weights, atol=1e-3), (
        f"causal weights of the 4 x 4 example should be\n{np.array(expected_weights)}\n"
        f"got\n{np.round(weights.data, 3)}"
    )
    expected_out = [[1, 0], [0.119, 0.881], [0.893, 0.893], [0.500, 0.119]]
    assert out.shape == (4, 2), f"out has one row per query, width of V: (4, 2), got {out.shape}"
    assert np.allclose(out.data, expected_out, atol=1e-3), (
        f"out = weights @ V should be {expected_out}, got {np.round(out.data, 3)}"
    )
    _, unmasked = scaled_dot_product_attention(X, X, values)
    assert np.allclose(unmasked.data[0], [0.440, 0.060, 0.060, 0.440], atol=1e-3), (
        f"mask=None means no mask: row 0 then attends to position 3 too, got {unmasked.data[0]}"
    )

    rng = np.random.default_rng(0)
    Q, K, V = (Tensor(rng.normal(size=(2, 5, 8))) for _ in range(3))
    out, weights = scaled_dot_product_attention(Q, K, V)
    assert out.shape == (2, 5, 8) and weights.shape == (2, 5, 5), (
        f"out (2, 5, 8) and weights (2, 5, 5), got {out.shape} and {weights.shape}"
    )
    sums = weights.data.sum(-1)
    assert np.allclose(sums, 1.0, atol=1e-5), f"each row of weights sums to 1, got {sums}"
    scores = Q.data @ K.data.transpose(0, 2, 1) / np.sqrt(8)
    reference = np.exp(scores - scores.max(-1, keepdims=True))
    reference /= reference.sum(-1, keepdims=True)
    assert np.allclose(weights.data, reference, atol=1e-5), "weights = softmax(Q Kᵀ / √d)"
    assert np.allclose(out.data, reference @ V.data, atol=1e-5), "out = weights @ V"

    additive = np.triu(np.full((5, 5), -np.inf), 1)  # 0 on and below the diagonal, -inf above
    _, with_floats = scaled_dot_product_attention(Q, K, V, additive)
    _, with_bools = scaled_dot_product_attention(Q, K, V, causal_mask(5))
    assert np.allclose(with_floats.data, with_bools.data), "a float -inf mask = the boolean one"
    assert np.allclose(np.triu(with_bools.data[0], 1), 0.0), "no weight on the future"

    q = Tensor(rng.normal(size=(1, 4, 4)), requires_grad=True)
    blocked = np.ones((4, 4), dtype=bool)
    blocked[0] = False  # query 0 may attend to nothing
    out, weights = scaled_dot_product_attention(q, q, values, blocked)
    assert np.allclose(weights.data[0, 0], 0.25), (
        f"a fully blocked row (float32) gives uniform weights, got {weights.data[0, 0]}"
    )
    assert np.allclose(out.data[0, 0], [0.5, 0.5]), "and the plain mean of V: no NaN"
    out.sum().backward()
    assert np.isfinite(q.grad.data).all(), "gradients stay finite with a fully blocked row"
    assert np.abs(q.grad.data).sum() > 0, "the gradient reaches Q and K through the scores"
    ### BEGIN HIDDEN TESTS
    Y = Tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    _, w = scaled_dot_product_attention(Y, Y, Y, causal_mask(3))
    s = np.array([[2, 0, 2], [0, 2, 2], [2, 2, 4]]) * 2 / np.sqrt(2)
    s = np.where(causal_mask(3), s, -np.inf)
    ref = np.exp(s - s.max(-1, keepdims=True))
    assert np.allclose(w.data, ref / ref.sum(-1, keepdims=True), atol=1e-5), f"got {w.data}"
    heads = rng.normal(size=(2, 3, 4, 6))
    out, w = scaled_dot_product_attention(heads, heads, heads, causal_mask(4))
    assert out.shape == (2, 3, 4, 6) and w.shape == (2, 3, 4, 4), "4-D (B, H, T, d) inputs"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_attention_weights_and_output()


# %% [markdown]
# ## 3. Multi-head attention
#
# One attention mixes values with one set of weights per query. But a token may need several
# things at once: the subject of its verb, the previous word, the opening bracket. **Multi-head
# attention** runs H attentions side by side, each on its own `d_k = D / H` slice of the
# projected vectors, each with its own weights, and then mixes their results:
#
# ```
#              x (B, T, D)
#       ┌───────────┼───────────┐
#    q_proj       k_proj      v_proj          three Linear(D, D)
#       │           │           │
#   split_heads split_heads split_heads       (B, T, D) -> (B, H, T, d_k)
#       └───────────┼───────────┘
#   scaled_dot_product_attention(q, k, v, mask)   all H heads in one batched matmul
#                   │                             (B, H, T, d_k)
#              merge_heads                        (B, H, T, d_k) -> (B, T, D)
#                   │
#               out_proj                          Linear(D, D): mixes the heads
#                   │
#              out (B, T, D)
# ```
#
# ### The head split, shape by shape
#
# Take B = 1, T = 3 tokens, D = 4, H = 2 heads, so d_k = 2. Name the projected vector of token
# t `[a_t, b_t, c_t, d_t]`: head 0 owns the columns `a, b`, head 1 owns `c, d`.
#
# ```
# (B, T, D) = (1, 3, 4)          reshape(B, T, H, d_k)     (1, 3, 2, 2)
#   t0 [a0 b0 c0 d0]               t0 [[a0 b0], [c0 d0]]      each token: its H slices
#   t1 [a1 b1 c1 d1]      ->       t1 [[a1 b1], [c1 d1]]
#   t2 [a2 b2 c2 d2]               t2 [[a2 b2], [c2 d2]]
#
# permute(0, 2, 1, 3)  ->  (B, H, T, d_k) = (1, 2, 3, 2)
#   head 0: [[a0 b0], [a1 b1], [a2 b2]]     a (T, d_k) sequence per head: attention runs
#   head 1: [[c0 d0], [c1 d1], [c2 d2]]     on the last two axes, batched over (B, H)
# ```
#
# Why not reshape `(1, 3, 4)` straight to `(1, 2, 3, 2)`? Reshape reads the numbers in memory
# order, so "head 0" would be `[[a0 b0], [c0 d0], [a1 b1]]`: two slices of token 0 and one of
# token 1, a meaningless sequence. Split the *last* axis first, then move the head axis.
#
# **Merge** is the exact inverse: `permute(0, 2, 1, 3)` back to `(B, T, H, d_k)`, then
# `reshape(B, T, D)` puts each token's H slices side by side again: `[a0' b0' c0' d0']`, where
# `'` marks an attention output. Then `out_proj` mixes the heads. A permute is its own inverse
# here because it swaps two axes.
#
# Scaling: each head divides by `√d_k`, its own width (that is what
# `scaled_dot_product_attention` does with `Q.shape[-1]`).
#
# ### Specification
#
# `MultiHeadAttention(embed_dim, num_heads)`, a `Module`:
#
# - `__init__`: raise `ValueError(f"embed_dim {embed_dim} is not divisible by num_heads
#   {num_heads}.")` when `embed_dim % num_heads != 0`; store `embed_dim`, `num_heads`,
#   `head_dim = embed_dim // num_heads`; create `q_proj`, `k_proj`, `v_proj`, `out_proj`, each
#   `Linear(embed_dim, embed_dim)` (with bias). That is 8 parameters, in that order.
# - `split_heads(x)`: Tensor `(B, T, D)` to `(B, H, T, d_k)` (reshape, then permute).
# - `merge_heads(x)`: Tensor `(B, H, T, d_k)` to `(B, T, D)` (permute, then reshape), so
#   `merge_heads(split_heads(x))` equals `x`.
# - `forward(x, mask=None)`: `x` is a Tensor or array-like of shape `(B, T, D)`. Project x to
#   q, k, v; split each; run `scaled_dot_product_attention(q, k, v, mask)` once for all heads
#   (keep its output, drop its weights); merge; apply `out_proj`. **Returns one Tensor**, of
#   shape `(B, T, D)` (not the weights). `mask` goes unchanged to the attention, so it follows
#   section 1: `None` = every position sees every position (no causal masking!); a language
#   model passes `causal_mask(T)`, which broadcasts to `(B, H, T, T)`.
#
# Example: `MultiHeadAttention(16, 4)(np.zeros((2, 6, 16)))` has shape `(2, 6, 16)`, and with
# `mask=causal_mask(6)` changing token 5 changes only output 5.


# %% nbgrader={"grade": false, "grade_id": "mha", "locked": false, "schema_version": 3, "solution": true}
#| export
class MultiHeadAttention(Module):
    """num_heads attentions of width embed_dim // num_heads, computed in one batch."""

    def __init__(self, embed_dim: int, num_heads: int):
        """q_proj, k_proj, v_proj, out_proj: Linear(D, D); head_dim = D // H (else ValueError)."""
        super().__init__()
        ### BEGIN SOLUTION
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}.")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.q_proj = Linear(embed_dim, embed_dim)
        self.k_proj = Linear(embed_dim, embed_dim)
        self.v_proj = Linear(embed_dim, embed_dim)
        self.out_proj = Linear(embed_dim, embed_dim)
        ### END SOLUTION

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B, H, T, d_k): reshape to (B, T, H, d_k), then swap T and H."""
        ### BEGIN SOLUTION
        batch, length, _ = x.shape
        return x.reshape(batch, length, self.num_heads, self.head_dim).permute(0, 2, 1, 3)
        ### END SOLUTION

    def merge_heads(self, x: Tensor) -> Tensor:
        """(B, H, T, d_k) -> (B, T, D): swap H and T back, then reshape; undoes split_heads."""
        ### BEGIN SOLUTION
        batch, _, length, _ = x.shape
        return x.permute(0, 2, 1, 3).reshape(batch, length, self.embed_dim)
        ### END SOLUTION

    def forward(self, x, mask=None) -> Tensor:
        """out_proj(merge(attention(split(q_proj x), split(k_proj x), split(v_proj x), mask))).

        x (B, T, D) -> one Tensor (B, T, D). mask=None: no mask (every position sees every
        position); a language model passes causal_mask(T).
        """
        ### BEGIN SOLUTION
        x = as_tensor(x)
        q = self.split_heads(self.q_proj(x))  # (B, H, T, d_k)
        k = self.split_heads(self.k_proj(x))
        v = self.split_heads(self.v_proj(x))
        heads, _ = scaled_dot_product_attention(q, k, v, mask)  # (B, H, T, d_k)
        return self.out_proj(self.merge_heads(heads))  # (B, T, D)
        ### END SOLUTION


# %% [markdown]
# **What this checks and why.** The split against the shape walk (head 0 owns the first d_k
# columns of *every* token), merge as its inverse, and the whole forward against a plain NumPy
# computation with the same weights: this pins down the order of the steps and the output
# projection after the merge. Then causality: with the causal mask, changing the last token
# must leave every earlier output unchanged, and without a mask it must not.


# %% nbgrader={"grade": true, "grade_id": "test-mha", "locked": true, "points": 30, "schema_version": 3}
def _numpy_attention(x, layer, mask):
    """A plain NumPy multi-head attention with `layer`'s weights: the reference."""
    batch, length, dim = x.shape
    heads, d = layer.num_heads, layer.head_dim

    def project(linear):
        out = x @ linear.weight.data + linear.bias.data
        return out.reshape(batch, length, heads, d).transpose(0, 2, 1, 3)

    q, k, v = project(layer.q_proj), project(layer.k_proj), project(layer.v_proj)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    merged = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, length, dim)
    return merged @ layer.out_proj.weight.data + layer.out_proj.bias.data


def test_multi_head_attention():
    attention = MultiHeadAttention(embed_dim=4, num_heads=2)
    assert (attention.embed_dim, attention.num_heads, attention.head_dim) == (4, 2, 2), (
        "embed_dim 4 with 2 heads gives head_dim 2"
    )
    assert len(attention.parameters()) == 8, "4 projections (q, k, v, out), each weight and bias"
    assert attention.q_proj.weight.shape == (4, 4), "each projection is Linear(D, D)"
    tokens = Tensor(np.arange(12.0).reshape(1, 3, 4))  # token t = [4t, 4t+1, 4t+2, 4t+3]
    split = attention.split_heads(tokens)
    assert split.shape == (1, 2, 3, 2), f"(B, T, D) -> (B, H, T, d_k) = (1, 2, 3, 2): {split.shape}"
    assert np.array_equal(split.data[0, 0], [[0, 1], [4, 5], [8, 9]]), (
        f"head 0 holds columns 0-1 of every token, got {split.data[0, 0].tolist()}"
    )
    assert np.array_equal(split.data[0, 1], [[2, 3], [6, 7], [10, 11]]), (
        f"head 1 holds columns 2-3 of every token, got {split.data[0, 1].tolist()}"
    )
    merged = attention.merge_heads(split)
    assert merged.shape == (1, 3, 4) and np.array_equal(merged.data, tokens.data), (
        "merge_heads(split_heads(x)) must give x back"
    )

    rng = np.random.default_rng(1)
    attention = MultiHeadAttention(embed_dim=16, num_heads=4)
    x = rng.normal(size=(2, 6, 16))
    for mask in (causal_mask(6), None):
        out = attention(x, mask=mask)
        assert isinstance(out, Tensor) and out.shape == (2, 6, 16), (
            f"forward returns one Tensor of shape (B, T, D) = (2, 6, 16), got {type(out)}"
        )
        expected = _numpy_attention(x, attention, mask)
        assert np.allclose(out.data, expected, atol=1e-4), (
            f"forward (mask {'causal' if mask is not None else 'None'}) differs from "
            "project -> split -> attention -> merge -> out_proj; "
            f"largest difference {np.abs(out.data - expected).max():.2e}"
        )
    changed = x.copy()
    changed[:, -1] += 10.0  # change only the last position
    before, after = attention(x, causal_mask(6)), attention(changed, causal_mask(6))
    assert np.allclose(before.data[:, :-1], after.data[:, :-1], atol=1e-5), (
        "with the causal mask the past must ignore the future"
    )
    assert not np.allclose(before.data[:, -1], after.data[:, -1]), "the last output must change"
    open_before, open_after = attention(x), attention(changed)
    assert not np.allclose(open_before.data[:, 0], open_after.data[:, 0]), (
        "mask=None is no mask: position 0 sees the last token too"
    )
    loss = attention(Tensor(x, requires_grad=True), causal_mask(6)).sum()
    loss.backward()
    assert all(p.grad is not None for p in attention.parameters()), "all 8 parameters get a grad"
    try:
        MultiHeadAttention(10, 3)
    except ValueError as error:
        assert "10" in str(error) and "3" in str(error), f"name embed_dim and num_heads: {error}"
    else:
        raise AssertionError("MultiHeadAttention(10, 3) must raise: 10 does not split in 3 heads")
    ### BEGIN HIDDEN TESTS
    single = MultiHeadAttention(embed_dim=6, num_heads=3)
    y = rng.normal(size=(1, 5, 6))
    assert np.allclose(single(y).data, _numpy_attention(y, single, None), atol=1e-4), "H=3"
    split = single.split_heads(Tensor(np.arange(6.0).reshape(1, 1, 6)))
    assert split.data[0, :, 0].tolist() == [[0, 1], [2, 3], [4, 5]], f"got {split.data}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_multi_head_attention()


# %% [markdown]
# ## 4. Systems: what attention costs
#
# Count the multiply-adds of one `MultiHeadAttention` forward for x of shape `(B, T, D)` (one
# multiply-add is 2 FLOPs; a matmul `(m, k) @ (k, n)` costs `2 m k n`):
#
# | step | matmul | FLOPs |
# |---|---|---|
# | q, k, v, out projections | 4 x `(B·T, D) @ (D, D)` | `4 · 2·B·T·D²` |
# | scores `Q Kᵀ` | B·H x `(T, d_k) @ (d_k, T)` | `2·B·T²·D` (H·d_k = D) |
# | `weights @ V` | B·H x `(T, T) @ (T, d_k)` | `2·B·T²·D` |
#
# So `projections = 8·B·T·D²` and `attention = 4·B·T²·D`: their ratio is `T / (2D)`. For short
# sequences the projections dominate; past `T = 2D` the attention matrix does. The number of
# heads changes neither count (it only changes how the D columns are grouped), but it
# multiplies the **memory** of the weights: `B·H·T²` numbers, kept for the backward pass.
#
# **Specification.** `attention_flops(batch, length, embed_dim)` returns a dict
# `{"projections": 8·B·T·D², "attention": 4·B·T²·D}` of Python ints. Example:
# `attention_flops(1, 4, 2)` is `{"projections": 128, "attention": 128}` (T = 2D: equal).
# (An analysis tool of this module, not part of the package.)


# %% nbgrader={"grade": false, "grade_id": "attention-flops", "locked": false, "schema_version": 3, "solution": true}
def attention_flops(batch: int, length: int, embed_dim: int) -> dict:
    """FLOPs of one MultiHeadAttention forward: {"projections": 8BTD², "attention": 4BT²D}."""
    ### BEGIN SOLUTION
    projections = 4 * 2 * batch * length * embed_dim * embed_dim
    attention = 2 * (2 * batch * length * length * embed_dim)  # scores, then weights @ V
    return {"projections": projections, "attention": attention}
    ### END SOLUTION


# %% [markdown]
# **What this checks and why.** The counts against the table, and the crossover: at T = 2D the
# two parts cost the same, and doubling T doubles the projections but quadruples attention.


# %% nbgrader={"grade": true, "grade_id": "test-flops", "locked": true, "points": 5, "schema_version": 3}
def test_attention_flops():
    small = attention_flops(1, 4, 2)
    assert small == {"projections": 128, "attention": 128}, (
        f"B=1, T=4, D=2: 8·1·4·4 = 128 and 4·1·16·2 = 128, got {small}"
    )
    base, double = attention_flops(2, 256, 64), attention_flops(2, 512, 64)
    assert base["projections"] == 8 * 2 * 256 * 64 * 64, f"projections are 8·B·T·D², got {base}"
    assert double["attention"] == 4 * base["attention"], "doubling T quadruples attention"
    assert double["projections"] == 2 * base["projections"], "and doubles the projections"
    ### BEGIN HIDDEN TESTS
    other = attention_flops(3, 10, 5)
    assert other == {"projections": 6000, "attention": 6000}, f"T = 2D again, got {other}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_attention_flops()


# %% [markdown]
# ### Measured on your code
#
# `measure_attention` runs your `MultiHeadAttention` (with a causal mask, building the graph
# as in training) for a few sequence lengths and reports, per T: the `tracemalloc` peak of one
# forward pass, the bytes of the attention weights alone (`B·H·T²·4`), and the median time of
# the four projections against the rest (split, attention, merge). Read the peak column: it
# grows about 4x per doubling of T once the T² weights dominate.
#
# (The batch is 1 on purpose: small matmuls keep NumPy's BLAS on one thread. On a machine
# whose cores are busy, a multi-threaded BLAS can wait for its threads and a 0.1 ms matmul
# takes 50 ms: a good reason to look at a timing twice before believing it.)
#
# `analyze_attention_memory` (part of the package) does the same arithmetic for larger models
# without running them.

# %%
import time
import tracemalloc
from functools import partial


def _median_seconds(fn, runs: int = 5) -> float:
    """Median wall time of fn() in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _project_all(layer: MultiHeadAttention, x: Tensor) -> None:
    """The four projections of a forward pass, alone (out_proj applied to x: same cost)."""
    for projection in (layer.q_proj, layer.k_proj, layer.v_proj, layer.out_proj):
        projection(x)


def measure_attention(lengths=(64, 128, 256), batch: int = 1, embed_dim: int = 64, heads: int = 4):
    """Print and return (T, peak MiB, weights MiB, projection ms, attention ms) per length."""
    layer = MultiHeadAttention(embed_dim, heads)
    rng = np.random.default_rng(0)
    rows = []
    for length in lengths:
        x = Tensor(rng.normal(size=(batch, length, embed_dim)), requires_grad=True)
        mask = causal_mask(length)
        tracemalloc.start()
        out = layer(x, mask)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        del out
        projections = _median_seconds(partial(_project_all, layer, x))
        total = _median_seconds(partial(layer, x, mask))
        weights = batch * heads * length * length * 4 / 2**20
        attention_ms, projection_ms = (total - projections) * 1e3, projections * 1e3
        rows.append((length, peak, weights, projection_ms, attention_ms))
        print(
            f"T={length:4d}: peak {peak:6.2f} MiB (weights {weights:5.2f} MiB)  "
            f"projections {projection_ms:6.2f} ms  attention {attention_ms:6.2f} ms"
        )
    return rows


if __name__ == "__main__":
    measure_attention()


# %% [markdown]
# The same arithmetic for bigger models, in the package: one layer's attention weights for a
# batch, per sequence length.


# %%
#| export
def analyze_attention_memory(batch: int = 8, heads: int = 4, lengths=(16, 64, 256, 1024, 4096)):
    """Print and return the float32 MiB of one layer's attention weights per length."""
    rows = []
    for length in lengths:
        mebibytes = batch * heads * length * length * 4 / 2**20
        rows.append((length, mebibytes))
        print(f"T={length:5d}: attention weights {mebibytes:10.2f} MiB (B={batch}, H={heads})")
    return rows


if __name__ == "__main__":
    analyze_attention_memory()


# %% [markdown]
# ## Reflect
#
# Use the numbers your `measure_attention` and `analyze_attention_memory` printed.

# %% [markdown]
# **Q1 (memory).** By what factor did your measured peak grow from T = 128 to T = 256, and
# why not exactly 4? Using `analyze_attention_memory`, how much memory do one layer's
# attention weights take at T = 4096 (B = 8, H = 4), and for a 12-layer model in training?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Measured (B = 1, D = 64, H = 4): 0.46, 1.54 and 5.67 MiB at T = 64, 128, 256, so 3.3x and
# then 3.7x per doubling. Not exactly 4 because part of the peak is linear in T (the
# projections and outputs, B·T·D numbers each), while the scores, the masked scores, the exp
# and the weights are B·H·T² each: at T = 256 that is 262 k numbers per copy against 16 k, and
# the ratio tends to 4 as T grows. At T = 4096, B = 8, H = 4 one copy of the weights is
# 8·4·4096²·4 bytes = 2 GiB per layer; training keeps it (and the scores) for the backward pass
# in each of 12 layers: 24 GiB and more for the attention matrices alone. This is why
# FlashAttention never materialises the matrix: it computes the softmax block by block and
# recomputes it in the backward pass.
# ### END SOLUTION

# %% [markdown]
# **Q2 (compute).** With `attention_flops`, compare the projections and the attention for
# GPT-2 small (D = 768) at T = 1024, and for a tiny model (D = 64) at T = 1024. Which part
# dominates each, and what does your measured time split say for your small layer?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-flops", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The ratio attention / projections is T / (2D). GPT-2 small at T = 1024: 1024 / 1536 = 0.67,
# so the projections still cost more (per sequence 8·1024·768² = 4.8 GFLOP against
# 4·1024²·768 = 3.2 GFLOP). D = 64 at T = 1024: 1024 / 128 = 8, attention costs 8 times the
# projections. Measured on the small layer: projections 0.05, 0.07, 0.10 ms and attention
# 0.12, 0.31, 1.3 ms at T = 64, 128, 256. The attention time grows about 4x per doubling, as
# T² predicts, the projections less than 2x. But attention is slower already at T = 64, where
# it has only half the projections' FLOPs: its work is many small batched matmuls, a softmax,
# the mask and copies for the permutes, all far slower per FLOP than four large matmuls.
# ### END SOLUTION

# %% [markdown]
# **Q3 (what breaks).** A student trains a GPT but forgets to pass the causal mask, so
# `forward(x)` runs with `mask=None`. What happens to the training loss, and to generation?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-causal", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# `mask=None` means no mask: position t sees position t + 1, whose token is exactly its
# target. The model learns to copy it, so the training loss falls close to zero very fast,
# which looks like success. At generation time there is no future token to copy (the last
# position only sees the past), so the model has learned nothing useful and produces noise.
# The test that changing token t + 1 must not change output t catches it.
# ### END SOLUTION

# %% [markdown]
# **Q4 (numerics).** A batch pads short sequences, and a padding query's mask row blocks
# every key. What would a -inf mask do to that row, to the loss and to the gradients, and
# why does adding -1e9 avoid it? Would -1e9 be safe in float16 (largest value 65,504)?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-numerics", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# With -inf every score of the row is -inf; the stable softmax subtracts the row max (-inf),
# and -inf - (-inf) is NaN. The NaN row flows into the next layers, the loss becomes NaN, and
# backward spreads NaN into every parameter: one padded row ruins the step. With -1e9 the row
# is finite (uniform weights in float32), and since padding positions are ignored by the loss,
# the harmless average does no damage. In float16, -1e9 overflows to -inf and the NaN is back:
# half-precision code uses the dtype's own minimum (e.g. -65,504) or computes softmax in
# float32.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 12_attention.")
