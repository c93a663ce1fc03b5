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
import numpy as np

from tinytorch.core.attention import scaled_dot_product_attention
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
    return model.head(model.ln_f(x))
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


def generate_with_cache(
    model, prompt_tokens, max_new_tokens=50, temperature=1.0, top_k=None, stop_token=None, rng=None
) -> list[int]:
    """GPT.generate, with a KV cache: the same tokens, one position of work per step."""
    tokens = [int(t) for t in np.asarray(prompt_tokens).reshape(-1)]
    if not tokens:
        raise ValueError("generate() needs a prompt of at least one token.")
    rng = rng or np.random.default_rng()
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            cache = new_cache(model)
            logits = forward_with_cache(model, np.array([tokens[-model.max_seq_len :]]), cache)
            for _ in range(max_new_tokens):
                tokens.append(model._pick(logits.data[0, -1], temperature, top_k, rng))
                if stop_token is not None and tokens[-1] == stop_token:
                    break
                if cache.length < model.max_seq_len:
                    logits = forward_with_cache(model, np.array([tokens[-1:]]), cache)
                else:  # the window slides: positions shift, so the cache cannot be reused
                    logits = model.forward([tokens[-model.max_seq_len :]])
    finally:
        model.train(was_training)
    return tokens


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


# %% nbgrader={"grade": true, "grade_id": "test-cache-logits", "locked": true, "points": 35, "schema_version": 3}
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


# %% nbgrader={"grade": true, "grade_id": "test-cache-tokens", "locked": true, "points": 45, "schema_version": 3}
def test_same_tokens_with_and_without_cache():
    np.random.seed(1)
    model = GPT(vocab_size=30, embed_dim=16, num_layers=2, num_heads=4, max_seq_len=12)
    prompt = [3, 1, 4, 1, 5]
    for options in ({"temperature": 0}, {"temperature": 1.0, "top_k": 5}):
        plain = model.generate(prompt, 15, rng=np.random.default_rng(7), **options)
        cached = generate_with_cache(model, prompt, 15, rng=np.random.default_rng(7), **options)
        assert plain == cached, (options, plain, cached)  # 20 tokens: past max_seq_len too


# %% nbgrader={"grade": true, "grade_id": "test-cache-memory", "locked": true, "points": 20, "schema_version": 3}
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
    test_same_tokens_with_and_without_cache()
    test_cache_memory_and_limits()
    analyze_cache_memory()
    print("All tests passed for module 14_kvcache.")
