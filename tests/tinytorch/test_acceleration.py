"""Module 16: every fused op against finite differences (float64) and PyTorch as oracle."""

import numpy as np
import pytest

from tests.tinytorch.gradcheck import assert_finite_differences, assert_matches_torch, torch
from tinytorch.acceleration import (
    BLOCK_ELEMENTS,
    FusedAttention,
    FusedMLP,
    accelerate,
    fused_attention,
    layer_norm,
    linear,
    linear_gelu,
)
from tinytorch.core.attention import MultiHeadAttention, causal_mask
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor
from tinytorch.models.transformer import GPT

RNG = np.random.default_rng(16)


def _weights(*shape):
    return RNG.normal(size=shape)


def torch_attention(qkv, heads, mask):
    batch, length, width = qkv.shape
    d = width // (3 * heads)
    parts = qkv.reshape(batch, length, 3, heads, d).permute(2, 0, 3, 1, 4)
    out = torch.nn.functional.scaled_dot_product_attention(
        parts[0], parts[1], parts[2], attn_mask=None if mask is None else torch.tensor(mask)
    )
    return out.permute(0, 2, 1, 3).reshape(batch, length, heads * d)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients(bias):
    arrays = [_weights(2, 3, 4), _weights(4, 5)] + ([_weights(5)] if bias else [])
    w = _weights(2, 3, 5)
    assert_finite_differences(lambda *t: (linear(*t) * Tensor(w, dtype=np.float64)).sum(), *arrays)
    assert_matches_torch(
        lambda *t: (linear(*t) * Tensor(w, dtype=np.float64)).sum(),
        lambda x, wt, *b: ((x @ wt + (b[0] if b else 0)) * torch.tensor(w)).sum(),
        *arrays,
    )


def test_layer_norm_gradients():
    arrays = [_weights(2, 3, 6), _weights(6), _weights(6)]
    w = _weights(2, 3, 6)
    build = lambda x, g, b: (layer_norm(x, g, b) * Tensor(w, dtype=np.float64)).sum()  # noqa: E731
    assert_finite_differences(build, *arrays)
    assert_matches_torch(
        build,
        lambda x, g, b: (
            torch.nn.functional.layer_norm(x, (6,), g, b, 1e-5) * torch.tensor(w)
        ).sum(),
        *arrays,
    )


@pytest.mark.parametrize("rows", [3, BLOCK_ELEMENTS // 8 + 5])
def test_linear_gelu_gradients(rows):
    """One block, and several blocks of width 8 with a short last one (float64 throughout)."""
    arrays = [_weights(rows, 4), _weights(4, 8), _weights(8)]
    w = _weights(rows, 8)
    build = lambda x, wt, b: (linear_gelu(x, wt, b) * Tensor(w, dtype=np.float64)).sum()  # noqa: E731
    if rows < 10:  # finite differences cost two forward passes per input number
        assert_finite_differences(build, *arrays)
    assert_matches_torch(
        build,
        lambda x, wt, b: (
            torch.nn.functional.gelu(x @ wt + b, approximate="tanh") * torch.tensor(w)
        ).sum(),
        *arrays,
    )


def test_fused_mlp_refuses_an_activation_it_does_not_compute():
    from tinytorch.core.activations import GELU
    from tinytorch.models.transformer import MLP

    mlp = MLP(4, 8)
    mlp.gelu = GELU("none")
    with pytest.raises(ValueError, match="tanh GELU"):
        FusedMLP.from_mlp(mlp)


@pytest.mark.parametrize("mask", ["per-head", "causal-long"])
def test_attention_masks_across_head_blocks(mask):
    """At T = 80, 6 x 2 heads are two blocks of (T, T) scores: a float mask per batch and
    head must follow its heads into their block, a causal mask is shared by all."""
    length = 80
    assert 6 * 2 > BLOCK_ELEMENTS // length**2, "the case must need more than one head block"
    qkv = _weights(6, length, 12)
    given = causal_mask(length) if mask == "causal-long" else _weights(6, 2, length, length)
    w = _weights(6, length, 4)
    build = lambda t: (fused_attention(t, 2, given) * Tensor(w, dtype=np.float64)).sum()  # noqa: E731
    torch_mask = given if mask == "causal-long" else given.astype(np.float64)
    assert_matches_torch(
        build, lambda t: (torch_attention(t, 2, torch_mask) * torch.tensor(w)).sum(), qkv
    )


@pytest.mark.parametrize("mask", [None, "causal"])
def test_attention_gradients(mask):
    qkv = _weights(2, 4, 18)
    bool_mask = causal_mask(4) if mask else None
    w = _weights(2, 4, 6)
    build = lambda t: (fused_attention(t, 3, bool_mask) * Tensor(w, dtype=np.float64)).sum()  # noqa: E731
    assert_finite_differences(build, qkv)
    assert_matches_torch(
        build, lambda t: (torch_attention(t, 3, bool_mask) * torch.tensor(w)).sum(), qkv
    )


def test_fused_attention_module_matches_module_12():
    np.random.seed(0)
    mha = MultiHeadAttention(12, 3)
    fused = FusedAttention.from_attention(mha)
    x = RNG.normal(size=(2, 6, 12)).astype(np.float32)
    assert np.allclose(mha(x, causal_mask(6)).data, fused(x, causal_mask(6)).data, atol=1e-5)


def test_accelerated_gpt_trains_like_the_plain_one():
    losses = []
    for fused in (False, True):
        np.random.seed(1)
        model = GPT(40, 16, 2, 2, max_seq_len=10)
        if fused:
            accelerate(model)
        opt = Adam(model.parameters(), lr=1e-2)
        ids = np.random.default_rng(1).integers(0, 40, size=(3, 11))
        run = []
        for _ in range(4):
            opt.zero_grad()
            loss = cross_entropy(model(ids[:, :-1]), ids[:, 1:])
            loss.backward()
            opt.step()
            run.append(float(loss.data))
        losses.append(run)
    assert np.allclose(losses[0], losses[1], atol=1e-4), losses


def test_accelerated_gpt_generates_the_same_tokens_with_the_kv_cache():
    np.random.seed(2)
    plain = GPT(30, 16, 2, 4, max_seq_len=12)
    np.random.seed(2)
    fast = accelerate(GPT(30, 16, 2, 4, max_seq_len=12))
    prompt = [1, 2, 3]
    expected = plain.generate(prompt, 15, temperature=0).data  # slides past max_seq_len
    for model in (plain, fast):
        assert np.array_equal(
            model.generate(prompt, 15, temperature=0, use_cache=True).data, expected
        )
