"""LayerNorm and a whole GPT against PyTorch with copied weights, in float64."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tinytorch.gradcheck import (
    assert_finite_differences,
    assert_matches_torch,
    record_torch_difference,
    torch,
)
from tinytorch.core.attention import causal_mask
from tinytorch.core.losses import cross_entropy
from tinytorch.models.transformer import GPT, MLP, LayerNorm, TransformerBlock

RNG = np.random.default_rng(0)


def test_layer_norm_matches_torch_and_finite_differences():
    x = RNG.normal(size=(3, 4, 6)) * 3 + 1
    gamma, beta = RNG.normal(size=6), RNG.normal(size=6)
    norm = LayerNorm(6)
    weights = RNG.normal(size=(3, 4, 6))

    def build(inputs, g, b):
        norm.gamma, norm.beta = g, b
        return (norm(inputs) * weights).sum()

    assert_finite_differences(build, x, gamma, beta)
    assert_matches_torch(
        build,
        lambda t, g, b: (
            torch.nn.functional.layer_norm(t, (6,), g, b, 1e-5) * torch.tensor(weights)
        ).sum(),
        x,
        gamma,
        beta,
    )


def test_block_and_mlp_gradients():
    np.random.seed(0)
    block = TransformerBlock(8, 2, dropout_prob=0.0)
    mlp = MLP(8, dropout_prob=0.0)
    for p in block.parameters() + mlp.parameters():
        p.data = p.data.astype(np.float64)
    x = RNG.normal(size=(1, 4, 8))
    assert_finite_differences(lambda t: (block(t, causal_mask(4)) ** 2).sum(), x)
    assert_finite_differences(lambda t: (mlp(t) ** 2).sum(), x)


def torch_gpt(p: dict, tokens: np.ndarray, layers: int, heads: int):
    """The same GPT written plainly in torch, reading tinytorch's parameters by name."""
    F = torch.nn.functional

    def linear(x, name):
        return x @ p[name + ".weight"] + p[name + ".bias"]

    def norm(x, name):
        return F.layer_norm(x, (x.shape[-1],), p[name + ".gamma"], p[name + ".beta"], 1e-5)

    batch, length = tokens.shape
    x = p["token_embedding.weight"][torch.tensor(tokens)] + p["position_embedding.weight"][:length]
    dim = x.shape[-1]
    mask = torch.tril(torch.ones(length, length, dtype=torch.bool))
    for i in range(layers):
        prefix = f"blocks.{i}."
        h = norm(x, prefix + "ln1")

        def split(t):
            return t.reshape(batch, length, heads, dim // heads).transpose(1, 2)

        q, k, v = (split(linear(h, prefix + f"attention.{n}_proj")) for n in "qkv")
        scores = (q @ k.transpose(-2, -1) / (dim // heads) ** 0.5).masked_fill(~mask, -1e9)
        merged = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(batch, length, dim)
        x = x + linear(merged, prefix + "attention.out_proj")
        h = norm(x, prefix + "ln2")
        hidden = F.gelu(linear(h, prefix + "mlp.fc1"), approximate="tanh")
        x = x + linear(hidden, prefix + "mlp.fc2")
    return linear(norm(x, "ln_f"), "head")


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
def test_whole_gpt_logits_and_every_gradient_match_torch():
    np.random.seed(3)
    model = GPT(vocab_size=11, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=6)
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    tokens = np.random.randint(0, 11, size=(3, 6))
    targets = np.random.randint(0, 11, size=(3, 6))
    logits = model(tokens)
    cross_entropy(logits, targets).backward()

    reference = {
        name: torch.tensor(p.data, requires_grad=True) for name, p in model.named_parameters()
    }
    torch_logits = torch_gpt(reference, tokens, layers=2, heads=2)
    torch.nn.functional.cross_entropy(
        torch_logits.reshape(-1, 11), torch.tensor(targets).reshape(-1)
    ).backward()

    worst = float(np.max(np.abs(logits.data - torch_logits.detach().numpy())))
    for name, p in model.named_parameters():
        worst = max(worst, float(np.max(np.abs(p.grad.data - reference[name].grad.numpy()))))
    record_torch_difference(worst, "whole GPT (logits and all parameter gradients)")
    assert worst < 1e-4
    assert worst < 1e-10, "float64 throughout: far tighter than the required 1e-4"


def test_gpt_accepts_array_likes_and_refuses_long_inputs():
    model = GPT()
    assert model(np.random.randint(0, 100, (1, 10))).shape == (1, 10, 100)
    assert model([[1, 2, 3]]).shape == (1, 3, 100)
    with pytest.raises(ValueError, match="exceeds max_seq_len"):
        GPT(max_seq_len=4)([1, 2, 3, 4, 5])
