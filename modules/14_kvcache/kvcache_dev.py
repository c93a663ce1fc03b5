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
# # Module 14: KV cache
#
# `GPT.generate` (module 13) runs the whole context through the model for every new token,
# and you measured what that costs: the time per token grows with the length of the text.
# This module removes the waste. Under a causal mask, position i's key and value depend only
# on tokens 0..i, so once computed they never change: keep them in a **cache**, and each new
# token costs one position of work.
#
# ```
# prefill:  run the prompt (T tokens) once; store every layer's K and V, (B, H, T, d_k) each
# step:     run only the newest token: its q, k, v are (B, H, 1, d_k);
#           append k, v to the cache, attend q against all cached keys and values
# ```
#
# **You will learn**
# - to count the FLOPs of a generation step with and without a cache, and why the saving is
#   a factor of the context length;
# - the cache layout (preallocated arrays, a fill level) and its update;
# - attention for a chunk of new tokens against cached ones, with the right mask;
# - to prove the cache correct: the logits equal full recomputation, the tokens are identical;
# - what the cache costs in memory, and why the measured speed-up is smaller than the FLOPs
#   saving (and what module 16 does about it).

# %%
#| default_exp generation.kv_cache
#| export
import numpy as np

from tinytorch.core.attention import scaled_dot_product_attention
from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor
from tinytorch.models.transformer import _pick

# %% [markdown]
# ## 1. Why recomputation is wasteful: FLOPs per generated token
#
# Count the arithmetic of one generation step at context length t (the text so far, up to
# `max_seq_len`). A token passes through P weights in matmuls, one multiply and one add
# each, so 2·P FLOPs per position, with
#
# ```
# P = L · (4D² + 2·D·hidden) + D·V       attention's 4 projections, the MLP, the head
#   = L · 12D² + D·V                      for the usual hidden = 4D
# ```
#
# (embeddings are lookups, LayerNorm, GELU and the biases are a few D per position: left
# out). Attention adds, per layer, a query row against t keys (2·t·D) and the weighted sum of
# t values (2·t·D): 4·t·D per position and layer.
#
# ```
# without cache: recompute all t positions     2·P·t + 4·L·t²·D
# with cache:    only the newest position      2·P   + 4·L·t·D
# ```
#
# The ratio is **exactly t**: a step at context t does t times the necessary work.
#
# **Worked for TinyGPT** (V = 100, D = 32, L = 2, H = 4): P = 2·12·1024 + 32·100 = 27,776,
# so 2·P = 55,552 FLOPs per position and attention costs 4·2·32 = 256·t.
#
# ```
# context t = 100:  without cache  55,552·100 + 256·100² = 5,555,200 + 2,560,000 = 8,115,200
#                   with cache     55,552     + 256·100  =    55,552 +    25,600 =    81,152
# ```
#
# Generating 100 tokens after a 16-token prompt (contexts 16 .. 115): 495 MFLOP without a
# cache, 8.1 MFLOP with one (a 16-position prefill, then 99 single-position steps): 61× less
# arithmetic. Without a cache the total grows with the **square** of the text length; with
# one, linearly.
#
# ### Specification
#
# `step_flops(model, context, cached) -> int`: the FLOPs of one generation step of `model`
# (a GPT) at context length `context`, by the formulas above, with D = `model.embed_dim`,
# L = `model.num_layers`, V = `model.vocab_size` and hidden = `model.blocks[0].mlp.hidden_dim`.
# Example: `step_flops(GPT(), 100, cached=False) == 8_115_200` and
# `step_flops(GPT(), 100, cached=True) == 81_152`.


# %% nbgrader={"grade": false, "grade_id": "step-flops", "locked": false, "schema_version": 3, "solution": true}
def step_flops(model, context: int, cached: bool) -> int:
    """FLOPs of one step at `context`: 2·P·t + 4·L·t²·D without a cache, 2·P + 4·L·t·D with."""
    ### BEGIN SOLUTION
    dim, layers, vocab = model.embed_dim, model.num_layers, model.vocab_size
    hidden = model.blocks[0].mlp.hidden_dim
    weights = layers * (4 * dim * dim + 2 * dim * hidden) + dim * vocab  # P
    positions = 1 if cached else context
    return 2 * weights * positions + 4 * layers * positions * context * dim
    ### END SOLUTION


# %% [markdown]
# ### Test: FLOPs per step
#
# **What this checks and why.** The worked numbers for TinyGPT at t = 100, that the ratio
# is exactly t, and a model with a 2× MLP (hidden = 2D), so the count must read the real
# MLP width rather than assume 12D².


# %% nbgrader={"grade": true, "grade_id": "test-step-flops", "locked": true, "points": 5, "schema_version": 3}
def test_step_flops():
    from tinytorch.models.transformer import GPT

    model = GPT()
    full, cached = step_flops(model, 100, cached=False), step_flops(model, 100, cached=True)
    assert full == 8_115_200, f"TinyGPT at t = 100 without cache: 8,115,200 FLOPs, got {full:,}"
    assert cached == 81_152, f"TinyGPT at t = 100 with the cache: 81,152 FLOPs, got {cached:,}"
    for t in (1, 7, 64):
        ratio = step_flops(model, t, False) / step_flops(model, t, True)
        assert np.isclose(ratio, t), f"the saving at context {t} is exactly {t}x, got {ratio:.2f}"
    narrow = GPT(vocab_size=10, embed_dim=8, num_layers=1, num_heads=2, mlp_ratio=2)
    expected = 2 * (4 * 64 + 2 * 8 * 16 + 8 * 10) + 4 * 1 * 5 * 8
    got = step_flops(narrow, 5, cached=True)
    assert got == expected, f"hidden = 2D: P = 4D² + 2·D·16 + D·V, so {expected}, got {got}"


if __name__ == "__main__":
    test_step_flops()

# %% [markdown]
# ## 2. The cache: layout and update
#
# One pair of arrays per layer, **allocated once** at the largest size the model can use:
#
# ```
# keys[layer], values[layer]:  (B, H, max_seq_len, d_k)
#
#   position →   0    1    2    3    4    5   ...  max_seq_len−1
#               [k₀] [k₁] [k₂] [k₃] [  ] [  ] ... [  ]       length = 4
#                └──── filled ────┘  └──── free ────┘
#
# update(layer, k_new, v_new)   k_new, v_new: (B, H, T_new, d_k)
#   keys[layer][:, :, length : length + T_new] = k_new           (the same for values)
#   return keys[layer][:, :, : length + T_new], values[...]      every key so far: views
# advance(T_new)                 length += T_new, once every layer has stored its part
# ```
#
# Why preallocate: appending with `np.concatenate` at every step would copy the whole cache
# each time, t·(B·H·d_k) numbers at step t, which is quadratic again. Writing into a slice of
# an existing array copies only the new part, and the slice `[:, :, :end]` returned is a
# **view** (no copy). Why a separate `advance`: during one forward pass every layer writes
# its keys at the **same** positions `length .. length + T_new − 1`; the fill level may move
# only after the last layer.
#
# **Memory.** 2 (keys and values) · L · B · H · max_seq_len · d_k numbers. For TinyGPT
# (L = 2, H = 4, d_k = 8, max_seq_len 1,024) in float32: 2·2·4·1024·8·4 bytes = 512 KiB per
# sequence. For GPT-2 small (L = 12, H = 12, d_k = 64): 2·12·12·64·4 bytes = 72 KiB **per
# token**, 72 MiB for a 1,024-token context, per sequence in the batch.
#
# ### Specification
#
# `KVCache(num_layers, batch, num_heads, max_seq_len, head_dim, dtype=np.float32)`:
#
# - `__init__`: `self.keys` and `self.values`, each a list of `num_layers` zero arrays of
#   shape `(batch, num_heads, max_seq_len, head_dim)` and the given dtype; `self.max_seq_len`;
#   `self.length = 0`.
# - `update(layer, keys, values)`: `keys`, `values` are ndarrays `(B, H, T_new, d_k)`. Raise
#   `ValueError` with a message containing `"holds {max_seq_len} positions"` if
#   `length + T_new > max_seq_len`. Otherwise store them at positions
#   `length .. length + T_new − 1` of that layer and return the tuple
#   `(keys[layer][:, :, :end], values[layer][:, :, :end])`, end = length + T_new. Do **not**
#   change `length`.
# - `advance`, `clear` and `nbytes` are given.
#
# Example: a fresh cache with `max_seq_len=8`, `update(0, k, v)` with k of shape
# `(1, 4, 3, 4)` returns two arrays of shape `(1, 4, 3, 4)`; after `advance(3)`, an update
# with one more position returns `(1, 4, 4, 4)`.


# %% nbgrader={"grade": false, "grade_id": "kvcache", "locked": false, "schema_version": 3, "solution": true}
#| export
class KVCache:
    """Keys and values of every layer: arrays (B, H, max_seq_len, d_k), filled up to `length`."""

    def __init__(self, num_layers, batch, num_heads, max_seq_len, head_dim, dtype=np.float32):
        """Allocate num_layers zero arrays (batch, num_heads, max_seq_len, head_dim) for keys
        and for values; length = 0."""
        ### BEGIN SOLUTION
        shape = (batch, num_heads, max_seq_len, head_dim)
        self.keys = [np.zeros(shape, dtype=dtype) for _ in range(num_layers)]
        self.values = [np.zeros(shape, dtype=dtype) for _ in range(num_layers)]
        self.max_seq_len = max_seq_len
        self.length = 0  # positions stored (the same for every layer after a full step)
        ### END SOLUTION

    def update(self, layer: int, keys: np.ndarray, values: np.ndarray):
        """Store new (B, H, T_new, d_k) keys and values after the cached ones; return all.

        Returns views (B, H, length + T_new, d_k); length itself is not changed (advance()).
        ValueError ("The cache holds N positions; M needed.") past max_seq_len.
        """
        ### BEGIN SOLUTION
        start, new = self.length, keys.shape[2]
        end = start + new
        if end > self.max_seq_len:
            raise ValueError(f"The cache holds {self.max_seq_len} positions; {end} needed.")
        self.keys[layer][:, :, start:end] = keys
        self.values[layer][:, :, start:end] = values
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]
        ### END SOLUTION

    def advance(self, steps: int) -> None:
        """Move the fill level by `steps`, once every layer has stored its new positions."""
        self.length += steps

    def clear(self) -> None:
        """Forget every stored position (the arrays stay allocated for reuse)."""
        self.length = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by all key and value arrays (allocated, filled or not)."""
        return sum(a.nbytes for a in self.keys + self.values)


# %% [markdown]
# ### Test: the cache
#
# **What this checks and why.** The memory formula (preallocated: the bytes do not depend on
# how much is filled), that an update stores at the fill level and returns every key so far
# (after a prefill of 3 and one more position, 4 positions, the old ones first), that it
# leaves `length` alone, and that a full cache refuses more positions with a clear error
# instead of silently writing nothing (NumPy slices past the end are empty).


# %% nbgrader={"grade": true, "grade_id": "test-cache-memory", "locked": true, "points": 15, "schema_version": 3}
def test_cache_memory_and_limits():
    cache = KVCache(num_layers=2, batch=1, num_heads=4, max_seq_len=8, head_dim=4)
    expected = 2 * 2 * 4 * 8 * 4 * 4
    assert cache.nbytes == expected, (
        f"2 (K and V) x 2 layers x 4 heads x 8 positions x 4 dims x 4 bytes = {expected}, "
        f"got {cache.nbytes}"
    )
    assert cache.length == 0 and len(cache.keys) == 2, "a fresh cache: length 0, one per layer"
    first = np.arange(48, dtype=np.float32).reshape(1, 4, 3, 4)
    keys, values = cache.update(0, first, -first)
    assert keys.shape == (1, 4, 3, 4) and np.array_equal(keys, first), (
        f"the first update returns the 3 stored positions, got shape {keys.shape}"
    )
    assert np.array_equal(values, -first), "values are stored and returned like keys"
    assert cache.length == 0, "update must not move length: advance() does, after every layer"
    cache.advance(3)
    step = np.full((1, 4, 1, 4), 7.0, dtype=np.float32)
    keys, values = cache.update(0, step, step)
    assert keys.shape == (1, 4, 4, 4), f"3 cached + 1 new = 4 positions, got {keys.shape}"
    assert np.array_equal(keys[:, :, :3], first) and (keys[:, :, 3] == 7).all(), (
        "the old keys come first, the new one at position 3"
    )
    assert (cache.keys[1] == 0).all(), "layer 1 is untouched by updates of layer 0"
    full = np.ones((1, 4, 8, 4), dtype=np.float32)
    cache.clear()
    cache.update(0, full, full)
    cache.advance(8)
    try:
        cache.update(0, full[:, :, :1], full[:, :, :1])
    except ValueError as error:
        assert "holds 8 positions" in str(error), f"say how many positions fit, got: {error}"
    else:
        raise AssertionError("a full cache must refuse more positions")


if __name__ == "__main__":
    test_cache_memory_and_limits()

# %% [markdown]
# ## 3. Attention and the model with a cache
#
# ### Cached attention for a chunk
#
# A call brings T_new new positions (the whole prompt at prefill, one token per step
# afterwards, or any chunk in between). They sit at absolute positions
# `start .. start + T_new − 1`, with `start = cache.length`, and after the update the keys
# cover positions `0 .. start + T_new − 1`. The causal rule is unchanged: new position i
# (absolute start + i) may attend to keys `0 .. start + i`. Example, start = 3, T_new = 2:
#
# ```
#                    keys:  0  1  2  3  4         (0..2 cached, 3..4 new)
# query at position 3:      ✓  ✓  ✓  ✓  ·         mask row 0: columns ≤ 3
# query at position 4:      ✓  ✓  ✓  ✓  ✓         mask row 1: columns ≤ 4
#
# mask = np.arange(start + T_new)[None, :] <= (start + np.arange(T_new))[:, None]   (T_new, S)
# ```
#
# With one new token (the usual step) the mask is a single row of True: pass `mask=None`.
# With `start = 0` it is `causal_mask(T_new)`. The shapes of one layer:
#
# ```
# x (B, T_new, D) ─q_proj, k_proj, v_proj─► (B, T_new, D) each    the block's own Linears
#   ─split heads of .data: reshape (B, T_new, H, d_k), transpose (0, 2, 1, 3)─► (B, H, T_new, d_k)
# k, v ─cache.update(layer, k, v)─► keys, values (B, H, S, d_k), S = start + T_new
# scaled_dot_product_attention(Tensor(q), Tensor(keys), Tensor(values), mask)   module 12's
#   ─► (B, H, T_new, d_k) ─merge .data: transpose (0, 2, 1, 3), reshape (B, T_new, D)─►
#   out_proj(Tensor(merged)) ─► (B, T_new, D)
# ```
#
# This is module 12's `MultiHeadAttention.forward` with the keys and values taken from the
# cache instead of from x alone, and the arithmetic is done by the same code: the block's
# Linear layers and module 12's attention function. A model keeps **one definition**;
# the cache only changes which positions go through it.
#
# **Arrays between the modules.** Generation runs under `no_grad`: no graph is recorded and
# nothing flows back, so the cache holds plain arrays. The head split and merge are
# reshapes and transposes, free views on an array; on a `Tensor` each one builds a new
# `Tensor` through `from_op` (about a microsecond each, and a step has a dozen of them).
# So split `q_proj(x).data` etc. as arrays and wrap only what the next function takes:
# `Tensor(a, dtype=a.dtype)` (the dtype keeps a float64 model in float64).
#
# **A hook for other attention modules.** Module 16 replaces a block's attention by a
# `FusedAttention` with one merged Q/K/V projection and no `q_proj`. The given first lines of
# `attend_with_cache` therefore ask the module first: if it has a method
# `attend_cached(x, cache, layer)`, its result is returned. Such a method has this function's
# contract (store the new keys and values with `cache.update(layer, ...)`, do not advance,
# return `(B, T_new, D)`), computed its own way from its own weights; like every attention
# module it has `num_heads` and `head_dim`, which `new_cache` reads.
#
# ### Specification
#
# `attend_with_cache(attention, x, cache, layer) -> Tensor`: `attention` is a block's
# `MultiHeadAttention` (use its `q_proj`, `k_proj`, `v_proj`, `out_proj`, `num_heads`,
# `head_dim`), x a Tensor `(B, T_new, D)`. Store the new keys and values with
# `cache.update(layer, ...)` (do not call `advance`), attend as drawn above (mask None for
# T_new = 1, else the chunk mask), return `(B, T_new, D)`. For `start = 0` the result equals
# `attention(x, causal_mask(T_new))` (values; no gradient flows through this path).
#
# `forward_with_cache(model, ids, cache) -> Tensor`: `GPT.forward` for the new ids
# `(B, T_new)` only, logits `(B, T_new, V)`. The positions continue after the cache: the
# position embedding of the new tokens is rows `start .. start + T_new − 1` of
# `model.position_embedding.weight` (not rows 0..). Each block is
# `x = x + attend_with_cache(block.attention, block.ln1(x), cache, layer)`, then
# `x = x + block.mlp(block.ln2(x))`; then `ln_f`, `lm_head`. Call `cache.advance(T_new)`
# once, after the last block.
#
# `new_cache(model, batch=1) -> KVCache`: an empty cache for `model`: `len(model.blocks)`
# layers, `batch`, the attention's `num_heads`, `model.max_seq_len` positions, its
# `head_dim`, and the dtype of `model.token_embedding.weight` (float64 weights give a float64
# cache).


# %% nbgrader={"grade": false, "grade_id": "cached-attention", "locked": false, "schema_version": 3, "solution": true}
#| export
def attend_with_cache(attention, x: Tensor, cache: KVCache, layer: int) -> Tensor:
    """MultiHeadAttention.forward for new positions x (B, T_new, D), using and filling the cache.

    New position i (absolute cache.length + i) attends to cached and new keys 0 .. length + i.
    Calls cache.update(layer, k, v), not advance. Returns (B, T_new, D), values only (no
    graph through the cache). If `attention` has attend_cached(x, cache, layer), its result.
    """
    if hasattr(attention, "attend_cached"):  # given: a module with its own way (module 16)
        return attention.attend_cached(x, cache, layer)
    batch, new, dim = x.shape
    ### BEGIN SOLUTION
    heads, head_dim = attention.num_heads, attention.head_dim

    def split(t: Tensor) -> np.ndarray:  # (B, T_new, D) -> (B, H, T_new, d_k), a view
        return t.data.reshape(batch, new, heads, head_dim).transpose(0, 2, 1, 3)

    q = split(attention.q_proj(x))
    start = cache.length
    keys, values = cache.update(layer, split(attention.k_proj(x)), split(attention.v_proj(x)))
    mask = None  # one new token may see everything cached
    if new > 1:
        mask = np.arange(start + new)[None, :] <= (start + np.arange(new))[:, None]
    q, keys, values = (Tensor(a, dtype=a.dtype) for a in (q, keys, values))
    attended, _ = scaled_dot_product_attention(q, keys, values, mask)  # (B, H, T_new, d_k)
    merged = attended.data.transpose(0, 2, 1, 3).reshape(batch, new, dim)
    return attention.out_proj(Tensor(merged, dtype=merged.dtype))
    ### END SOLUTION


# %% [markdown]
# ### Test: cached attention
#
# **What this checks and why.** One layer's attention, fed in two chunks (positions 0-4,
# then 5-6) through an empty cache, against module 12's attention on all 7 positions with a
# causal mask: the rows must agree. The second chunk needs the mask with the offset `start`;
# a mask that starts at 0, or none, makes position 5 see position 6. Also what the cache
# holds afterwards: the keys of all 7 positions, and `length` still 0 (advancing is the
# model's job).


# %% nbgrader={"grade": true, "grade_id": "test-cached-attention", "locked": true, "points": 15, "schema_version": 3}
def test_cached_attention():
    from tinytorch.core.attention import MultiHeadAttention, causal_mask

    np.random.seed(5)
    attention = MultiHeadAttention(16, 4)
    x = np.random.default_rng(6).normal(size=(2, 7, 16))
    with no_grad():
        full = attention(x, causal_mask(7)).data
        cache = KVCache(1, 2, 4, 10, 4, dtype=np.float64)
        first = attend_with_cache(attention, Tensor(x[:, :5]), cache, 0)
        assert first.shape == (2, 5, 16), f"(B, T_new, D) = (2, 5, 16), got {first.shape}"
        assert np.allclose(first.data, full[:, :5], atol=1e-5), (
            "a prefill of 5 positions equals causal attention over those 5"
        )
        assert cache.length == 0, "attend_with_cache must not advance the cache"
        cache.advance(5)
        second = attend_with_cache(attention, Tensor(x[:, 5:]), cache, 0)
    assert np.allclose(second.data, full[:, 5:], atol=1e-5), (
        "a chunk of 2 after 5 cached positions: new position i sees keys 0 .. 5 + i; "
        f"largest difference {np.abs(second.data - full[:, 5:]).max():.3g}"
    )
    k_full = (x @ attention.k_proj.weight.data + attention.k_proj.bias.data).reshape(2, 7, 4, 4)
    assert np.allclose(cache.keys[0][:, :, :7], k_full.transpose(0, 2, 1, 3), atol=1e-5), (
        "the cache holds every position's key, split into heads (B, H, T, d_k)"
    )
    ### BEGIN HIDDEN TESTS
    with no_grad():
        cache = KVCache(1, 2, 4, 10, 4, dtype=np.float64)
        pieces = []
        for start, end in ((0, 1), (1, 4), (4, 5), (5, 7)):
            pieces.append(attend_with_cache(attention, Tensor(x[:, start:end]), cache, 0).data)
            cache.advance(end - start)
    assert np.allclose(np.concatenate(pieces, axis=1), full, atol=1e-5), "chunks 1, 3, 1, 2"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_cached_attention()

# %% [markdown]
# ### The model with a cache
#
# `forward_with_cache` and `new_cache` follow the specification above: the GPT forward pass
# of module 13, for the new positions only, with each block's attention replaced by
# `attend_with_cache` and the positions counted from `cache.length`.


# %% nbgrader={"grade": false, "grade_id": "cached-forward", "locked": false, "schema_version": 3, "solution": true}
#| export
def forward_with_cache(model, ids: np.ndarray, cache: KVCache) -> Tensor:
    """GPT.forward for the new ids (B, T_new) only; positions continue after the cache.

    Returns logits (B, T_new, V) and advances the cache by T_new (once, after every block).
    """
    start, new = cache.length, ids.shape[1]
    ### BEGIN SOLUTION
    positions = model.position_embedding.weight[start : start + new]  # rows start.., not 0..
    x = model.token_embedding(ids) + positions  # (B, T_new, D)
    for layer, block in enumerate(model.blocks):
        x = x + attend_with_cache(block.attention, block.ln1(x), cache, layer)
        x = x + block.mlp(block.ln2(x))
    cache.advance(new)
    return model.lm_head(model.ln_f(x))  # (B, T_new, V)
    ### END SOLUTION


def new_cache(model, batch: int = 1) -> KVCache:
    """An empty KVCache for `model`: its layers, heads, head_dim, max_seq_len and dtype."""
    ### BEGIN SOLUTION
    attention = model.blocks[0].attention
    return KVCache(
        len(model.blocks),
        batch,
        attention.num_heads,
        model.max_seq_len,
        attention.head_dim,
        model.token_embedding.weight.dtype,
    )
    ### END SOLUTION


# %% [markdown]
# ### Test: cached logits equal full recomputation
#
# **What this checks and why.** This is the correctness proof of the cache. The same 9 tokens
# go through `model(ids)` once, and through `forward_with_cache` as a prefill of 5 and then
# one token at a time; every position's logits must agree (float64, so only rounding
# differs: 1e-10). A wrong position offset, a missing mask in the prefill, or a cache that
# forgets a layer all change the logits.


# %% nbgrader={"grade": true, "grade_id": "test-cache-logits", "locked": true, "points": 20, "schema_version": 3}
def test_cached_forward_matches_full_forward():
    from tinytorch.models.transformer import GPT

    np.random.seed(0)
    model = GPT(vocab_size=30, embed_dim=16, num_layers=2, num_heads=4, max_seq_len=12)
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    ids = np.random.randint(0, 30, size=(2, 9))
    with no_grad():
        full = model(ids).data
        cache = new_cache(model, batch=2)
        assert cache.keys[0].shape == (2, 4, 12, 4) and len(cache.keys) == 2, (
            f"new_cache: 2 layers of (B, H, max_seq_len, d_k) = (2, 4, 12, 4), got "
            f"{len(cache.keys)} of {cache.keys[0].shape}"
        )
        assert cache.keys[0].dtype == np.float64, "the cache has the model's dtype"
        first = forward_with_cache(model, ids[:, :5], cache).data
        assert cache.length == 5, f"after a prefill of 5 the cache holds 5, got {cache.length}"
        rest = [forward_with_cache(model, ids[:, i : i + 1], cache).data for i in range(5, 9)]
    assert np.abs(first - full[:, :5]).max() < 1e-10, "the prefill equals the first 5 positions"
    steps = np.concatenate(rest, axis=1)
    assert np.abs(steps - full[:, 5:]).max() < 1e-10, (
        f"one token at a time equals full recomputation; largest difference "
        f"{np.abs(steps - full[:, 5:]).max():.3g} (positions must continue after the cache)"
    )
    assert cache.length == 9, f"9 positions stored, got {cache.length}"


if __name__ == "__main__":
    test_cached_forward_matches_full_forward()

# %% [markdown]
# ## 4. Generation with the cache
#
# The loop of module 13's `_generate_ids`, with the cache, under `no_grad`:
#
# ```
# prefill:  logits = forward_with_cache(model, ids[:, -max_seq_len:], cache).data  (B, T, V)
# repeat:   chosen = _pick(logits[:, -1], ...)           the same sampling as module 13
#           append chosen; stop when every row has stopped, or after max_new_tokens
#           logits = forward_with_cache(model, ids[:, -1:], cache).data            (B, 1, V)
# ```
#
# **The same tokens as without the cache.** The cache changes how the arithmetic is grouped,
# not what is computed, so greedy generation gives identical tokens, and sampling with the
# same `rng` too, because `_pick` draws one number per active row per step in both loops.
# (In float32 the logits agree to rounding, not bit for bit: a one-row product may round
# differently from the same row inside a T-row product. The tests compare the tokens.)
#
# **The same model.** Every step runs the model's own modules, so whatever the model is
# made of is what generates: weights trained a moment ago, another activation in the MLP,
# a layer without bias, or module 16's fused modules (through the `attend_cached` hook).
#
# **Past `max_seq_len`.** Positions stop at `max_seq_len`. When the cache is full, module 13's
# loop slides its window: the oldest token drops out and **every** remaining token moves one
# position down, so every cached key (computed at its old position, with its old context) is
# now wrong. From there, each step clears the cache and re-runs the cropped context
# `ids[:, -max_seq_len:]`, exactly what `_generate_ids` does (and as slow; real systems use
# position schemes such as RoPE with a rolling cache, or a longer context, to avoid it).
#
# **No forward after the last token.** The logits after the last chosen token are never
# used: stop the loop before computing them.
#
# ### Specification
#
# `generate_with_cache(model, prompt_tokens, max_new_tokens=50, temperature=1.0, top_k=None,
# stop_token=None, rng=None) -> Tensor` has `GPT.generate`'s contract (module 13): ids
# `(B, T + n)`, n ≤ `max_new_tokens`, stopped rows padded with `stop_token`, the loop ending
# when every row has stopped. The given code checks the prompt (`ids`, int64 `(B, T)`),
# sets `stopped`, `rng`, eval mode and `no_grad()`. You write the loop:
#
# 1. `cache = new_cache(model, batch=B)`;
# 2. prefill: the logits (an array) of `forward_with_cache(model, ids[:, -model.max_seq_len:],
#    cache)`;
# 3. for each of the `max_new_tokens` steps: `chosen = _pick(logits[:, -1], temperature,
#    top_k, rng, stopped, stop_token)`, append it to `ids`, update `stopped` and stop when all
#    rows have; if this was the last step, stop; if `cache.length < model.max_seq_len` run the
#    new token alone (`ids[:, -1:]`), else `cache.clear()` and run `ids[:, -max_seq_len:]`.


# %% nbgrader={"grade": false, "grade_id": "generate-with-cache", "locked": false, "schema_version": 3, "solution": true}
#| export
def generate_with_cache(
    model, prompt_tokens, max_new_tokens=50, temperature=1.0, top_k=None, stop_token=None, rng=None
) -> Tensor:
    """GPT.generate, with a KV cache: the same ids (B, T + new), one position of work per step.

    Prefill, then one token per step through forward_with_cache; _pick as in module 13;
    past max_seq_len the cache is cleared and the cropped context re-run.
    """
    ids = model._prompt_batch(prompt_tokens)  # (B, T), checked as GPT.generate checks it
    stopped = np.zeros(len(ids), dtype=bool)
    rng = rng or np.random.default_rng()
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            ### BEGIN SOLUTION
            cache = new_cache(model, batch=len(ids))
            logits = forward_with_cache(model, ids[:, -model.max_seq_len :], cache).data
            for step in range(max_new_tokens):
                chosen = _pick(logits[:, -1], temperature, top_k, rng, stopped, stop_token)
                ids = np.concatenate([ids, chosen[:, None]], axis=1)
                if stop_token is not None:
                    stopped |= chosen == stop_token
                    if stopped.all():
                        break
                if step == max_new_tokens - 1:
                    break  # the last token is chosen: no logits needed after it
                if cache.length < model.max_seq_len:
                    logits = forward_with_cache(model, ids[:, -1:], cache).data
                else:  # the window slides: positions shift, so re-run the cropped context
                    cache.clear()
                    logits = forward_with_cache(model, ids[:, -model.max_seq_len :], cache).data
            ### END SOLUTION
    finally:
        model.train(was_training)
    return Tensor(ids)


# %% [markdown]
# ### Test: the same tokens with and without the cache
#
# **What this checks and why.** The promise of this module: for greedy and for seeded top-k
# sampling, for one sequence and for a batch of two, 15 new tokens after a 5-token prompt
# (20 > `max_seq_len` = 12, so the sliding window is exercised too) are **identical** to
# module 13's `generate`. Then a stop token: rows end and are padded exactly as without the
# cache. (`GPT.generate(use_cache=True)` calls this function once the module is exported.)


# %% nbgrader={"grade": true, "grade_id": "test-cache-tokens", "locked": true, "points": 35, "schema_version": 3}
def test_same_tokens_with_and_without_cache():
    from tinytorch.models.transformer import GPT

    np.random.seed(1)
    model = GPT(vocab_size=30, embed_dim=16, num_layers=2, num_heads=4, max_seq_len=12)
    prompt = [3, 1, 4, 1, 5]
    batch = [prompt, [2, 7, 1, 8, 2]]
    for options in ({"temperature": 0}, {"temperature": 1.0, "top_k": 5}):
        for tokens in (prompt, batch):  # one sequence, and a batch of two rows
            plain = model.generate(tokens, 15, rng=np.random.default_rng(7), **options).data
            cached = generate_with_cache(model, tokens, 15, rng=np.random.default_rng(7), **options)
            assert isinstance(cached, Tensor) and cached.shape == plain.shape, (
                f"a Tensor of the same shape {plain.shape}, got {type(cached).__name__} "
                f"{getattr(cached, 'shape', None)}"
            )
            assert np.array_equal(plain, cached.data), (
                f"{options}: the cache must give the same tokens:\n{plain}\nvs\n{cached.data}"
            )
    free = model.generate(batch, 10, temperature=0).data
    stop = int(free[0, 7])
    plain = model.generate(batch, 10, temperature=0, stop_token=stop).data
    cached = generate_with_cache(model, batch, 10, temperature=0, stop_token=stop).data
    assert np.array_equal(plain, cached), (
        f"with stop_token {stop}: the same rows, ends and padding:\n{plain}\nvs\n{cached}"
    )
    ### BEGIN HIDDEN TESTS
    for seed in (11, 12):
        options = {"temperature": 1.4, "top_k": 9, "rng": None}
        options["rng"] = np.random.default_rng(seed)
        plain = model.generate([[4, 4], [9, 2], [1, 1]], 14, **options).data
        options["rng"] = np.random.default_rng(seed)
        cached = generate_with_cache(model, [[4, 4], [9, 2], [1, 1]], 14, **options).data
        assert np.array_equal(plain, cached), f"B = 3, temperature 1.4, seed {seed}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_same_tokens_with_and_without_cache()

# %% [markdown]
# ### Counting the work
#
# Identical tokens do not prove that the cache is used: a loop that ignores it and runs the
# whole context at every step passes the test above. `positions_per_step` (given) looks
# inside: it wraps `model.lm_head` in a module that notes how many positions (T) each forward
# pass hands it, generates greedily with `generate_with_cache`, puts the head back, and
# returns the list. For a 5-token prompt and 10 new tokens with `max_seq_len` = 8, worked out
# from the loop above:
#
# ```
# prefill 5 │ 1 1 1 (the cache fills: 6, 7, 8) │ 8 8 8 8 8 8 (window slides: re-run) │ stop
# ```
#
# 10 forward passes for 10 tokens: none after the last one.


# %%
from tinytorch.core.layers import Module


class _PositionRecorder(Module):
    """A layer that notes the positions (T) of every input, then runs the wrapped layer."""

    def __init__(self, layer):
        super().__init__()
        self.layer, self.rows = layer, []

    def forward(self, x):
        self.rows.append(x.shape[1])
        return self.layer(x)


def positions_per_step(model, prompt_tokens, max_new_tokens: int) -> list:
    """The positions each forward pass of a greedy generate_with_cache runs, in order."""
    head = model.lm_head
    model.lm_head = _PositionRecorder(head)
    try:
        generate_with_cache(model, prompt_tokens, max_new_tokens, temperature=0)
        rows = model.lm_head.rows
    finally:
        model.lm_head = head
    print(f"positions per forward pass: {rows}")
    return rows


# %% [markdown]
# ### Test: one position of work per step, and the hook
#
# **What this checks and why.** The positions drawn above, for one prompt and for a batch
# (the prefill of a batch is the same T for every row). Then every block's attention is
# wrapped in a module with its own `attend_cached` (the hook of section 3, which module 16's
# `FusedAttention` uses): your `forward_with_cache` must reach it through
# `attend_with_cache`, once per block and forward pass, and the tokens must stay those of
# `model.generate`.


# %% nbgrader={"grade": true, "grade_id": "test-cache-work", "locked": true, "points": 10, "schema_version": 3}
def test_one_position_per_step_and_the_hook():
    from tinytorch.models.transformer import GPT

    class OwnWay(Module):
        """An attention module with its own cached path, as module 16's FusedAttention."""

        def __init__(self, inner):
            super().__init__()
            self.inner, self.calls = inner, 0
            self.num_heads, self.head_dim = inner.num_heads, inner.head_dim  # for new_cache

        def forward(self, x, mask=None):
            return self.inner(x, mask)

        def attend_cached(self, x, cache, layer):
            self.calls += 1
            return attend_with_cache(self.inner, x, cache, layer)

    np.random.seed(3)
    model = GPT(vocab_size=20, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=8)
    rows = positions_per_step(model, [1, 2, 3, 4, 5], 10)
    expected = [5, 1, 1, 1, 8, 8, 8, 8, 8, 8]
    assert rows == expected, (
        f"positions run per forward pass: expected {expected} (prefill, one per step, the "
        f"cropped context once the window slides, none after the last token), got {rows}"
    )
    rows = positions_per_step(model, [[1, 2, 3], [4, 5, 6]], 4)
    assert rows == [3, 1, 1, 1], f"a batch of two: [3, 1, 1, 1], got {rows}"
    plain = model.generate([[1, 2, 3], [4, 5, 6]], 6, temperature=0).data
    for block in model.blocks:
        block.attention = OwnWay(block.attention)
    cached = generate_with_cache(model, [[1, 2, 3], [4, 5, 6]], 6, temperature=0).data
    calls = [block.attention.calls for block in model.blocks]
    assert calls == [6, 6], f"attend_cached once per block and forward pass (6), got {calls}"
    assert np.array_equal(plain, cached), f"the same tokens:\n{plain}\nvs\n{cached}"
    ### BEGIN HIDDEN TESTS
    rows = positions_per_step(model, [[7, 1], [2, 2], [3, 9]], 9)
    assert rows == [2, 1, 1, 1, 1, 1, 1, 8, 8], f"B = 3, 9 tokens after 2: got {rows}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_one_position_per_step_and_the_hook()

# %% [markdown]
# ## Systems analysis: what the cache costs and what it saves
#
# `analyze_cache_memory` prints the cache's memory for a GPT-2-small-sized model
# (2 · L · H · d_k · 4 bytes = 72 KiB per token). Then we measure on your code, for TinyGPT
# with `max_seq_len` 256: the time of **one step** at growing context lengths, with a full
# forward (module 13's way) and with `forward_with_cache`, next to the number of `Tensor`
# operations the cached step records and `step_flops`'s ratio; and a whole generation of 32
# tokens both ways. The operations are counted by listening where module 15's profiler
# will listen: every op passes through `Tensor.from_op`, which calls each object in
# `Tensor.profilers` (one `forward_event(op, out, inputs)` per op).


# %%
#| export
def analyze_cache_memory(num_layers=12, num_heads=12, head_dim=64, lengths=(128, 1024, 8192)):
    """Bytes per token and in total (float32, batch 1) for a GPT-2-small-sized model."""
    per_token = 2 * num_layers * num_heads * head_dim * 4
    rows = []
    for length in lengths:
        rows.append((length, per_token * length))
        print(
            f"T={length:5d}: {per_token * length / 2**20:8.1f} MiB ({per_token / 1024:.0f} KiB per token)"
        )
    return rows


# %%
def _median_seconds(fn, runs: int = 5) -> float:
    """The median of `runs` wall-clock timings of fn(), in seconds."""
    import statistics
    import time

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class _OpCounter:
    """Counts the Tensor ops recorded while it sits in Tensor.profilers."""

    def __init__(self):
        self.ops = 0

    def forward_event(self, op, out, inputs) -> None:
        self.ops += 1


def _cached_step(model, ids: np.ndarray) -> tuple:
    """(median seconds, Tensor ops) of one cached step: the last id after the others."""
    cache = new_cache(model)
    forward_with_cache(model, ids[:, :-1], cache)
    filled, step = cache.length, ids[:, -1:]

    def one_step():
        cache.length = filled  # forget the step before: the same context every run
        forward_with_cache(model, step, cache)

    counter = _OpCounter()
    Tensor.profilers.append(counter)
    try:
        one_step()
    finally:
        Tensor.profilers.remove(counter)
    return _median_seconds(one_step, 7), counter.ops


def measure_step_time(contexts=(16, 64, 192)) -> list:
    """One generation step of TinyGPT at each context: full forward and cached step.

    Prints and returns rows (context, full ms, cached ms, Tensor ops per cached step, FLOPs
    ratio).
    """
    from tinytorch.models.transformer import GPT

    np.random.seed(0)
    model = GPT(max_seq_len=256)
    rows = []
    for context in contexts:
        ids = np.random.randint(0, 100, (1, context))
        with no_grad():
            full = _median_seconds(lambda ids=ids: model(ids))
            cached, ops = _cached_step(model, ids)
        ratio = step_flops(model, context, False) / step_flops(model, context, True)
        rows.append((context, full * 1e3, cached * 1e3, ops, ratio))
        print(
            f"context {context:4d}: full {full * 1e3:5.2f} ms, cached {cached * 1e3:4.2f} ms "
            f"({ops} ops); FLOPs {ratio:.0f}x less, time {full / cached:.1f}x less"
        )
    return rows


def measure_generation_speedup(prompt_length: int = 16, new_tokens: int = 32) -> tuple:
    """Seconds to generate new_tokens greedily without and with the cache; identical tokens.

    Returns (seconds without, seconds with).
    """
    from tinytorch.models.transformer import GPT

    np.random.seed(0)
    model = GPT(max_seq_len=128)
    prompt = np.random.randint(0, 100, prompt_length)
    plain = model.generate(prompt, new_tokens, temperature=0)
    cached = generate_with_cache(model, prompt, new_tokens, temperature=0)
    without = _median_seconds(lambda: model.generate(prompt, new_tokens, temperature=0), 3)
    with_cache = _median_seconds(lambda: generate_with_cache(model, prompt, new_tokens, 0), 3)
    print(
        f"{new_tokens} tokens after {prompt_length}: without cache {without * 1e3:.1f} ms, "
        f"with cache {with_cache * 1e3:.1f} ms ({without / with_cache:.1f}x); identical tokens: "
        f"{np.array_equal(plain.data, cached.data)}"
    )
    return without, with_cache


if __name__ == "__main__":
    analyze_cache_memory()
    measure_step_time()
    measure_generation_speedup()

# %% [markdown]
# **Reading the numbers.** On the reference solution (a 2-core machine shared with other
# jobs, `OPENBLAS_NUM_THREADS=1`, medians):
#
# ```
# context   16: full  0.36 ms, cached 0.20 ms (50 ops); FLOPs 16x less, time 1.8x less
# context   64: full  0.49 ms, cached 0.20 ms (50 ops); FLOPs 64x less, time 2.5x less
# context  192: full  1.80 ms, cached 0.25 ms (50 ops); FLOPs 192x less, time 7.3x less
# 32 tokens after 16: without cache 11.7 ms, with cache 7.5 ms (1.6x); identical tokens: True
# ```
#
# - What the cache saves is recomputation, and that part works: the cached step's time
#   hardly depends on the context (0.20 to 0.25 ms from 16 to 192 positions) while the full
#   forward's grows, and grows faster once the T² attention arrays get large.
# - The saving in time is far below the saving in arithmetic: 1.8x at context 16 and 7x at
#   192, against 16x and 192x. A cached step of TinyGPT does about 105 kFLOP at context 192,
#   a few tens of microseconds of arithmetic for one core. The rest is the cost of the 50
#   `Tensor` operations the step records (the model's Linear layers, LayerNorms, GELU,
#   attention, the residual adds), about 4 microseconds each whatever their size: a `Tensor`
#   built in `from_op`, `Module.__call__`, shape checks, and NumPy's dispatch on vectors of 32
#   to 128 numbers. Per step: **Tensor overhead plus one row of work**, and at TinyGPT's
#   width the overhead is most of it.
# - So a faster decode step needs fewer and cheaper operations in the same modules, not a
#   second copy of the model. That is module 16: one fused op per Linear, one Q/K/V
#   projection (through the `attend_cached` hook), an in-place LayerNorm; the accelerated
#   model generates through this same `generate_with_cache`. For a wide model (D = 768)
#   each operation has enough arithmetic that the measured ratio approaches the FLOPs ratio.
# - A whole generation saves less than a single late step: the early steps have short
#   contexts, and the prefill is the same work both ways. Longer texts save more, because
#   recomputation grows with the square of the length.

# %% [markdown]
# ## Reflect
#
# Answer in a few sentences each, with numbers where you can (the measurements above help).

# %% [markdown]
# **Q1 (memory).** How much memory does the cache of GPT-2 small (L = 12, H = 12, d_k = 64)
# take in float32 for a batch of 32 sequences of 1,024 tokens? Compare it with the model's
# 124 M parameters. What limits the batch size of a server that generates text?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-cache-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# 72 KiB per token (2 · 12 · 12 · 64 · 4 bytes) × 1,024 tokens = 72 MiB per sequence, × 32 =
# 2.25 GiB, four to five times the 124 M × 4 bytes = 0.47 GiB of weights. The weights are
# shared by every request, the cache is per sequence and grows with its length, so the cache
# (not the model) limits how many sequences a server can generate at once. That is why
# servers store it in half precision, page it in blocks (vLLM's PagedAttention) and share
# keys and values between heads (multi-query and grouped-query attention cut H in the
# formula).
# ### END SOLUTION

# %% [markdown]
# **Q2 (FLOPs vs time).** `step_flops` says a cached step at context 192 does 192× less
# arithmetic than a full forward. What speed-up did `measure_step_time` show, why is it so
# much smaller than 192×, and what would bring it closer?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-flops-time", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# About 7x (0.25 ms for the cached step against 1.8 ms for the full forward). The FLOPs
# ratio assumes time is proportional to arithmetic, but a cached step of TinyGPT does only
# 55,552 + 256·192 ≈ 105 kFLOP, which a core does in tens of microseconds; the rest is the
# fixed cost of the 50 Tensor operations the step records, about 4 µs each (a Tensor built in
# from_op, Module.__call__, shape checks, NumPy's dispatch on vectors of 32 to 128 numbers).
# So the step is overhead-bound: its time barely changes with the context. Closer: fewer and
# cheaper operations for the same model (module 16 fuses each Linear into one op and Q, K, V
# into one projection), more rows per operation (a batch of sequences per step), or a wider
# model, where each operation's arithmetic outweighs its overhead.
# ### END SOLUTION

# %% [markdown]
# **Q3 (prefill and decode).** A prefill of T tokens and T single-token steps do the same
# arithmetic in total. Why is the prefill much faster? What does this suggest about when
# a GPU (or any wide vector machine) is busy and when it waits?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-prefill", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The prefill does every matmul once with T rows: (T × D) @ (D × 4D) instead of T separate
# (1 × D) @ (D × 4D) products, so the fixed cost of each call (Python, NumPy dispatch, here
# about 50 Tensor ops per forward) is paid once instead of T times, and each weight matrix is read
# from memory once for T rows. A decode step multiplies one row by every weight of the model:
# it reads all P weights (and the whole cache) to do 2 FLOPs per weight, so it is limited by
# memory bandwidth and call overhead, not arithmetic. Accelerators are busy in prefill and
# mostly wait in decode; batching many sequences (B rows per step) is how servers turn decode
# back into matrix-matrix work.
# ### END SOLUTION

# %% [markdown]
# **Q4 (what breaks).** What would go wrong if `forward_with_cache` added position embedding
# rows `0 .. T_new − 1` instead of `start .. start + T_new − 1`? And why can the cache not
# simply be kept when the context slides past `max_seq_len`?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-what-breaks", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Every generated token would be embedded as if it were at position 0: the model would see a
# text whose tokens all claim the first position, its logits would differ from the full
# forward after the prefill, and the tokens would drift (test-cache-logits catches it at
# position 5). The keys and values in the cache were computed from x at specific positions
# (the position embedding is added before the first layer, and every later layer's keys
# depend on the earlier layers' attention over the context). When the window slides, each
# remaining token moves to position p − 1 and loses the first token from its context, so
# every cached key is stale. Dropping the first cache column is not enough; only recomputing
# (or a position scheme designed for it, such as relative positions with attention sinks)
# gives the same logits as the model without a cache.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 14_kvcache.")
