"""Cached generation runs the model's own modules: plain, modified and accelerated models give
the logits of model.forward at every position and the tokens of GPT.generate."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.acceleration import FusedAttention, accelerate
from tinytorch.core.activations import GELU
from tinytorch.core.autograd import no_grad
from tinytorch.generation.kv_cache import forward_with_cache, generate_with_cache, new_cache
from tinytorch.models.transformer import GPT

# The two sizes of `bench_generation` in benchmarks/gpt.py: (vocab, width, layers, heads,
# context), prompt length, new tokens.
SIZES = {
    "tinygpt": ((100, 32, 2, 4, 128), 16, 100),
    "larger": ((256, 128, 4, 4, 64), 16, 48),
}


def build(size: str, fused: bool = False) -> GPT:
    np.random.seed(0)
    model = GPT(*SIZES[size][0])
    return accelerate(model) if fused else model


def cached_logits(model: GPT, ids: np.ndarray, chunks: list[int]) -> np.ndarray:
    cache, pieces, start = new_cache(model, batch=ids.shape[0]), [], 0
    with no_grad():
        for size in chunks:
            pieces.append(forward_with_cache(model, ids[:, start : start + size], cache).data)
            start += size
    assert cache.length == start
    return np.concatenate(pieces, axis=1)


@pytest.mark.parametrize("fused", [False, True], ids=["plain", "accelerated"])
@pytest.mark.parametrize("chunks", [[16] + [1] * 100, [116], [5, 30, 1, 1, 7]])
def test_cached_logits_match_the_full_forward_at_every_position(chunks, fused):
    model = build("tinygpt", fused)
    length = sum(chunks)
    ids = np.random.default_rng(1).integers(0, 100, size=(1, length))
    with no_grad():
        full = model(ids).data
    cached = cached_logits(model, ids, chunks)
    assert cached.dtype == np.float32 and cached.shape == full.shape == (1, length, 100)
    np.testing.assert_allclose(cached, full, atol=1e-4, rtol=0)


@pytest.mark.parametrize("fused", [False, True], ids=["plain", "accelerated"])
def test_float64_is_exact_and_batched(fused):
    np.random.seed(4)
    model = GPT(vocab_size=40, embed_dim=16, num_layers=3, num_heads=2, max_seq_len=10)
    if fused:
        accelerate(model)
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    ids = np.random.default_rng(0).integers(0, 40, size=(3, 10))
    with no_grad():
        full = model(ids).data
    cached = cached_logits(model, ids, [4] + [1] * 6)
    assert cached.dtype == np.float64
    assert np.max(np.abs(cached - full)) < 1e-12


def test_the_models_own_activation_and_missing_biases():
    """No second definition to drift: whatever the modules compute, the cache computes."""
    np.random.seed(2)
    model = GPT(vocab_size=30, embed_dim=16, num_layers=2, num_heads=4, max_seq_len=24)
    for block in model.blocks:
        block.mlp.gelu = GELU(approximate="none")  # the exact (erf) variant
    model.blocks[0].attention.k_proj.bias = None
    model.lm_head.bias = None
    ids = np.random.default_rng(3).integers(0, 30, size=(1, 20))
    with no_grad():
        full = model(ids).data
    np.testing.assert_allclose(cached_logits(model, ids, [6] + [1] * 14), full, atol=1e-5, rtol=0)


@pytest.mark.parametrize("fused", [False, True], ids=["plain", "accelerated"])
@pytest.mark.parametrize("size", sorted(SIZES))
def test_benchmark_models_generate_identical_tokens(size, fused):
    """float32, the sizes and token counts benchmarked; greedy and seeded top-k."""
    model = build(size, fused)
    _, prompt_length, new_tokens = SIZES[size]
    prompt = list(range(prompt_length))
    plain = build(size).generate(prompt, new_tokens, temperature=0)  # no cache, not fused
    assert np.array_equal(
        generate_with_cache(model, prompt, new_tokens, temperature=0).data, plain.data
    )
    options = {"temperature": 0.9, "top_k": 10}
    rows = (np.arange(3 * prompt_length).reshape(3, prompt_length) * 7) % 100
    plain = model.generate(rows, 20, rng=np.random.default_rng(1), **options)
    cached = generate_with_cache(model, rows, 20, rng=np.random.default_rng(1), **options)
    assert np.array_equal(plain.data, cached.data)


def test_accelerated_attention_uses_its_own_cached_path(monkeypatch):
    model = build("tinygpt", fused=True)
    assert isinstance(model.blocks[0].attention, FusedAttention)
    calls = []
    original = FusedAttention.attend_cached

    def counting(self, x, cache, layer):
        calls.append((layer, x.shape[1]))
        return original(self, x, cache, layer)

    monkeypatch.setattr(FusedAttention, "attend_cached", counting)
    generate_with_cache(model, [1, 2, 3], 3, temperature=0)
    assert calls == [(0, 3), (1, 3), (0, 1), (1, 1), (0, 1), (1, 1)]


def test_sliding_window_after_a_full_cache_and_weights_read_per_call():
    np.random.seed(5)
    model = GPT(vocab_size=20, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=6)
    plain = model.generate([1, 2, 3, 4, 5, 6, 7, 8], 12, temperature=0)  # prompt > context
    cached = generate_with_cache(model, [1, 2, 3, 4, 5, 6, 7, 8], 12, temperature=0)
    assert np.array_equal(cached.data, plain.data)
    model.lm_head.bias.data = model.lm_head.bias.data + np.eye(20, dtype=np.float32)[3] * 100
    assert generate_with_cache(model, [1], 5, temperature=0).data.tolist() == [[1, 3, 3, 3, 3, 3]]


def test_bad_prompt_ids_are_refused_like_the_plain_path():
    model = build("tinygpt")
    for prompt in ([5, 100], [-1, 3]):
        with pytest.raises(ValueError, match="outside the vocabulary"):
            model.generate(prompt, 2)
        with pytest.raises(ValueError, match="outside the vocabulary"):
            generate_with_cache(model, prompt, 2)
