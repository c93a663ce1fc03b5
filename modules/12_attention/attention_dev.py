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
# Attention lets every position look at every other position and take what it needs. Each
# position asks a **query** q; every position offers a **key** k and a **value** v. The answer
# is a weighted average of the values, weighted by how well the query matches each key:
#
# ```
# Attention(Q, K, V) = softmax(Q Kᵀ / √d) V        Q: (..., T, d)  K, V: (..., S, d)
#                                                  scores: (..., T, S)  out: (..., T, d)
# ```
#
# **Why √d.** For random q, k with unit-variance entries, q·k has variance d. Large scores
# push the softmax into a near one-hot regime where gradients vanish; dividing by √d keeps the
# scores at unit variance.
#
# **Masks: PyTorch's convention.** A mask is broadcastable to the scores `(batch, heads, T, S)`
# and comes in two kinds, exactly as in `torch.nn.functional.scaled_dot_product_attention`:
#
# - **boolean**: True = may attend, False = blocked;
# - **float**: *added* to the scores, so 0 keeps a score and `-inf` (or `-1e9`) blocks it:
#   the upper-triangular `-inf` masks of many tutorials work as they are.
#
# Blocked scores end up at a large negative number (MASKED = -1e9, also in place of `-inf`), so
# their weight becomes 0. We use -1e9 rather than -inf because a row where everything is
# blocked then gives a uniform average instead of 0/0 = NaN. Any other mask is refused with a
# clear error: an integer 0/1 mask (is 1 "attend" or "add 1"? PyTorch refuses it too: use
# `mask.astype(bool)`), and a mask whose shape does not broadcast to the scores. The **causal**
# mask of a language model is the lower triangle of booleans: position t sees 0..t, never the
# future.
#
# **Multi-head attention** runs H attentions of width d_k = D/H side by side, each free to
# look for something different. Splitting is a reshape `(B, T, D) -> (B, T, H, d_k)` and a
# permute to `(B, H, T, d_k)`: then one batched matmul computes all heads at once.

# %%
#| default_exp core.attention
#| export
import math

import numpy as np

from tinytorch.core.activations import softmax
from tinytorch.core.layers import Linear, Module
from tinytorch.core.tensor import Tensor, as_tensor

MASKED = -1e9  # added to blocked scores: exp() of it is 0 in float32 and float64


# %% nbgrader={"grade": false, "grade_id": "sdpa", "locked": false, "schema_version": 3, "solution": true}
#| export
def causal_mask(length: int) -> np.ndarray:
    """(T, T) booleans, True on and below the diagonal: position t may attend to 0..t."""
    return np.tril(np.ones((length, length), dtype=bool))


def mask_bias(mask, shape: tuple, dtype) -> np.ndarray:
    """What a mask adds to scores of `shape`: 0 / MASKED for booleans, the values for floats."""
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


# %% nbgrader={"grade": false, "grade_id": "mha", "locked": false, "schema_version": 3, "solution": true}
#| export
class MultiHeadAttention(Module):
    """num_heads attentions of width embed_dim // num_heads, computed in one batch."""

    def __init__(self, embed_dim: int, num_heads: int):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}.")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.q_proj = Linear(embed_dim, embed_dim)
        self.k_proj = Linear(embed_dim, embed_dim)
        self.v_proj = Linear(embed_dim, embed_dim)
        self.out_proj = Linear(embed_dim, embed_dim)

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B, H, T, d_k)."""
        batch, length, _ = x.shape
        return x.reshape(batch, length, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, mask=None) -> Tensor:
        x = as_tensor(x)
        batch, length, _ = x.shape
        ### BEGIN SOLUTION
        q = self.split_heads(self.q_proj(x))
        k = self.split_heads(self.k_proj(x))
        v = self.split_heads(self.v_proj(x))
        heads, _ = scaled_dot_product_attention(q, k, v, mask)  # (B, H, T, d_k)
        merged = heads.permute(0, 2, 1, 3).reshape(batch, length, self.embed_dim)
        return self.out_proj(merged)
        ### END SOLUTION


# %% [markdown]
# ## Systems analysis: attention is quadratic
#
# The weights tensor holds B·H·T² numbers, and training keeps it for the backward pass. Doubling
# the context quadruples that memory, which is why long contexts need tricks such as
# FlashAttention (never materialise the full matrix) and why generation caches keys and values.


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


# %% [markdown]
# ## Unit tests


# %% nbgrader={"grade": true, "grade_id": "test-sdpa", "locked": true, "points": 35, "schema_version": 3}
def test_attention_weights_and_output():
    np.random.seed(0)
    Q, K, V = (Tensor(np.random.randn(2, 5, 8)) for _ in range(3))
    out, weights = scaled_dot_product_attention(Q, K, V)
    assert out.shape == (2, 5, 8) and weights.shape == (2, 5, 5)
    assert np.allclose(weights.data.sum(-1), 1.0, atol=1e-6), "each row is a distribution"
    expected = weights.data @ V.data
    assert np.allclose(out.data, expected, atol=1e-5)
    scores = Q.data @ K.data.transpose(0, 2, 1) / np.sqrt(8)
    reference = np.exp(scores - scores.max(-1, keepdims=True))
    assert np.allclose(weights.data, reference / reference.sum(-1, keepdims=True), atol=1e-5)


# %% nbgrader={"grade": true, "grade_id": "test-masks", "locked": true, "points": 35, "schema_version": 3}
def test_masks():
    mask = causal_mask(4)
    assert mask.dtype == bool and mask[2, 2] and not mask[1, 3], "causal_mask: booleans, lower"
    Q = K = V = Tensor(np.random.randn(1, 4, 6))
    _, causal = scaled_dot_product_attention(Q, K, V, mask)
    assert np.allclose(np.triu(causal.data[0], 1), 0.0), "no weight on the future"
    additive = np.triu(np.full((4, 4), -np.inf), 1)  # 0 on and below the diagonal, -inf above
    _, with_floats = scaled_dot_product_attention(Q, K, V, additive)
    assert np.allclose(with_floats.data, causal.data), "a float mask is added: -inf blocks"
    for blocked in (np.zeros((4, 4), dtype=bool), np.full((4, 4), -np.inf)):
        out, _ = scaled_dot_product_attention(Q, K, V, blocked)
        assert not np.isnan(out.data).any(), "a fully blocked row must not give NaN"
    for bad in (mask.astype(int), np.ones((3, 3), dtype=bool)):
        try:
            scaled_dot_product_attention(Q, K, V, bad)
        except (TypeError, ValueError):
            pass
        else:
            raise AssertionError("an integer mask or a mask of the wrong shape must be refused")


# %% nbgrader={"grade": true, "grade_id": "test-mha", "locked": true, "points": 30, "schema_version": 3}
def test_multi_head_attention_is_causal():
    np.random.seed(1)
    attention = MultiHeadAttention(embed_dim=16, num_heads=4)
    assert len(attention.parameters()) == 8, "4 projections with weight and bias"
    x = np.random.randn(2, 6, 16)
    out = attention(x, mask=causal_mask(6))
    assert out.shape == (2, 6, 16)
    changed = x.copy()
    changed[:, -1] += 10.0  # change only the last position
    again = attention(changed, mask=causal_mask(6))
    assert np.allclose(out.data[:, :-1], again.data[:, :-1], atol=1e-5), (
        "the past ignores the future"
    )
    assert not np.allclose(out.data[:, -1], again.data[:, -1])
    try:
        MultiHeadAttention(10, 3)
    except ValueError:
        pass
    else:
        raise AssertionError("embed_dim must divide into heads")


# %%
if __name__ == "__main__":
    test_attention_weights_and_output()
    test_masks()
    test_multi_head_attention_is_causal()
    analyze_attention_memory()
    print("All tests passed for module 12_attention.")
