"""Attention: gradients, masks, and MultiHeadAttention against a plain torch implementation."""

from __future__ import annotations

import numpy as np

from tests.tinytorch.gradcheck import assert_finite_differences, assert_matches_torch, torch
from tinytorch.core.attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention
from tinytorch.core.tensor import Tensor

RNG = np.random.default_rng(0)


def test_sdpa_gradients_with_and_without_mask():
    q, k, v = (RNG.normal(size=(2, 4, 3)) for _ in range(3))
    weights = RNG.normal(size=(2, 4, 3))
    for mask in (None, causal_mask(4)):

        def build(Q, K, V, mask=mask):
            return (scaled_dot_product_attention(Q, K, V, mask)[0] * weights).sum()

        assert_finite_differences(build, q, k, v)

        def reference(Q, K, V, mask=mask):
            scores = Q @ K.transpose(-2, -1) / np.sqrt(3)
            if mask is not None:
                scores = scores.masked_fill(~torch.tensor(mask), float("-inf"))
            return (torch.softmax(scores, -1) @ V * torch.tensor(weights)).sum()

        assert_matches_torch(build, reference, q, k, v)


def test_fully_blocked_rows_stay_finite_with_gradients():
    q = Tensor(RNG.normal(size=(1, 3, 2)), requires_grad=True)
    out, _ = scaled_dot_product_attention(q, q, q, np.zeros((3, 3), dtype=bool))
    out.sum().backward()
    assert np.isfinite(out.data).all() and np.isfinite(q.grad.data).all()


def torch_mha(x, w, mask, heads):
    """A straightforward multi-head attention in torch with the same weights."""
    batch, length, dim = x.shape
    d = dim // heads

    def project(name):
        out = x @ torch.tensor(w[name + ".weight"]) + torch.tensor(w[name + ".bias"])
        return out.reshape(batch, length, heads, d).transpose(1, 2)

    q, k, v = project("q_proj"), project("k_proj"), project("v_proj")
    scores = q @ k.transpose(-2, -1) / d**0.5
    scores = scores.masked_fill(~torch.tensor(mask), float("-inf"))
    merged = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(batch, length, dim)
    return merged @ torch.tensor(w["out_proj.weight"]) + torch.tensor(w["out_proj.bias"])


def test_multi_head_attention_matches_torch_with_causal_mask():
    attention = MultiHeadAttention(embed_dim=8, num_heads=2)
    for p in attention.parameters():
        p.data = p.data.astype(np.float64)
    weights = {name: p.data for name, p in attention.named_parameters()}
    x = RNG.normal(size=(2, 5, 8))
    output_weights = RNG.normal(size=(2, 5, 8))
    mask = causal_mask(5)

    def build(inputs):
        return (attention(inputs, mask) * output_weights).sum()

    assert_matches_torch(
        build, lambda t: (torch_mha(t, weights, mask, 2) * torch.tensor(output_weights)).sum(), x
    )
    assert_finite_differences(build, x)
