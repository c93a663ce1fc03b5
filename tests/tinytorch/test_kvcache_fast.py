"""The NumPy fast path of KV-cache generation: the same logits as model.forward, same tokens."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.activations import GELU
from tinytorch.core.autograd import no_grad
from tinytorch.generation.kv_cache import (
    InferenceWeights,
    fast_forward_with_cache,
    forward_with_cache,
    generate_with_cache,
    new_cache,
)
from tinytorch.models.transformer import GPT


def benchmark_model() -> GPT:
    """The model of `bench_generation` in benchmarks/gpt.py (float32)."""
    np.random.seed(0)
    return GPT(vocab_size=100, embed_dim=32, num_layers=2, num_heads=4, max_seq_len=128)


def fast_logits(model: GPT, ids: np.ndarray, chunks: list[int]) -> np.ndarray:
    weights, cache = InferenceWeights(model), new_cache(model, batch=ids.shape[0])
    pieces, start = [], 0
    for size in chunks:
        pieces.append(fast_forward_with_cache(weights, ids[:, start : start + size], cache))
        start += size
    assert cache.length == start
    return np.concatenate(pieces, axis=1)


@pytest.mark.parametrize("chunks", [[16] + [1] * 100, [116], [1] * 40, [5, 30, 1, 1, 7]])
def test_fast_path_logits_match_the_full_forward_at_every_position(chunks):
    model = benchmark_model()
    length = sum(chunks)
    ids = np.random.default_rng(1).integers(0, 100, size=(1, length))
    with no_grad():
        full = model(ids).data
    fast = fast_logits(model, ids, chunks)
    assert fast.dtype == np.float32 and fast.shape == full.shape == (1, length, 100)
    np.testing.assert_allclose(fast, full, atol=1e-4, rtol=0)


def test_fast_path_in_float64_is_exact_and_batched():
    np.random.seed(4)
    model = GPT(vocab_size=40, embed_dim=16, num_layers=3, num_heads=2, max_seq_len=10)
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    ids = np.random.default_rng(0).integers(0, 40, size=(3, 10))
    with no_grad():
        full = model(ids).data
        cache = new_cache(model, batch=3)
        tensor_path = np.concatenate(
            [forward_with_cache(model, ids[:, :4], cache).data]
            + [forward_with_cache(model, ids[:, i : i + 1], cache).data for i in range(4, 10)],
            axis=1,
        )
    fast = fast_logits(model, ids, [4] + [1] * 6)
    assert fast.dtype == np.float64
    assert np.max(np.abs(fast - full)) < 1e-12
    assert np.max(np.abs(fast - tensor_path)) < 1e-12


def test_fast_path_uses_the_models_own_activation_and_missing_biases():
    np.random.seed(2)
    model = GPT(vocab_size=30, embed_dim=16, num_layers=2, num_heads=4, max_seq_len=24)
    for block in model.blocks:
        block.mlp.gelu = GELU(approximate="none")  # the exact (erf) variant
    model.blocks[0].attention.k_proj.bias = None
    model.lm_head.bias = None
    ids = np.random.default_rng(3).integers(0, 30, size=(1, 20))
    with no_grad():
        full = model(ids).data
    np.testing.assert_allclose(fast_logits(model, ids, [6] + [1] * 14), full, atol=1e-5, rtol=0)
    with pytest.raises(AssertionError):  # the tanh variant would give other logits
        for block in model.blocks:
            block.mlp.gelu = GELU(approximate="tanh")
        np.testing.assert_allclose(fast_logits(model, ids, [20]), full, atol=1e-7, rtol=0)


@pytest.mark.parametrize("options", [{"temperature": 0}, {"temperature": 0.9, "top_k": 10}])
@pytest.mark.parametrize("rows", [1, 3])
def test_benchmark_model_generates_identical_tokens(options, rows):
    """float32, as benchmarked; a batch of rows too (the fast path groups its sums by row)."""
    model = benchmark_model()
    prompt = (np.arange(16 * rows).reshape(rows, 16) * 7) % 100
    for seed in range(2):
        plain = model.generate(prompt, 100, rng=np.random.default_rng(seed), **options)
        cached = generate_with_cache(model, prompt, 100, rng=np.random.default_rng(seed), **options)
        assert np.array_equal(plain.data, cached.data)


def test_sliding_window_after_a_full_cache_and_weights_read_per_call():
    np.random.seed(5)
    model = GPT(vocab_size=20, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=6)
    plain = model.generate([1, 2, 3, 4, 5, 6, 7, 8], 12, temperature=0)  # prompt > context
    cached = generate_with_cache(model, [1, 2, 3, 4, 5, 6, 7, 8], 12, temperature=0)
    assert np.array_equal(cached.data, plain.data)
    model.lm_head.bias.data = model.lm_head.bias.data + np.eye(20, dtype=np.float32)[3] * 100
    assert generate_with_cache(model, [1], 5, temperature=0).data.tolist() == [[1, 3, 3, 3, 3, 3]]


def test_bad_prompt_ids_are_refused_like_the_plain_path():
    model = benchmark_model()
    for prompt in ([5, 100], [-1, 3]):
        with pytest.raises(ValueError, match="outside the vocabulary"):
            model.generate(prompt, 2)
        with pytest.raises(ValueError, match="outside the vocabulary"):
            generate_with_cache(model, prompt, 2)
