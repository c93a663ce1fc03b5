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
# `GPT.generate` (module 13) runs the whole context through the model for every new token:
# at step t it recomputes the keys and values of t positions that have not changed since the
# last step. Under a causal mask, position i's key and value depend only on tokens 0..i, so
# they can be computed once and **cached**:
#
# ```
# prefill:  run the prompt (T tokens) once, store K, V of every layer: (B, H, T, d_k) each
# step:     run only the newest token: its q, k, v are (B, H, 1, d_k);
#           append k, v to the cache and attend q against all cached keys and values
# ```
#
# Each step then costs one position of projections and MLP work instead of T. The price is
# memory: 2 · layers · H · d_k · T numbers per sequence (analysed below). Positions must keep
# counting from where the cache ends, so the new token gets position embedding `start`.
#
# **Same tokens as without the cache.** The cache changes how the arithmetic is grouped, not
# what is computed, so greedy generation gives identical tokens, and sampling with the same
# random generator too. One limit: positions stop at `max_seq_len`. Past it the model without
# a cache slides its window (every position shifts), which a cache cannot reproduce, so from
# there we re-run the cropped context each step, exactly as `generate` does.

# %%
#| default_exp generation.kv_cache
#| export
import math

import numpy as np

from tinytorch.core.activations import GELU
from tinytorch.core.attention import mask_bias, scaled_dot_product_attention
from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor


# %% nbgrader={"grade": false, "grade_id": "kvcache", "locked": false, "schema_version": 3, "solution": true}
#| export
class KVCache:
    """Keys and values of every layer: arrays (B, H, max_seq_len, d_k), filled up to `length`."""

    def __init__(self, num_layers, batch, num_heads, max_seq_len, head_dim, dtype=np.float32):
        shape = (batch, num_heads, max_seq_len, head_dim)
        self.keys = [np.zeros(shape, dtype=dtype) for _ in range(num_layers)]
        self.values = [np.zeros(shape, dtype=dtype) for _ in range(num_layers)]
        self.max_seq_len = max_seq_len
        self.length = 0  # positions stored (the same for every layer after a full step)

    def update(self, layer: int, keys: np.ndarray, values: np.ndarray):
        """Store new (B, H, T_new, d_k) keys and values after the cached ones; return all."""
        ### BEGIN SOLUTION
        start, new = self.length, keys.shape[2]
        if start + new > self.max_seq_len:
            raise ValueError(f"The cache holds {self.max_seq_len} positions; {start + new} needed.")
        self.keys[layer][:, :, start : start + new] = keys
        self.values[layer][:, :, start : start + new] = values
        end = start + new
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]
        ### END SOLUTION

    def advance(self, steps: int) -> None:
        self.length += steps

    def clear(self) -> None:
        """Forget every stored position (the arrays stay allocated for reuse)."""
        self.length = 0

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.keys + self.values)


# %% [markdown]
# ## Attention and the model with a cache
#
# The new positions `start .. start+T-1` may attend to every cached position and to the new
# ones up to themselves: the mask row of new position i allows columns `0 .. start + i`.


# %% nbgrader={"grade": false, "grade_id": "cached-forward", "locked": false, "schema_version": 3, "solution": true}
#| export
def attend_with_cache(attention, x: Tensor, cache: KVCache, layer: int) -> Tensor:
    """MultiHeadAttention.forward for new positions x (B, T_new, D), using and filling the cache."""
    batch, new, dim = x.shape
    ### BEGIN SOLUTION
    q = attention.split_heads(attention.q_proj(x))
    k = attention.split_heads(attention.k_proj(x))
    v = attention.split_heads(attention.v_proj(x))
    keys, values = cache.update(layer, k.data, v.data)
    start = cache.length
    mask = None
    if new > 1:  # one new token may see everything cached: no mask needed
        mask = np.arange(start + new)[None, :] <= (start + np.arange(new))[:, None]
    keys, values = Tensor(keys, dtype=keys.dtype), Tensor(values, dtype=values.dtype)
    heads, _ = scaled_dot_product_attention(q, keys, values, mask)
    merged = heads.permute(0, 2, 1, 3).reshape(batch, new, dim)
    return attention.out_proj(merged)
    ### END SOLUTION


def forward_with_cache(model, ids: np.ndarray, cache: KVCache) -> Tensor:
    """GPT.forward for the new ids (B, T_new) only; positions continue after the cache."""
    start, new = cache.length, ids.shape[1]
    ### BEGIN SOLUTION
    x = model.token_embedding(ids) + model.position_embedding.weight[start : start + new]
    for layer, block in enumerate(model.blocks):
        x = x + attend_with_cache(block.attention, block.ln1(x), cache, layer)
        x = x + block.mlp(block.ln2(x))
    cache.advance(new)
    return model.lm_head(model.ln_f(x))
    ### END SOLUTION


def new_cache(model, batch: int = 1) -> KVCache:
    attention = model.blocks[0].attention
    return KVCache(
        len(model.blocks),
        batch,
        attention.num_heads,
        model.max_seq_len,
        attention.head_dim,
        model.token_embedding.weight.dtype,
    )


# %% [markdown]
# ## The fast path: a decode step in plain NumPy
#
# Profile `forward_with_cache` for the TinyGPT sizes (D = 32, 2 layers, one new token) and
# the arithmetic is not where the time goes. A decode step is about 150 small operations
# (per layer: a LayerNorm, three projections, attention against the cache, a LayerNorm, an
# MLP), each on a vector of 32 to 128 numbers. NumPy does the arithmetic of each in well under
# a microsecond; what costs is the Python around it: every `Tensor` operation builds a
# `Tensor`, goes through `from_op`, `Module.__call__`, shape checks, `x.mean()` through
# NumPy's Python-level `_methods`. With the cache alone, generation was only 2-3x faster than
# recomputing the whole context, although it does a sixteenth or less of the arithmetic.
#
# Generation runs under `no_grad`: nothing will call `backward`, so the graph the `Tensor`
# wrappers exist for is not needed. The fast path computes a step directly on NumPy arrays
# taken from the parameters (`p.data`), and prepares those arrays once per generation call
# (`InferenceWeights`) so that each step does as few NumPy calls as possible:
#
# ```
# x = E_tok[ids] + E_pos[start : start+T]                   (B·T, D): plain rows, no Tensor
# per block:  q|k|v = norm(x) @ W_qkv + b_qkv               ONE matmul instead of three
#             append k, v to the cache; softmax(q·Kᵀ) V against all cached positions
#             x = x + merged @ W_o + b_o
#             x = x + gelu(norm(x) @ W_1 + b_1) @ W_2 + b_2           the MLP's own GELU
# logits = norm(x) @ W_head + b_head                 norm(x) = (x − mean) / √(var + ε)
# ```
#
# Prepared once, by algebra that holds exactly for real numbers:
#
# - **Fused projections.** `W_qkv = [W_q | W_k | W_v]` (D × 3D): one matmul gives q, k and v.
# - **LayerNorm's γ and β folded into the next matmul.** `(x̂·γ + β) @ W + b =
#   x̂ @ (γ[:, None]·W) + (β @ W + b)`, so the step only computes x̂ = norm(x).
# - **The attention scale folded into W_q.** `(q/√d_k)·k` is `q·k/√d_k`.
# - **Centering as a matrix.** `x − mean(x) = x @ (I − 1/D)`: one matmul instead of a mean and
#   a subtraction; the variance is `(centered²) @ (1/D)`.
# - **Constants as 0-d arrays of the model's dtype.** `x * 0.5` with a Python float makes NumPy
#   convert the float at every call, which costs as much as the multiplication here.
#
# And kept as they are:
#
# - **The same GELU.** The MLP uses `GELU()`, whose default is the tanh approximation
#   (module 02). The fast path repeats that formula operation for operation, and for any
#   other activation (for example `GELU(approximate="none")`) it calls the model's own
#   activation module instead of guessing.
# - **Fresh weights.** `InferenceWeights(model)` is built when `generate_with_cache` starts,
#   so a model trained between two calls generates with its new weights.
#
# The results are not bit-for-bit those of `model.forward`: rounding happens at different
# places (a folded weight, a one-row matmul; `forward_with_cache` already differs the same
# way). The logits agree within float32 rounding (the test below allows 1e-4; in float64 they
# agree to 1e-12), so greedy and seeded sampling choose the same tokens unless two candidates
# tie to within that rounding (the tests generate with both paths and compare). The `Tensor`
# version above stays the reference; the fast path is an optimisation of it, as inference
# engines keep a separate kernel for the decode step. In the benchmark (TinyGPT, 100 new
# tokens from a 16-token prompt; `python -m benchmarks.gpt`) the cache with the `Tensor` path
# was about 2.6x faster than recomputing; with the fast path it is about 7-8x (see
# benchmarks/README.md).


# %% nbgrader={"grade": false, "grade_id": "fast-path", "locked": false, "schema_version": 3, "solution": true}
#| export
class InferenceWeights:
    """The model's parameters prepared for decoding: arrays, with constants folded in.

    Built at the start of every generate_with_cache call (weights may have been trained since).
    Per block: W_qkv = γ₁·[W_q/√d_k | W_k | W_v] (D, 3D) and its bias, W_o, γ₂·W_1, W_2 and
    their biases, and the MLP's activation; then γ_f·W_head. Biases are (1, N) rows.
    """

    def __init__(self, model):
        ### BEGIN SOLUTION
        self.token = model.token_embedding.weight.data
        self.position = model.position_embedding.weight.data
        self.dtype = self.token.dtype
        self.embed_dim = self.token.shape[1]
        self.num_heads = model.blocks[0].attention.num_heads if model.blocks else 1
        self.head_dim = self.embed_dim // self.num_heads
        # constants as 0-d arrays: rounded as NumPy rounds a Python float, without converting
        # the float at every operation (which costs as much as the operation at these sizes)
        self.one, self.half, self.gelu_cubic, self.gelu_factor = (
            np.asarray(value, dtype=self.dtype)
            for value in (1.0, 0.5, 0.044715, math.sqrt(2.0 / math.pi))
        )
        dim = self.embed_dim
        self.mean_column = np.full((dim, 1), 1.0 / dim, dtype=self.dtype)  # x @ it = mean(x)
        self.centering = (np.eye(dim) - 1.0 / dim).astype(self.dtype)  # x @ it = x − mean(x)
        self.layers = []
        for block in model.blocks:
            attention = block.attention
            scale = 1.0 / math.sqrt(self.head_dim)  # softmax(q·kᵀ/√d_k): scale q's columns
            q_weight, q_bias = self.arrays(attention.q_proj)
            k_weight, k_bias = self.arrays(attention.k_proj)
            v_weight, v_bias = self.arrays(attention.v_proj)
            qkv_weight = np.concatenate([q_weight * scale, k_weight, v_weight], axis=1)
            qkv_bias = np.concatenate([q_bias * scale, k_bias, v_bias], axis=1)
            self.layers.append(
                (
                    self.eps(block.ln1),
                    *self.fold(block.ln1, qkv_weight, qkv_bias),
                    *self.arrays(attention.out_proj),
                    self.eps(block.ln2),
                    *self.fold(block.ln2, *self.arrays(block.mlp.linear1)),
                    self.activation(block.mlp.gelu),
                    *self.arrays(block.mlp.linear2),
                )
            )
        self.final_eps = self.eps(model.ln_f)
        self.head = self.fold(model.ln_f, *self.arrays(model.lm_head))
        ### END SOLUTION

    def arrays(self, linear) -> tuple:
        """(W, b) of a Linear as float arrays of the model's dtype; b as a (1, N) row, zeros
        if the layer has no bias (adding 0.0 changes no number)."""
        weight = np.asarray(linear.weight.data, dtype=self.dtype)
        if linear.bias is None:
            return weight, np.zeros((1, weight.shape[1]), dtype=self.dtype)
        return weight, np.asarray(linear.bias.data, dtype=self.dtype).reshape(1, -1)

    def fold(self, norm, weight, bias) -> tuple:
        """(x̂·γ + β) @ W + b = x̂ @ (γ[:, None]·W) + (β @ W + b): LayerNorm's scale and shift
        moved into the matmul that follows it."""
        gamma, beta = norm.gamma.data.astype(self.dtype), norm.beta.data.astype(self.dtype)
        return gamma[:, None] * weight, beta[None, :].dot(weight) + bias

    def eps(self, norm) -> np.ndarray:
        return np.asarray(norm.eps, dtype=self.dtype)

    def activation(self, module):
        """The MLP's activation on arrays: the tanh GELU inline, anything else via the module."""
        if isinstance(module, GELU) and module.approximate == "tanh":
            return self.gelu_tanh
        return lambda a: module(Tensor(a, dtype=a.dtype)).data

    def gelu_tanh(self, x: np.ndarray) -> np.ndarray:
        """gelu(x, "tanh") of module 02 on an array, operation for operation:
        0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."""
        ### BEGIN SOLUTION
        inner = x * x
        inner *= self.gelu_cubic * x
        inner += x
        inner *= self.gelu_factor
        out = np.tanh(inner)
        out += self.one
        out *= self.half * x
        return out
        ### END SOLUTION

    def normalize(self, x: np.ndarray, eps) -> np.ndarray:
        """(x − mean(x)) / √(var(x) + ε) over the last axis; γ and β are in the next matmul."""
        ### BEGIN SOLUTION
        centered = x.dot(self.centering)  # x − mean(x) is linear in x: one matrix product
        variance = (centered * centered).dot(self.mean_column)  # (rows, 1)
        return centered / np.sqrt(variance + eps)
        ### END SOLUTION


def fast_forward_with_cache(w: InferenceWeights, ids: np.ndarray, cache: KVCache) -> np.ndarray:
    """forward_with_cache on arrays: logits (B, T_new, vocab) as an ndarray, filling the cache.

    `w = InferenceWeights(model)`; ids must be valid token ids (generate_with_cache checks).
    """
    batch, new = ids.shape
    start = cache.length
    ### BEGIN SOLUTION
    rows, dim, heads, head_dim = batch * new, w.embed_dim, w.num_heads, w.head_dim
    x = (w.token[ids] + w.position[start : start + new]).reshape(rows, dim)  # (B·T, D)
    bias = None
    if new > 1:  # as in attend_with_cache: new position i sees columns 0 .. start + i
        allowed = np.arange(start + new)[None, :] <= (start + np.arange(new))[:, None]
        bias = mask_bias(allowed, (batch, heads, new, start + new), w.dtype)
    for layer, (eps1, w_qkv, b_qkv, w_o, b_o, eps2, w_1, b_1, act, w_2, b_2) in enumerate(w.layers):
        qkv = w.normalize(x, eps1).dot(w_qkv) + b_qkv  # (B·T, 3D): q/√d_k, k, v side by side
        q, k, v = qkv.reshape(batch, new, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
        keys, values = cache.update(layer, k, v)  # (B, H, start + T, d_k)
        scores = q @ keys.transpose(0, 1, 3, 2)  # (B, H, T, start + T), already scaled
        if bias is not None:
            scores = scores + bias
        e = np.exp(scores - np.maximum.reduce(scores, -1, keepdims=True))
        attended = (e / np.add.reduce(e, -1, keepdims=True)) @ values  # (B, H, T, d_k)
        x = x + (attended.transpose(0, 2, 1, 3).reshape(rows, dim).dot(w_o) + b_o)
        x = x + (act(w.normalize(x, eps2).dot(w_1) + b_1).dot(w_2) + b_2)
    cache.advance(new)
    w_head, b_head = w.head
    logits = w.normalize(x, w.final_eps).dot(w_head) + b_head
    return logits.reshape(batch, new, -1)
    ### END SOLUTION


# %% [markdown]
# ## Generation with the cache
#
# Prefill the prompt in one call, then one position per step. When the cache is full (the
# context reached `max_seq_len`) the window slides: every position shifts by one, so the
# cached keys and values (computed at the old positions) no longer apply. From there each
# step empties the cache and re-runs the cropped context, exactly as `GPT.generate` does.


# %% nbgrader={"grade": false, "grade_id": "generate-with-cache", "locked": false, "schema_version": 3, "solution": true}
#| export
def generate_with_cache(
    model, prompt_tokens, max_new_tokens=50, temperature=1.0, top_k=None, stop_token=None, rng=None
) -> Tensor:
    """GPT.generate, with a KV cache: the same ids (B, T + new), one position of work per step."""
    ids = model._prompt_batch(prompt_tokens)  # (B, T), checked as GPT.generate checks it
    stopped = np.zeros(len(ids), dtype=bool)
    rng = rng or np.random.default_rng()
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            ### BEGIN SOLUTION
            weights = InferenceWeights(model)
            cache = new_cache(model, batch=len(ids))
            logits = fast_forward_with_cache(weights, ids[:, -model.max_seq_len :], cache)
            for step in range(max_new_tokens):
                chosen = model._pick(logits[:, -1], temperature, top_k, rng, stopped, stop_token)
                ids = np.concatenate([ids, chosen[:, None]], axis=1)
                if stop_token is not None:
                    stopped |= chosen == stop_token
                    if stopped.all():
                        break
                if step == max_new_tokens - 1:
                    break  # the last token is chosen: no logits needed after it
                if cache.length < model.max_seq_len:
                    logits = fast_forward_with_cache(weights, ids[:, -1:], cache)
                else:  # the window slides: positions shift, so re-run the cropped context
                    cache.clear()
                    logits = fast_forward_with_cache(weights, ids[:, -model.max_seq_len :], cache)
            ### END SOLUTION
    finally:
        model.train(was_training)
    return Tensor(ids)


# %% [markdown]
# ## Systems analysis: what the cache costs


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


# %% [markdown]
# ## Unit tests

# %%
from tinytorch.models.transformer import GPT


# %% nbgrader={"grade": true, "grade_id": "test-cache-logits", "locked": true, "points": 30, "schema_version": 3}
def test_cached_forward_matches_full_forward():
    np.random.seed(0)
    model = GPT(vocab_size=30, embed_dim=16, num_layers=2, num_heads=4, max_seq_len=12)
    ids = np.random.randint(0, 30, size=(1, 9))
    with no_grad():
        full = model(ids).data
        cache = new_cache(model)
        first = forward_with_cache(model, ids[:, :5], cache).data
        rest = [forward_with_cache(model, ids[:, i : i + 1], cache).data for i in range(5, 9)]
    assert np.allclose(first, full[:, :5], atol=1e-5), "prefill equals the first positions"
    assert np.allclose(np.concatenate(rest, axis=1), full[:, 5:], atol=1e-5), "one step at a time"
    assert cache.length == 9


# %% nbgrader={"grade": true, "grade_id": "test-fast-path", "locked": true, "points": 20, "schema_version": 3}
def test_fast_path_matches_full_forward():
    np.random.seed(2)
    model = GPT(vocab_size=30, embed_dim=16, num_layers=2, num_heads=4, max_seq_len=12)
    ids = np.random.randint(0, 30, size=(2, 12))
    with no_grad():
        full = model(ids).data
    weights, cache = InferenceWeights(model), new_cache(model, batch=2)
    pieces = [fast_forward_with_cache(weights, ids[:, :5], cache)]  # prefill, then steps
    pieces += [fast_forward_with_cache(weights, ids[:, i : i + 1], cache) for i in range(5, 12)]
    fast = np.concatenate(pieces, axis=1)
    assert isinstance(fast, np.ndarray) and fast.dtype == full.dtype
    assert np.allclose(fast, full, atol=1e-4), "every position's logits, within float32 rounding"
    assert cache.length == 12


# %% nbgrader={"grade": true, "grade_id": "test-cache-tokens", "locked": true, "points": 35, "schema_version": 3}
def test_same_tokens_with_and_without_cache():
    np.random.seed(1)
    model = GPT(vocab_size=30, embed_dim=16, num_layers=2, num_heads=4, max_seq_len=12)
    prompt = [3, 1, 4, 1, 5]
    batch = [prompt, [2, 7, 1, 8, 2]]
    for options in ({"temperature": 0}, {"temperature": 1.0, "top_k": 5}):
        for tokens in (prompt, batch):  # one sequence, and a batch of two rows
            plain = model.generate(tokens, 15, rng=np.random.default_rng(7), **options).data
            cached = generate_with_cache(model, tokens, 15, rng=np.random.default_rng(7), **options)
            assert isinstance(cached, Tensor) and cached.shape == plain.shape
            assert np.array_equal(plain, cached.data), (options, plain, cached.data)  # 20 > 12


# %% nbgrader={"grade": true, "grade_id": "test-cache-memory", "locked": true, "points": 15, "schema_version": 3}
def test_cache_memory_and_limits():
    cache = KVCache(num_layers=2, batch=1, num_heads=4, max_seq_len=8, head_dim=4)
    assert cache.nbytes == 2 * 2 * 4 * 8 * 4 * 4
    keys = np.ones((1, 4, 8, 4), dtype=np.float32)
    cache.update(0, keys, keys)
    try:
        cache.advance(8)
        cache.update(0, keys[:, :, :1], keys[:, :, :1])
    except ValueError as error:
        assert "8 positions" in str(error)
    else:
        raise AssertionError("a full cache must refuse more positions")


# %%
if __name__ == "__main__":
    test_cached_forward_matches_full_forward()
    test_fast_path_matches_full_forward()
    test_same_tokens_with_and_without_cache()
    test_cache_memory_and_limits()
    analyze_cache_memory()
    print("All tests passed for module 14_kvcache.")
