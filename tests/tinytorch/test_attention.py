"""Attention: gradients, masks (PyTorch's convention), MultiHeadAttention against torch."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tinytorch.gradcheck import (
    assert_finite_differences,
    assert_matches_torch,
    requires_torch,
    torch,
)
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
    for blocked in (np.zeros((3, 3), dtype=bool), np.full((3, 3), -np.inf)):
        q = Tensor(RNG.normal(size=(1, 3, 2)), requires_grad=True)
        out, _ = scaled_dot_product_attention(q, q, q, blocked)
        out.sum().backward()
        assert np.isfinite(out.data).all() and np.isfinite(q.grad.data).all()


def random_masks(shape: tuple) -> dict:
    """A boolean and a float mask of `shape`, every query row keeping at least one key."""
    allowed = RNG.random(shape) < 0.6
    allowed[..., 0] = True  # PyTorch gives NaN for a fully blocked row; we compare elsewhere
    additive = np.where(allowed, RNG.normal(size=shape), -np.inf)  # any float is added
    return {"bool": allowed, "float": additive}


@requires_torch
@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("mask_shape", [(5, 6), (2, 1, 5, 6), (1, 3, 5, 6), (1, 6)])
def test_masks_match_torch_sdpa(kind, mask_shape):
    """Both mask kinds, broadcast from several shapes, against torch's SDPA in float64."""
    q, k, v = (
        RNG.normal(size=(2, 3, 5, 4)),
        RNG.normal(size=(2, 3, 6, 4)),
        RNG.normal(size=(2, 3, 6, 4)),
    )
    mask = random_masks(mask_shape)[kind]
    weights = RNG.normal(size=(2, 3, 5, 4))

    def build(Q, K, V):
        return (scaled_dot_product_attention(Q, K, V, mask)[0] * weights).sum()

    def reference(Q, K, V):
        out = torch.nn.functional.scaled_dot_product_attention(Q, K, V, torch.tensor(mask))
        return (out * torch.tensor(weights)).sum()

    assert_matches_torch(build, reference, q, k, v)


def test_a_float_mask_is_added_and_causal_mask_is_boolean():
    q = Tensor(RNG.normal(size=(1, 4, 3)))
    causal = causal_mask(4)
    assert causal.dtype == bool and causal[3, 0] and not causal[0, 3]
    minus_inf = np.triu(np.full((4, 4), -np.inf), 1)
    minus_1e9 = np.triu(np.full((4, 4), -1e9), 1)
    expected = scaled_dot_product_attention(q, q, q, causal)[1].data
    for additive in (minus_inf, minus_1e9, Tensor(minus_inf)):
        weights = scaled_dot_product_attention(q, q, q, additive)[1].data
        assert np.allclose(weights, expected) and np.allclose(np.triu(weights[0], 1), 0)
    shifted = scaled_dot_product_attention(q, q, q, np.log([[1.0, 2.0, 1.0, 1.0]] * 4))[1]
    plain = scaled_dot_product_attention(q, q, q)[1].data
    boosted = plain * [1, 2, 1, 1]
    assert np.allclose(shifted.data, boosted / boosted.sum(-1, keepdims=True)), "float is added"


@pytest.mark.parametrize(
    ("mask", "error", "words"),
    [
        (np.tril(np.ones((4, 4), dtype=np.int64)), TypeError, "astype\\(bool\\)"),
        (np.ones((3, 3), dtype=bool), ValueError, "does not broadcast"),
        (np.ones((2, 4, 4), dtype=bool), ValueError, r"\(2, 4, 4\)"),
        (np.full((4, 4), np.nan), ValueError, "NaN"),
        (np.array(["a"] * 4), TypeError, "boolean"),
    ],
)
def test_wrong_masks_are_refused_clearly(mask, error, words):
    q = Tensor(RNG.normal(size=(1, 4, 3)))  # scores (1, 4, 4)
    with pytest.raises(error, match=words):
        scaled_dot_product_attention(q, q, q, mask)


def test_sdpa_and_attention_accept_array_likes():
    q = RNG.normal(size=(2, 4, 3))
    out, weights = scaled_dot_product_attention(q, q.tolist(), Tensor(q))
    assert out.shape == (2, 4, 3) and weights.shape == (2, 4, 4)
    assert MultiHeadAttention(8, 2)(RNG.normal(size=(1, 3, 8)).tolist()).shape == (1, 3, 8)


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
