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
from tinytorch.core.tensor import Tensor
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
        hidden = F.gelu(linear(h, prefix + "mlp.linear1"), approximate="tanh")
        x = x + linear(hidden, prefix + "mlp.linear2")
    return linear(norm(x, "ln_f"), "lm_head")


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


def test_the_attributes_the_original_text_reads():
    model = GPT(vocab_size=30, embed_dim=16, num_layers=3, num_heads=2, max_seq_len=8)
    assert (model.vocab_size, model.embed_dim, model.num_layers, model.num_heads) == (30, 16, 3, 2)
    assert model.max_seq_len == 8 and len(model.blocks) == 3
    assert (model.lm_head.in_features, model.lm_head.out_features) == (16, 30)
    block = model.blocks[0]
    assert (block.embed_dim, block.num_heads) == (16, 2)
    assert block.ln1.normalized_shape == 16 and LayerNorm(7).normalized_shape == 7
    mlp = block.mlp
    assert (mlp.embed_dim, mlp.hidden_dim) == (16, 64)
    assert mlp.linear1.weight.shape == (16, 64) and mlp.linear2.weight.shape == (64, 16)
    assert MLP(8).hidden_dim == 32 and MLP(8, hidden_dim=12).hidden_dim == 12
    names = {name for name, _ in model.named_parameters()}
    assert {"lm_head.weight", "blocks.0.mlp.linear1.weight", "blocks.2.mlp.linear2.bias"} <= names
    defaults = GPT()
    assert (defaults.vocab_size, defaults.embed_dim, defaults.num_layers, defaults.num_heads) == (
        100,
        32,
        2,
        4,
    )
    assert defaults.max_seq_len == 1024


@pytest.mark.parametrize(("ratio", "hidden"), [(4, 64), (4.0, 64), (2, 32), (2.5, 40), (0.5, 8)])
def test_mlp_ratio_may_be_a_float(ratio, hidden):
    block = TransformerBlock(16, 4, mlp_ratio=ratio)
    assert block.mlp.hidden_dim == hidden and block.mlp.linear1.out_features == hidden
    assert block(np.zeros((1, 3, 16))).shape == (1, 3, 16)
    assert GPT(20, 16, 1, 4, 8, mlp_ratio=ratio).blocks[0].mlp.hidden_dim == hidden


def test_layers_accept_array_likes():
    x = np.random.default_rng(1).normal(size=(2, 3, 8))
    block = TransformerBlock(8, 2, dropout_prob=0.0)
    for layer in (LayerNorm(8), MLP(8, dropout_prob=0.0), block):
        from_list, from_array = layer(x.tolist()), layer(x)
        assert from_list.shape == (2, 3, 8)
        assert np.allclose(from_list.data, from_array.data)
        assert np.allclose(from_array.data, layer(Tensor(x)).data)
    assert GPT()(Tensor(np.array([[1, 2, 3]]))).shape == (1, 3, 100)


# ── generate ──


@pytest.fixture
def tiny_gpt():
    np.random.seed(7)
    return GPT(vocab_size=20, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=8)


def test_generate_returns_a_tensor_of_ids_for_one_sequence(tiny_gpt):
    for prompt in ([1, 2, 3], np.array([1, 2, 3]), Tensor(np.array([1, 2, 3])), [[1, 2, 3]]):
        out = tiny_gpt.generate(prompt, max_new_tokens=6, temperature=0)
        assert isinstance(out, Tensor) and out.shape == (1, 9), "a 1-D prompt is a batch of one"
        assert out.data.dtype.kind == "i" and out.data[0, :3].tolist() == [1, 2, 3]
    assert tiny_gpt.generate([4], max_new_tokens=0).shape == (1, 1)
    sampled = tiny_gpt.generate([4], 12, temperature=0.8, top_k=4, rng=np.random.default_rng(0))
    assert sampled.shape == (1, 13) and 0 <= sampled.data.min() and sampled.data.max() < 20


@pytest.mark.parametrize("options", [{"temperature": 0}, {"temperature": 1.0, "top_k": 5}])
def test_generate_continues_every_row_of_a_batch(tiny_gpt, options):
    prompts = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    out = tiny_gpt.generate(prompts, max_new_tokens=10, rng=np.random.default_rng(3), **options)
    assert isinstance(out, Tensor) and out.shape == (3, 13), "(B, T + new), not one long row"
    assert np.array_equal(out.data[:, :3], prompts)
    if options["temperature"] == 0:  # greedy rows equal generating each row alone
        for row, prompt in enumerate(prompts):
            alone = tiny_gpt.generate(prompt, max_new_tokens=10, temperature=0)
            assert np.array_equal(out.data[row], alone.data[0])


def test_stop_token_stops_rows_and_pads_them(tiny_gpt):
    prompts = np.array([[1, 2], [3, 4], [5, 6]])
    free = tiny_gpt.generate(prompts, max_new_tokens=12, temperature=0).data
    stop = int(free[0, 4])  # row 0 produces it after 3 new tokens (or earlier)
    out = tiny_gpt.generate(prompts, max_new_tokens=12, temperature=0, stop_token=stop).data
    for row in range(3):
        new = free[row, 2:]
        hits = np.flatnonzero(new == stop)
        if hits.size:  # the row stops at its first stop token; padded with it after that
            end = 2 + hits[0] + 1
            assert np.array_equal(out[row, :end], free[row, :end])
            assert (out[row, end:] == stop).all()
        else:
            assert np.array_equal(out[row], free[row, : out.shape[1]])
    firsts = [np.flatnonzero(free[r, 2:] == stop) for r in range(3)]
    if all(f.size for f in firsts):  # every row stopped: the batch ends at the last stop
        assert out.shape[1] == 2 + max(int(f[0]) for f in firsts) + 1
    else:
        assert out.shape[1] == 14
    single = tiny_gpt.generate([1, 2], 12, temperature=0, stop_token=stop)
    assert single.data[0, -1] == stop and single.shape[1] == 2 + int(firsts[0][0]) + 1


def test_generate_refuses_bad_prompts(tiny_gpt):
    with pytest.raises(ValueError, match="at least one token"):
        tiny_gpt.generate([], 3)
    with pytest.raises(ValueError, match="at least one token"):
        tiny_gpt.generate(np.zeros((1, 2, 3), dtype=int), 3)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tiny_gpt.generate([[1, 20]], 3)
    with pytest.raises(TypeError, match="integers"):
        tiny_gpt.generate([1.5, 2.0], 3)
