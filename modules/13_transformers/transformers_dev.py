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
# # Module 13: Transformers
#
# Everything is ready: your tensor, autograd, layers, embeddings and attention. A GPT is
# those pieces stacked:
#
# ```
# ids (B, T) ─► token embedding + position embedding ─► x (B, T, D)
#            ─► N × TransformerBlock:  x = x + Attention(LayerNorm(x), causal mask)
#                                      x = x + MLP(LayerNorm(x))
#            ─► LayerNorm ─► Linear(D, vocab) ─► logits (B, T, vocab)
# ```
#
# The logits at position t score every possible next token after `ids[:, :t+1]`; training
# minimises the cross-entropy against `ids[:, t+1]`. The causal mask guarantees that position
# t never peeks at what it must predict.
#
# **Pre-norm residual blocks.** The residual path `x + f(x)` lets gradients flow straight
# through many layers (the derivative of x + f(x) is 1 + f'(x)); normalising *before* each
# sub-layer (GPT-2) keeps what enters attention and the MLP at a stable scale.

# %%
#| default_exp models.transformer
#| export
import numpy as np

from tinytorch.core.activations import GELU, softmax
from tinytorch.core.attention import MultiHeadAttention, causal_mask
from tinytorch.core.autograd import gradient_rule, no_grad
from tinytorch.core.layers import Dropout, Linear, Module
from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import Embedding, PositionalEncoding

# %% [markdown]
# ## LayerNorm, with its own backward pass
#
# Over the last dimension (D features of one position):
#
# ```
# μ = mean(x)   σ² = mean((x − μ)²)   x̂ = (x − μ) / √(σ² + ε)   y = γ·x̂ + β
# ```
#
# Built from Tensor ops this is about ten graph nodes; as one op it is one node whose
# backward we derive once. With g = dL/dy and ĝ = g·γ:
#
# ```
# dL/dβ = Σ g      dL/dγ = Σ g·x̂      (sums over every position: the engine un-broadcasts)
# dL/dx = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) / √(σ² + ε)
# ```
#
# The two `mean` terms are what the normalisation takes away: shifting all inputs or
# scaling them changes nothing after normalising, so the gradient has no component along
# those directions.


# %% nbgrader={"grade": false, "grade_id": "layernorm", "locked": false, "schema_version": 3, "solution": true}
#| export
@gradient_rule("layer_norm")
def _layer_norm_grad(g, out):
    x, gamma, beta = out._inputs
    normalized, inv_std = out._saved
    ### BEGIN SOLUTION
    g_hat = g * gamma.data
    mean_g = g_hat.mean(axis=-1, keepdims=True)
    mean_gx = (g_hat * normalized).mean(axis=-1, keepdims=True)
    grad_x = (g_hat - mean_g - normalized * mean_gx) * inv_std
    return grad_x, g * normalized, g
    ### END SOLUTION


class LayerNorm(Module):
    """Normalise the last dimension to zero mean and unit variance, then scale and shift."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5):
        super().__init__()
        self.normalized_shape, self.eps = normalized_shape, eps
        self.gamma = Tensor(np.ones(normalized_shape), requires_grad=True)
        self.beta = Tensor(np.zeros(normalized_shape), requires_grad=True)

    def forward(self, x) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        ### BEGIN SOLUTION
        mean = x.data.mean(axis=-1, keepdims=True)
        centered = x.data - mean
        inv_std = 1.0 / np.sqrt((centered * centered).mean(axis=-1, keepdims=True) + self.eps)
        normalized = centered * inv_std
        out = normalized * self.gamma.data + self.beta.data
        return Tensor.from_op(out, "layer_norm", (x, self.gamma, self.beta), (normalized, inv_std))
        ### END SOLUTION


# %% [markdown]
# ## The MLP and the block
#
# The MLP widens each position to `hidden_dim = 4·D`, applies GELU, and projects back: it is
# where most parameters live (8·D² of a block's 12·D²). Attention mixes *across* positions;
# the MLP transforms each position on its own.


# %% nbgrader={"grade": false, "grade_id": "block", "locked": false, "schema_version": 3, "solution": true}
#| export
class MLP(Module):
    """Linear(D, H) -> GELU -> Linear(H, D) -> Dropout, with H = hidden_dim (default 4D)."""

    def __init__(self, embed_dim: int, hidden_dim: int | None = None, dropout_prob: float = 0.1):
        super().__init__()
        self.embed_dim = embed_dim
        self.hidden_dim = hidden_dim or 4 * embed_dim
        self.linear1 = Linear(embed_dim, self.hidden_dim)
        self.gelu = GELU()
        self.linear2 = Linear(self.hidden_dim, embed_dim)
        self.dropout = Dropout(dropout_prob)

    def forward(self, x) -> Tensor:
        ### BEGIN SOLUTION
        return self.dropout(self.linear2(self.gelu(self.linear1(x))))
        ### END SOLUTION


class TransformerBlock(Module):
    """Pre-norm block: x + attention(norm(x)), then x + mlp(norm(x)).

    The MLP is round(mlp_ratio * embed_dim) wide; mlp_ratio may be a float (2.5, 4.0).
    """

    def __init__(
        self, embed_dim: int, num_heads: int, mlp_ratio: float = 4, dropout_prob: float = 0.1
    ):
        super().__init__()
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.ln1 = LayerNorm(embed_dim)
        self.attention = MultiHeadAttention(embed_dim, num_heads)
        self.ln2 = LayerNorm(embed_dim)
        self.mlp = MLP(embed_dim, round(mlp_ratio * embed_dim), dropout_prob)

    def forward(self, x, mask=None) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        ### BEGIN SOLUTION
        x = x + self.attention(self.ln1(x), mask)
        return x + self.mlp(self.ln2(x))
        ### END SOLUTION


# %% [markdown]
# ## GPT
#
# `forward(tokens)`: ids `(B, T)` (a list, an array or a Tensor; a single sequence `(T,)` is
# treated as a batch of one) to logits `(B, T, vocab_size)`.
#
# `generate(prompt, max_new_tokens)`: repeat *predict the next token, append it*. It returns a
# Tensor of token ids of shape `(B, T + max_new_tokens)`, the prompt first: a prompt `(T,)` is a
# batch of one, a prompt `(B, T)` continues every row at once. Only the last `max_seq_len`
# tokens fit the position table, so the context is cropped to them. With `temperature == 0`
# the most likely token is taken (greedy); otherwise logits are divided by the temperature
# (lower = more confident), optionally restricted to the `top_k` best, and a token is sampled.
# With `stop_token`, a row stops once it has produced that token, and generation ends when
# every row has stopped; rows that stopped earlier are padded with `stop_token`, so the result
# stays rectangular (and may be shorter than `T + max_new_tokens`). Generation runs under
# `no_grad()`: no graph, much less memory.


# %% nbgrader={"grade": false, "grade_id": "gpt", "locked": false, "schema_version": 3, "solution": true}
#| export
class GPT(Module):
    """A decoder-only transformer language model. GPT() builds the TinyGPT sizes."""

    def __init__(
        self,
        vocab_size: int = 100,
        embed_dim: int = 32,
        num_layers: int = 2,
        num_heads: int = 4,
        max_seq_len: int = 1024,
        dropout_prob: float = 0.0,
        mlp_ratio: float = 4,
    ):
        super().__init__()
        self.vocab_size, self.embed_dim, self.max_seq_len = vocab_size, embed_dim, max_seq_len
        self.num_layers, self.num_heads = num_layers, num_heads
        self.token_embedding = Embedding(vocab_size, embed_dim)
        self.position_embedding = PositionalEncoding(max_seq_len, embed_dim)
        self.blocks = [
            TransformerBlock(embed_dim, num_heads, mlp_ratio, dropout_prob)
            for _ in range(num_layers)
        ]
        self.ln_f = LayerNorm(embed_dim)
        self.lm_head = Linear(embed_dim, vocab_size)

    def forward(self, tokens) -> Tensor:
        ids = np.asarray(tokens.data if isinstance(tokens, Tensor) else tokens)
        if ids.ndim == 1:
            ids = ids[None, :]
        if ids.ndim != 2:
            raise ValueError(f"GPT expects token ids of shape (batch, seq), got {ids.shape}.")
        length = ids.shape[1]
        if length > self.max_seq_len:
            raise ValueError(f"Sequence length {length} exceeds max_seq_len {self.max_seq_len}.")
        ### BEGIN SOLUTION
        x = self.position_embedding(self.token_embedding(ids))  # (B, T, D)
        mask = causal_mask(length)
        for block in self.blocks:
            x = block(x, mask)
        return self.lm_head(self.ln_f(x))  # (B, T, vocab)
        ### END SOLUTION

    def generate(
        self,
        prompt_tokens,
        max_new_tokens: int = 50,
        temperature: float = 1.0,
        top_k: int | None = None,
        stop_token: int | None = None,
        rng: np.random.Generator | None = None,
        use_cache: bool = False,
    ) -> Tensor:
        """Token ids (B, T + new): each prompt row followed by up to max_new_tokens ids.

        A 1-D prompt is a batch of one. With stop_token, a row that produced it is padded with
        it, and generation ends once every row has. use_cache=True keeps keys and values
        between steps (module 14): the same tokens, faster.
        """
        if use_cache:
            try:
                from tinytorch.generation.kv_cache import generate_with_cache
            except ImportError:
                raise RuntimeError(
                    "generate(use_cache=True) needs module 14_kvcache: complete it first."
                ) from None
            return generate_with_cache(
                self, prompt_tokens, max_new_tokens, temperature, top_k, stop_token, rng
            )
        ids = self._prompt_batch(prompt_tokens)  # (B, T)
        stopped = np.zeros(len(ids), dtype=bool)
        rng = rng or np.random.default_rng()
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                ### BEGIN SOLUTION
                for _ in range(max_new_tokens):
                    logits = self.forward(ids[:, -self.max_seq_len :]).data[:, -1]  # (B, vocab)
                    chosen = self._pick(logits, temperature, top_k, rng, stopped, stop_token)
                    ids = np.concatenate([ids, chosen[:, None]], axis=1)
                    if stop_token is not None:
                        stopped |= chosen == stop_token
                        if stopped.all():
                            break
                ### END SOLUTION
        finally:
            self.train(was_training)
        return Tensor(ids)

    def _prompt_batch(self, prompt_tokens) -> np.ndarray:
        """The prompt as int64 ids (B, T), checked: a 1-D prompt becomes a batch of one."""
        data = prompt_tokens.data if isinstance(prompt_tokens, Tensor) else prompt_tokens
        ids = np.array(data)
        if ids.ndim == 1:
            ids = ids[None, :]
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(
                f"generate() needs a prompt of at least one token, shaped (seq,) or (batch, seq); "
                f"got shape {ids.shape}."
            )
        if ids.dtype.kind not in "iu":
            raise TypeError(f"Prompt token ids must be integers, not {ids.dtype}.")
        if ids.min() < 0 or ids.max() >= self.vocab_size:
            bad = int(ids.max() if ids.max() >= self.vocab_size else ids.min())
            raise ValueError(f"Token id {bad} is outside the vocabulary [0, {self.vocab_size}).")
        return ids.astype(np.int64)

    @staticmethod
    def _pick(logits: np.ndarray, temperature, top_k, rng, stopped=None, stop_token=None):
        """The next id of every row (B,) from its logits (B, vocab); stopped rows get stop_token.

        Sampling draws one number from rng per active row, in row order, so the same rng gives
        the same tokens with and without the KV cache.
        """
        chosen = np.zeros(len(logits), dtype=np.int64)
        ### BEGIN SOLUTION
        if temperature == 0:
            chosen[:] = np.argmax(logits, axis=-1)
        else:
            scaled = logits.astype(np.float64) / temperature
            if top_k is not None and top_k < scaled.shape[-1]:
                cutoff = np.sort(scaled, axis=-1)[:, -top_k][:, None]
                scaled = np.where(scaled < cutoff, -np.inf, scaled)
            probs = softmax(Tensor(scaled, dtype=np.float64), axis=-1).data
            for row in range(len(probs)):
                if stopped is None or not stopped[row]:
                    chosen[row] = rng.choice(probs.shape[-1], p=probs[row])
        ### END SOLUTION
        if stopped is not None and stop_token is not None:
            chosen[stopped] = stop_token
        return chosen


class Transformer(GPT):
    """The older module page's model: a GPT with that page's argument names and order.

    hidden_dim is the MLP width (default 4 * embed_dim); num_heads comes before num_layers.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        num_heads: int,
        num_layers: int,
        hidden_dim: int | None = None,
        max_seq_length: int = 1024,
        dropout_prob: float = 0.0,
    ):
        ratio = 4 if hidden_dim is None else hidden_dim / embed_dim
        super().__init__(
            vocab_size, embed_dim, num_layers, num_heads, max_seq_length, dropout_prob, ratio
        )


# %% [markdown]
# ## The older API's names
#
# An older page of this course imported these classes from `tinytorch.core.transformers` (and
# the embeddings from `tinytorch.core.embeddings`, see module 11) and built
# `Transformer(vocab_size, embed_dim, num_heads, num_layers, hidden_dim, max_seq_length)`.
# They exist for that older API: `Transformer` above is a GPT with those argument names, and the
# cell below exports to `tinytorch.core.transformers` a module that forwards those names to
# this module's package file, `tinytorch.models.transformer`. It looks them up when first asked
# for (a module-level `__getattr__`, as the package's top level does), so the cell also runs here, before anything is exported.


# %%
#| export core.transformers
# every name this module exports, so the older path offers the same as the new one
_OLDER_NAMES = (
    "LayerNorm",
    "MLP",
    "TransformerBlock",
    "GPT",
    "Transformer",
    "analyze_parameter_scaling",
    "analyze_attention_memory",
)


def __getattr__(name: str):
    """`from tinytorch.core.transformers import X` gives tinytorch.models.transformer's X."""
    if name not in _OLDER_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tinytorch.models import transformer

    return getattr(transformer, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_OLDER_NAMES))


# %% [markdown]
# ## Systems analysis: where the parameters and the memory go
#
# Per block: attention has 4·D² weights (+4D biases), the MLP 8·D² (+5D), the two LayerNorms
# 4D: about 12·D². Embeddings add (vocab + max_seq_len)·D and the head D·vocab + vocab.


# %%
#| export
def analyze_parameter_scaling(
    configs=((100, 32, 2, 16), (256, 128, 4, 64), (50257, 768, 12, 1024)),
):
    """Print parameters per component for (vocab, embed_dim, layers, context) configurations."""
    rows = []
    for vocab, dim, layers, context in configs:
        embeddings = (vocab + context) * dim
        blocks = layers * (12 * dim * dim + 13 * dim)
        head = dim * vocab + vocab + 2 * dim
        total = embeddings + blocks + head
        rows.append((vocab, dim, layers, total))
        print(
            f"vocab={vocab:6d} D={dim:4d} L={layers:2d}: embeddings {embeddings:>12,d} "
            f"blocks {blocks:>12,d} head {head:>11,d} total {total:>12,d} "
            f"({total * 4 / 2**20:.1f} MiB float32)"
        )
    return rows


def analyze_attention_memory(
    batch: int = 8, num_heads: int = 4, num_layers: int = 2, lengths=(16, 64, 256, 1024)
):
    """Print the float32 MiB that a forward pass keeps for attention weights, all layers."""
    rows = []
    for length in lengths:
        mebibytes = num_layers * batch * num_heads * length * length * 4 / 2**20
        rows.append((length, mebibytes))
        print(f"T={length:5d}: {mebibytes:10.2f} MiB of attention weights over {num_layers} layers")
    return rows


# %% [markdown]
# ## Unit tests

# %%
from tinytorch.core.losses import cross_entropy


# %% nbgrader={"grade": true, "grade_id": "test-layernorm", "locked": true, "points": 20, "schema_version": 3}
def test_layer_norm():
    norm = LayerNorm(6)
    x = Tensor(np.random.randn(3, 4, 6) * 5 + 2)
    y = norm(x).data
    assert np.allclose(y.mean(-1), 0, atol=1e-5) and np.allclose(y.std(-1), 1, atol=1e-3)
    assert len(norm.parameters()) == 2
    x64 = Tensor(np.random.randn(2, 5), requires_grad=True, dtype=np.float64)
    norm64 = LayerNorm(5)
    norm64.gamma.data = np.random.randn(5)
    weights = np.random.randn(2, 5)
    (norm64(x64) * weights).sum().backward()

    def loss_at(values):
        return float((norm64(Tensor(values, dtype=np.float64)).data * weights).sum())

    eps, numeric = 1e-6, np.zeros((2, 5))
    for i in np.ndindex(2, 5):
        plus, minus = x64.data.copy(), x64.data.copy()
        plus[i] += eps
        minus[i] -= eps
        numeric[i] = (loss_at(plus) - loss_at(minus)) / (2 * eps)
    assert np.allclose(x64.grad.data, numeric, atol=1e-6), (
        "the fused backward matches finite differences"
    )


# %% nbgrader={"grade": true, "grade_id": "test-gpt-shapes", "locked": true, "points": 25, "schema_version": 3}
def test_gpt_shapes_and_causality():
    np.random.seed(0)
    model = GPT()
    logits = model(np.random.randint(0, 100, (1, 10)))
    assert logits.shape == (1, 10, 100), "GPT() builds the TinyGPT sizes"
    tokens = np.random.randint(0, 100, (2, 8))
    changed = tokens.copy()
    changed[:, -1] = (changed[:, -1] + 1) % 100
    before, after = model(tokens).data, model(changed).data
    assert np.allclose(before[:, :-1], after[:, :-1], atol=1e-5), "no position sees the future"
    assert model([1, 2, 3]).shape == (1, 3, 100), "a single sequence is a batch of one"
    assert len(model.parameters()) == 2 + 2 * 16 + 2 + 2, "embeddings, 2 blocks of 16, ln_f, head"
    assert (model.num_layers, model.num_heads, model.lm_head.out_features) == (2, 4, 100), (
        "GPT keeps num_layers and num_heads; lm_head projects to the vocabulary"
    )
    block = model.blocks[0]
    assert (block.embed_dim, block.num_heads, block.ln1.normalized_shape) == (32, 4, 32), (
        "TransformerBlock keeps embed_dim and num_heads, LayerNorm its normalized_shape"
    )
    assert (block.mlp.embed_dim, block.mlp.hidden_dim) == (32, 128), "the MLP is 4x wide"
    assert block.mlp.linear1.out_features == 128 and block.mlp.linear2.out_features == 32, (
        "MLP: linear1 widens to hidden_dim, linear2 projects back"
    )
    assert TransformerBlock(32, 4, mlp_ratio=2.5).mlp.hidden_dim == 80, "a float mlp_ratio"
    older = Transformer(
        vocab_size=50, embed_dim=16, num_heads=2, num_layers=3, hidden_dim=24, max_seq_length=20
    )
    assert (older.num_layers, older.num_heads, older.blocks[0].mlp.hidden_dim) == (3, 2, 24), (
        "Transformer: num_heads before num_layers, hidden_dim is the MLP width"
    )
    assert older(np.zeros((2, 5), dtype=int)).shape == (2, 5, 50), "Transformer is a GPT"


# %% nbgrader={"grade": true, "grade_id": "test-generate", "locked": true, "points": 25, "schema_version": 3}
def test_generate():
    np.random.seed(1)
    model = GPT(vocab_size=20, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=8)
    out = model.generate([1, 2, 3], max_new_tokens=12, temperature=0)
    assert isinstance(out, Tensor) and out.shape == (1, 15), "ids (B, T + new); 1-D = batch of 1"
    assert out.data[0, :3].tolist() == [1, 2, 3], "longer than max_seq_len: context is cropped"
    again = model.generate([1, 2, 3], max_new_tokens=12, temperature=0)
    assert np.array_equal(out.data, again.data), "greedy is deterministic"
    a = model.generate([1], 10, temperature=1.0, top_k=3, rng=np.random.default_rng(5))
    b = model.generate([1], 10, temperature=1.0, top_k=3, rng=np.random.default_rng(5))
    assert np.array_equal(a.data, b.data) and a.data.max() < 20, "reproducible with a seed"
    batch = model.generate([[1, 2, 3], [4, 5, 6]], max_new_tokens=4, temperature=0)
    assert batch.shape == (2, 7), "every row of a (B, T) prompt is continued"
    alone = model.generate([4, 5, 6], max_new_tokens=4, temperature=0)
    assert np.array_equal(batch.data[1], alone.data[0]), "rows do not mix"
    stop = int(out.data[0, 4])
    stopped = model.generate([1, 2, 3], 10, temperature=0, stop_token=stop)
    assert stopped.data[0, -1] == stop and stopped.shape[1] <= 13, "stop_token ends the row"


# %% nbgrader={"grade": true, "grade_id": "test-gpt-learns", "locked": true, "points": 30, "schema_version": 3}
def test_gpt_learns_to_count():
    np.random.seed(2)
    model = GPT(vocab_size=12, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=8)
    starts = np.random.randint(0, 12, size=(16, 1))
    data = (starts + np.arange(9)) % 12  # sequences that count up
    first = None
    for _ in range(60):
        loss = cross_entropy(model(data[:, :-1]), data[:, 1:])
        model.zero_grad()
        loss.backward()
        for p in model.parameters():  # plain gradient descent: optimizers are module 06
            p.data -= 0.5 * p.grad.data
        first = first if first is not None else float(loss.data)
    assert float(loss.data) < first / 4, (first, float(loss.data))


# %%
if __name__ == "__main__":
    test_layer_norm()
    test_gpt_shapes_and_causality()
    test_generate()
    test_gpt_learns_to_count()
    analyze_parameter_scaling()
    analyze_attention_memory()
    print("All tests passed for module 13_transformers.")
