"""KV cache: cached logits equal full recomputation in float64; tokens identical."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor
from tinytorch.generation.kv_cache import forward_with_cache, generate_with_cache, new_cache
from tinytorch.models.transformer import GPT


@pytest.fixture
def model():
    np.random.seed(4)
    gpt = GPT(vocab_size=40, embed_dim=16, num_layers=3, num_heads=2, max_seq_len=10)
    for p in gpt.parameters():
        p.data = p.data.astype(np.float64)
    return gpt


@pytest.mark.parametrize("chunks", [[10], [1] * 10, [4, 1, 1, 3, 1], [7, 3]])
def test_any_chunking_gives_the_full_forward(model, chunks):
    ids = np.random.default_rng(0).integers(0, 40, size=(2, 10))
    with no_grad():
        full = model(ids).data
        cache = new_cache(model, batch=2)
        pieces, start = [], 0
        for size in chunks:
            pieces.append(forward_with_cache(model, ids[:, start : start + size], cache).data)
            start += size
    assert np.max(np.abs(np.concatenate(pieces, axis=1) - full)) < 1e-12


@pytest.mark.parametrize("options", [{"temperature": 0}, {"temperature": 1.3, "top_k": 7}])
@pytest.mark.parametrize("prompt", [[1, 2], [[1, 2], [3, 4], [5, 6]]], ids=["B=1", "B=3"])
def test_generation_is_identical_beyond_the_context(model, options, prompt):
    for seed in range(3):
        plain = model.generate(prompt, 25, rng=np.random.default_rng(seed), **options)
        cached = generate_with_cache(model, prompt, 25, rng=np.random.default_rng(seed), **options)
        assert isinstance(cached, Tensor) and cached.shape == plain.shape == (len(cached.data), 27)
        assert np.array_equal(plain.data, cached.data)
    greedy = model.generate(prompt, 5, temperature=0)
    assert np.array_equal(
        model.generate(prompt, 5, temperature=0, use_cache=True).data, greedy.data
    )


def test_stop_token_and_empty_prompt(model):
    out = generate_with_cache(model, [5], 20, temperature=0).data[0].tolist()
    stop = generate_with_cache(model, [5], 20, temperature=0, stop_token=out[3]).data[0].tolist()
    assert stop == out[: out.index(out[3], 1) + 1]
    with pytest.raises(ValueError, match="at least one token"):
        generate_with_cache(model, [], 3)


@pytest.mark.parametrize("options", [{"temperature": 0}, {"temperature": 1.0, "top_k": 5}])
def test_stop_token_in_a_batch_is_the_same_with_the_cache(model, options):
    prompts = [[5, 6], [7, 8], [9, 1]]
    free = model.generate(prompts, 20, rng=np.random.default_rng(1), **options).data
    stop = int(free[1, 4])
    plain = model.generate(prompts, 20, stop_token=stop, rng=np.random.default_rng(1), **options)
    cached = generate_with_cache(
        model, prompts, 20, stop_token=stop, rng=np.random.default_rng(1), **options
    )
    assert np.array_equal(plain.data, cached.data)
    row = cached.data[1]
    first = 2 + int(np.flatnonzero(row[2:] == stop)[0])
    assert (row[first:] == stop).all(), "a stopped row is padded with the stop token"
