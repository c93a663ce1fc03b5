"""KV cache: cached logits equal full recomputation in float64; tokens identical."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.autograd import no_grad
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
def test_generation_is_identical_beyond_the_context(model, options):
    for seed in range(3):
        plain = model.generate([1, 2], 25, rng=np.random.default_rng(seed), **options)
        cached = generate_with_cache(model, [1, 2], 25, rng=np.random.default_rng(seed), **options)
        assert plain == cached
    greedy = model.generate([1, 2], 5, temperature=0)
    assert model.generate([1, 2], 5, temperature=0, use_cache=True) == greedy


def test_stop_token_and_empty_prompt(model):
    out = generate_with_cache(model, [5], 20, temperature=0)
    stop = generate_with_cache(model, [5], 20, temperature=0, stop_token=out[3])
    assert stop == out[: out.index(out[3], 1) + 1]
    with pytest.raises(ValueError, match="at least one token"):
        generate_with_cache(model, [], 3)
