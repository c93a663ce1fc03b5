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
# Everything is ready: your tensor and autograd (01, 05), layers (03), embeddings (11) and
# attention (12). A GPT is those pieces stacked. In this module you build the three pieces
# that are still missing (LayerNorm, the MLP, the transformer block), assemble them into a
# GPT, train it on a toy task, and write the loop that makes it generate text.
#
# ```
# ids (B, T) ──► token embedding + position embedding ──► x (B, T, D)
#            ──► N × TransformerBlock:  x = x + Attention(LayerNorm(x), causal mask)
#                                       x = x + MLP(LayerNorm(x))
#            ──► LayerNorm ──► Linear(D, vocab) ──► logits (B, T, vocab)
# ```
#
# The logits at position t score every possible next token after `ids[:, :t+1]`. Training
# minimises the cross-entropy against `ids[:, t+1]`; the causal mask guarantees that
# position t never sees the token it must predict.
#
# **You will learn**
# - LayerNorm as one fused op, with its backward pass derived by hand and checked on numbers;
# - the residual stream, and why GPT-2 normalises *before* each sub-layer (pre-norm);
# - where a transformer's parameters live (about 12·D² per block) and what that means for
#   the TinyGPT sizes;
# - how a language model is trained (inputs and shifted targets) and how it generates
#   (temperature, top-k, context cropping, batches, stop tokens);
# - what generation costs: you will time it against the prompt length, measure the memory a
#   forward pass keeps, and compare the arithmetic with the time it takes.
#
# Sizes used throughout: B = batch, T = sequence length, D = `embed_dim`, H = `num_heads`,
# V = `vocab_size`, L = `num_layers`.

# %%
#| default_exp models.transformer
#| export
import numpy as np

from tinytorch.core.activations import GELU
from tinytorch.core.attention import MultiHeadAttention, causal_mask
from tinytorch.core.autograd import gradient_rule, no_grad
from tinytorch.core.layers import Dropout, Linear, Module
from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import Embedding, PositionalEncoding

# %% [markdown]
# ## 1. LayerNorm: the forward pass
#
# Deep networks train badly when the scale of the activations drifts from layer to layer.
# LayerNorm fixes the scale **per position**: it takes the D features of one token, shifts
# them to mean 0, scales them to variance 1, then applies a learned scale γ and shift β
# (one number per feature, so the network can undo the normalisation where that helps):
#
# ```
# μ = mean(x)        σ² = mean((x − μ)²)        (over the last axis, the D features)
# x̂ = (x − μ) / √(σ² + ε)                       (ε = 1e-5 keeps a constant row finite)
# y = γ · x̂ + β                                 (γ starts at 1, β at 0)
# ```
#
# **Worked example** (D = 4, γ = 1, β = 0, ε ignored): x = [2, 4, 6, 8].
#
# ```
# μ = 5      x − μ = [−3, −1, 1, 3]      σ² = (9 + 1 + 1 + 9) / 4 = 5      √5 = 2.236
# x̂ = [−3, −1, 1, 3] / 2.236 = [−1.342, −0.447, 0.447, 1.342]
# ```
#
# With γ = [2, 2, 2, 2] and β = [1, 1, 1, 1] the output is 2·x̂ + 1 = [−1.683, 0.106, 1.894,
# 3.683]. Unlike BatchNorm, nothing is averaged across the batch: each of the B·T positions is
# normalised on its own, so LayerNorm behaves the same in training and generation, for any
# batch size.
#
# **One op, not ten.** Built from Tensor ops (mean, subtract, square, mean, add, sqrt,
# divide, multiply, add) LayerNorm would record about ten graph nodes, each keeping an array
# of x's size alive for backward. As **one** op it records one node and keeps two arrays, and
# its backward is one formula, which we derive in section 2.
#
# ### Specification
#
# `LayerNorm(normalized_shape, eps=1e-5)` is given: `gamma` (ones) and `beta` (zeros), both
# of shape `(normalized_shape,)` and `requires_grad=True`, and `normalized_shape`, `eps`.
# You write `forward(x)`:
#
# - x has shape `(..., D)` with D = `normalized_shape` (any number of leading axes); raise
#   `ValueError` (naming both sizes) if the last axis is not D.
# - Compute in NumPy on `x.data`: the mean and the variance over the last axis with
#   `keepdims=True`, `inv_std = 1 / sqrt(var + eps)` (shape `(..., 1)`),
#   `normalized = (x − mean) · inv_std` (shape `(..., D)`), and
#   `out = normalized · gamma.data + beta.data`.
# - Return **exactly** `Tensor.from_op(out, "layer_norm", (x, self.gamma, self.beta),
#   (normalized, inv_std))`: the op name, the three inputs **in this order**, and the two saved
#   arrays **in this order**. Section 2's gradient rule reads them back in that order.
#
# Example: `LayerNorm(4)(Tensor([[2.0, 4.0, 6.0, 8.0]]))` is `[[−1.342, −0.447, 0.447, 1.342]]`.


# %% nbgrader={"grade": false, "grade_id": "layernorm", "locked": false, "schema_version": 3, "solution": true}
#| export
class LayerNorm(Module):
    """Normalise the last dimension to zero mean and unit variance, then scale and shift."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5):
        super().__init__()
        self.normalized_shape, self.eps = normalized_shape, eps
        self.gamma = Tensor(np.ones(normalized_shape), requires_grad=True)
        self.beta = Tensor(np.zeros(normalized_shape), requires_grad=True)

    def forward(self, x) -> Tensor:
        """γ·(x − μ)/√(σ² + ε) + β over the last axis, recorded as ONE op "layer_norm".

        Returns Tensor.from_op(out, "layer_norm", (x, gamma, beta), (normalized, inv_std)),
        normalized of x's shape, inv_std of shape (..., 1). ValueError if x.shape[-1] != D.
        """
        x = x if isinstance(x, Tensor) else Tensor(x)
        ### BEGIN SOLUTION
        if x.ndim == 0 or x.shape[-1] != self.normalized_shape:
            raise ValueError(
                f"LayerNorm({self.normalized_shape}) expects inputs of shape "
                f"(..., {self.normalized_shape}), got {x.shape}."
            )
        mean = x.data.mean(axis=-1, keepdims=True)
        centered = x.data - mean
        variance = (centered * centered).mean(axis=-1, keepdims=True)
        inv_std = 1.0 / np.sqrt(variance + self.eps)  # (..., 1)
        normalized = centered * inv_std  # (..., D)
        out = normalized * self.gamma.data + self.beta.data
        return Tensor.from_op(out, "layer_norm", (x, self.gamma, self.beta), (normalized, inv_std))
        ### END SOLUTION


# %% [markdown]
# ### Test: LayerNorm forward
#
# **What this checks and why.** The worked example (with and without γ and β), that every
# position of a random `(3, 4, 6)` input comes out with mean 0 and standard deviation 1, and
# the recorded op: its name, its inputs in the order `(x, gamma, beta)` and its saved arrays
# `(normalized, inv_std)`. The backward rule of section 2 relies on that record, so a forward
# that returns the right numbers but records something else would break training silently.


# %% nbgrader={"grade": true, "grade_id": "test-layernorm-forward", "locked": true, "points": 10, "schema_version": 3}
def test_layer_norm_forward():
    norm = LayerNorm(4)
    y = norm(Tensor([[2.0, 4.0, 6.0, 8.0]])).data
    expected = [[-1.3416, -0.4472, 0.4472, 1.3416]]
    assert np.allclose(y, expected, atol=1e-3), f"LayerNorm([2, 4, 6, 8]): {expected}, got {y}"
    norm.gamma.data[:] = 2.0
    norm.beta.data[:] = 1.0
    y = norm(Tensor([[2.0, 4.0, 6.0, 8.0]])).data
    assert np.allclose(y, 2 * np.array(expected) + 1, atol=1e-3), (
        f"with γ = 2 and β = 1 the output is 2·x̂ + 1, got {y}"
    )
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(3, 4, 6)) * 5 + 2, requires_grad=True)
    out = LayerNorm(6)(x)
    assert out.shape == (3, 4, 6), f"LayerNorm keeps the shape (3, 4, 6), got {out.shape}"
    assert np.allclose(out.data.mean(-1), 0, atol=1e-5), (
        f"every position must have mean 0, got {out.data.mean(-1)}"
    )
    assert np.allclose(out.data.std(-1), 1, atol=1e-3), (
        f"every position must have standard deviation 1, got {out.data.std(-1)}"
    )
    assert out._op == "layer_norm", f"record ONE op named 'layer_norm', got {out._op!r}"
    assert len(out._inputs) == 3 and out._inputs[0] is x, "the first recorded input is x"
    layer = LayerNorm(6)
    out = layer(x)
    assert out._inputs[1] is layer.gamma and out._inputs[2] is layer.beta, (
        "the recorded inputs are (x, gamma, beta), in that order"
    )
    normalized, inv_std = out._saved
    assert np.shape(normalized) == (3, 4, 6) and np.shape(inv_std) == (3, 4, 1), (
        f"saved (normalized (3, 4, 6), inv_std (3, 4, 1)), got shapes "
        f"{np.shape(normalized)} and {np.shape(inv_std)}"
    )
    assert np.allclose(normalized, out.data), "with γ = 1, β = 0 the output is `normalized`"
    assert len(layer.parameters()) == 2, "LayerNorm has two parameters, gamma and beta"
    try:
        LayerNorm(6)(Tensor(np.ones((2, 5))))
    except ValueError:
        pass
    else:
        raise AssertionError("LayerNorm(6) must refuse an input whose last axis is 5")


if __name__ == "__main__":
    test_layer_norm_forward()

# %% [markdown]
# ## 2. LayerNorm: the backward pass, derived
#
# The engine (module 05) calls the rule of `"layer_norm"` with g = dL/dy, of y's shape. It
# needs three gradients, one per recorded input. Work on one position (a row of D numbers);
# write s = 1/√(σ² + ε) for `inv_std`, so x̂ᵢ = (xᵢ − μ)·s.
#
# **γ and β** are easy: yᵢ = γᵢ·x̂ᵢ + βᵢ, so dL/dγᵢ = gᵢ·x̂ᵢ and dL/dβᵢ = gᵢ, summed over every
# position (γ and β are shared by all of them). Return `g * normalized` and `g`, of x's shape:
# the engine un-broadcasts them to `(D,)` (module 05), exactly as for a bias.
#
# **x** is the interesting one, because every xⱼ moves μ and σ², and so every x̂ᵢ of the row.
# First pass g through γ: ĝᵢ = dL/dx̂ᵢ = gᵢ·γᵢ. Then the chain rule through x̂ᵢ = (xᵢ − μ)·s:
#
# ```
# dμ/dxⱼ  = 1/D
# dσ²/dxⱼ = (2/D)·(xⱼ − μ)                 (the term through μ sums to 0: Σ(xᵢ − μ) = 0)
# ds/dxⱼ  = −½·s³·dσ²/dxⱼ = −s³·(xⱼ − μ)/D = −s²·x̂ⱼ/D
#
# dx̂ᵢ/dxⱼ = (δᵢⱼ − 1/D)·s + (xᵢ − μ)·ds/dxⱼ = s·(δᵢⱼ − 1/D − x̂ᵢ·x̂ⱼ/D)
#
# dL/dxⱼ  = Σᵢ ĝᵢ·dx̂ᵢ/dxⱼ = s·(ĝⱼ − mean(ĝ) − x̂ⱼ·mean(ĝ·x̂))
# ```
#
# The final formula, per row, with `mean` over the last axis:
#
# ```
# dL/dx = (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)) · s          ĝ = g · γ
# ```
#
# The two `mean` terms are what normalising takes away. Adding the same c to every xⱼ changes
# nothing after normalisation, so the gradient must sum to 0 over a row (subtracting mean(ĝ)
# makes it so); scaling a row by a factor changes nothing either, so the gradient must be
# orthogonal to x̂ (subtracting x̂·mean(ĝ·x̂) makes it so).
#
# **Tiny numeric check** (D = 3, γ = 1, ε ignored): x = [1, 2, 3], g = [1, 0, 0], so L = y₀.
#
# ```
# μ = 2   σ² = 2/3   s = 1.2247   x̂ = [−1.2247, 0, 1.2247]   ĝ = g = [1, 0, 0]
# ĝ − mean(ĝ)        = [1, 0, 0] − 1/3                 = [ 0.6667, −0.3333, −0.3333]
# mean(ĝ·x̂)          = −1.2247 / 3 = −0.4082;  x̂ · it   = [ 0.5,     0,       −0.5   ]
# difference         = [0.1667, −0.3333, 0.1667];   · s  = [ 0.2041, −0.4082,  0.2041]
# ```
#
# By finite differences: x = [1.01, 2, 3] gives y₀ = −1.222677 and x = [0.99, 2, 3] gives
# y₀ = −1.226760, slope (−1.222677 + 1.226760)/0.02 = 0.2041. ✓ The gradient sums to 0 and
# is orthogonal to x̂ = [−1.22, 0, 1.22], as argued above.
#
# ### Specification
#
# `_layer_norm_grad(g, out)` is registered for `"layer_norm"` and follows module 05's rule
# contract:
#
# - `x, gamma, beta = out._inputs` and `normalized, inv_std = out._saved` (the order of
#   section 1's `from_op` call); `g` is an ndarray of `out`'s shape `(..., D)`.
# - Return the tuple `(grad_x, grad_gamma, grad_beta)`, in the order of the inputs:
#   `grad_x` from the final formula above (shape `(..., D)`), `grad_gamma = g · normalized`
#   and `grad_beta = g`, both of shape `(..., D)` (the engine sums them to `(D,)`).
# - Do not write into `g` or the saved arrays.
#
# Example: for the numeric check above, the rule returns `grad_x ≈ [0.2041, −0.4082, 0.2041]`,
# `grad_gamma = [−1.2247, 0, 0]`, `grad_beta = [1, 0, 0]`.


# %% nbgrader={"grade": false, "grade_id": "layernorm-backward", "locked": false, "schema_version": 3, "solution": true}
#| export
@gradient_rule("layer_norm")
def _layer_norm_grad(g, out):
    """dL/d(x, gamma, beta) of y = γ·x̂ + β: ((ĝ − mean ĝ − x̂·mean(ĝ·x̂))·s, g·x̂, g), ĝ = g·γ."""
    ### BEGIN SOLUTION
    x, gamma, beta = out._inputs
    normalized, inv_std = out._saved
    g_hat = g * gamma.data
    mean_g = g_hat.mean(axis=-1, keepdims=True)
    mean_gx = (g_hat * normalized).mean(axis=-1, keepdims=True)
    grad_x = (g_hat - mean_g - normalized * mean_gx) * inv_std
    return grad_x, g * normalized, g
    ### END SOLUTION


# %% [markdown]
# ### Test: LayerNorm backward
#
# **What this checks and why.** The rule is called directly on the numeric check above (the
# three gradients, in order), then the whole op goes through the engine with a random γ and
# unequal weights on the outputs (a plain `sum()` of a normalised row has gradient 0 for x,
# which would hide a wrong formula) and is compared with central finite differences in
# float64. Finally γ's and β's gradients must come back un-broadcast to `(D,)`.


# %% nbgrader={"grade": true, "grade_id": "test-layernorm", "locked": true, "points": 10, "schema_version": 3}
def test_layer_norm_backward():
    x = Tensor([[1.0, 2.0, 3.0]], requires_grad=True, dtype=np.float64)
    out = LayerNorm(3)(x)
    grads = _layer_norm_grad(np.array([[1.0, 0.0, 0.0]]), out)
    assert len(grads) == 3, f"return (grad_x, grad_gamma, grad_beta), got {len(grads)} entries"
    grad_x, grad_gamma, grad_beta = (np.asarray(a) for a in grads)
    assert np.allclose(grad_x, [[0.2041, -0.4082, 0.2041]], atol=1e-4), (
        f"x = [1, 2, 3], g = [1, 0, 0]: grad_x = [0.2041, -0.4082, 0.2041], got {grad_x}"
    )
    assert np.allclose(grad_gamma, [[-1.2247, 0.0, 0.0]], atol=1e-4), (
        f"grad_gamma = g · x̂ = [-1.2247, 0, 0], got {grad_gamma}"
    )
    assert np.allclose(grad_beta, [[1.0, 0.0, 0.0]]), f"grad_beta = g, got {grad_beta}"

    rng = np.random.default_rng(1)
    x64 = Tensor(rng.normal(size=(2, 5)), requires_grad=True, dtype=np.float64)
    norm64 = LayerNorm(5)
    norm64.gamma.data = rng.normal(size=5)
    weights = rng.normal(size=(2, 5))
    (norm64(x64) * weights).sum().backward()

    def loss_at(values):
        return float((norm64(Tensor(values, dtype=np.float64)).data * weights).sum())

    eps, numeric = 1e-6, np.zeros((2, 5))
    for i in np.ndindex(2, 5):
        plus, minus = x64.data.copy(), x64.data.copy()
        plus[i] += eps
        minus[i] -= eps
        numeric[i] = (loss_at(plus) - loss_at(minus)) / (2 * eps)
    error = np.abs(x64.grad.data - numeric).max()
    assert error < 1e-6, f"dL/dx differs from finite differences by {error:.2e}"
    assert norm64.gamma.grad.shape == (5,) and norm64.beta.grad.shape == (5,), (
        f"γ and β get gradients of shape (5,), got {norm64.gamma.grad.shape}, "
        f"{norm64.beta.grad.shape}"
    )
    assert np.allclose(norm64.beta.grad.data, weights.sum(0)), (
        "dL/dβ is g summed over every position"
    )
    ### BEGIN HIDDEN TESTS
    x3 = Tensor(rng.normal(size=(2, 3, 4)) * 3, requires_grad=True, dtype=np.float64)
    norm3 = LayerNorm(4)
    norm3.gamma.data = rng.normal(size=4)
    w3 = rng.normal(size=(2, 3, 4))
    (norm3(x3) * w3).sum().backward()
    xn = (x3.data - x3.data.mean(-1, keepdims=True)) / np.sqrt(
        x3.data.var(-1, keepdims=True) + 1e-5
    )
    assert np.allclose(norm3.gamma.grad.data, (w3 * xn).sum((0, 1))), "dL/dγ on a 3-D input"
    assert np.allclose(x3.grad.data.sum(-1), 0, atol=1e-8), "dL/dx sums to 0 over each row"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_layer_norm_backward()

# %% [markdown]
# ## 3. The MLP: 4× wide, one position at a time
#
# Attention mixes information **across** positions; the MLP then transforms **each position
# on its own**, with the same weights for all of them. It widens the D features to a hidden
# width H, applies GELU, and projects back to D:
#
# ```
# x (B, T, D) ──linear1──► (B, T, H) ──GELU──► (B, T, H) ──linear2──► (B, T, D) ──dropout──►
# ```
#
# **Why 4×.** GPT-2 and most transformers since use H = 4·D. The wide hidden layer is where
# the model has room to store what it has learned (per-token features, "facts"); a narrower
# one trains worse, a wider one costs parameters and time for little gain. The MLP holds
# **two thirds** of a block's weights:
#
# ```
# linear1: D·H + H = 4D² + 4D      linear2: H·D + D = 4D² + D      MLP total: 8D² + 5D
# ```
#
# For D = 32 that is 8·1024 + 160 = 8,352 parameters (attention's four D×D projections have
# 4,224).
#
# ### Specification
#
# `MLP(embed_dim, hidden_dim=None, dropout_prob=0.1)`. In `__init__`, after `super().__init__()`
# and the given `embed_dim`, create, **in this order** (the names are the API):
#
# - `self.hidden_dim`: `hidden_dim`, or `4 * embed_dim` when it is None;
# - `self.linear1 = Linear(embed_dim, hidden_dim)`, `self.gelu = GELU()` (the tanh
#   approximation, module 02's default; module 14 reads `mlp.gelu`),
#   `self.linear2 = Linear(hidden_dim, embed_dim)`, `self.dropout = Dropout(dropout_prob)`.
#
# `forward(x)`: x `(..., D)` to `(..., D)`: `dropout(linear2(gelu(linear1(x))))`.
# Example: `MLP(8).hidden_dim == 32`, and `MLP(8)(np.zeros((2, 3, 8))).shape == (2, 3, 8)`.


# %% nbgrader={"grade": false, "grade_id": "mlp", "locked": false, "schema_version": 3, "solution": true}
#| export
class MLP(Module):
    """Linear(D, H) -> GELU -> Linear(H, D) -> Dropout, with H = hidden_dim (default 4D)."""

    def __init__(self, embed_dim: int, hidden_dim: int | None = None, dropout_prob: float = 0.1):
        """Create hidden_dim (default 4·embed_dim), linear1, gelu, linear2, dropout in order."""
        super().__init__()
        self.embed_dim = embed_dim
        ### BEGIN SOLUTION
        self.hidden_dim = hidden_dim or 4 * embed_dim
        self.linear1 = Linear(embed_dim, self.hidden_dim)
        self.gelu = GELU()
        self.linear2 = Linear(self.hidden_dim, embed_dim)
        self.dropout = Dropout(dropout_prob)
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        """(..., D) -> (..., D): dropout(linear2(gelu(linear1(x))))."""
        ### BEGIN SOLUTION
        hidden = self.linear1(x)  # (..., H)
        hidden = self.gelu(hidden)
        out = self.linear2(hidden)  # (..., D)
        return self.dropout(out)
        ### END SOLUTION


# %% [markdown]
# ### Test: the MLP
#
# **What this checks and why.** The sizes (4× by default, or the given `hidden_dim`), the
# parameter count 8D² + 5D, and the values against a NumPy computation with the same weights
# and the tanh GELU formula, so swapping the two layers or forgetting the activation fails.


# %% nbgrader={"grade": true, "grade_id": "test-mlp", "locked": true, "points": 5, "schema_version": 3}
def test_mlp():
    mlp = MLP(8, dropout_prob=0.0)
    assert (mlp.embed_dim, mlp.hidden_dim) == (8, 32), (
        f"MLP(8) is 4x wide: (embed_dim, hidden_dim) = (8, 32), got {(mlp.embed_dim, mlp.hidden_dim)}"
    )
    assert mlp.linear1.weight.shape == (8, 32) and mlp.linear2.weight.shape == (32, 8), (
        f"linear1 widens D -> H, linear2 projects back: got {mlp.linear1.weight.shape}, "
        f"{mlp.linear2.weight.shape}"
    )
    assert mlp.num_parameters() == 8 * 8**2 + 5 * 8, (
        f"the MLP has 8D² + 5D = 552 parameters, got {mlp.num_parameters()}"
    )
    assert MLP(8, hidden_dim=12).hidden_dim == 12, "an explicit hidden_dim is kept"
    x = np.random.default_rng(2).normal(size=(2, 3, 8))
    h = x @ mlp.linear1.weight.data + mlp.linear1.bias.data
    h = 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h**3)))
    expected = h @ mlp.linear2.weight.data + mlp.linear2.bias.data
    got = mlp(x).data
    assert got.shape == (2, 3, 8), f"the MLP keeps the shape (2, 3, 8), got {got.shape}"
    assert np.allclose(got, expected, atol=1e-5), (
        f"MLP(x) = linear2(gelu(linear1(x))): largest difference {np.abs(got - expected).max()}"
    )


if __name__ == "__main__":
    test_mlp()

# %% [markdown]
# ## 4. The transformer block and the residual stream
#
# A block reads the **residual stream** x, computes something from a normalised copy of it,
# and **adds** the result back; it never replaces x:
#
# ```
#   x ──────────────────────┬──────────────────► (+) ──► x' ─────────────┬─────────► (+) ──► out
#   (B, T, D)               │                     ▲                      │            ▲
#                           └─► ln1 ─► attention ─┘                      └─► ln2 ─► mlp
#                                      (mask)
#
#   x'  = x  + attention(ln1(x), mask)        positions exchange information
#   out = x' + mlp(ln2(x'))                   each position is transformed on its own
# ```
#
# **Why the residual.** The derivative of x + f(x) is 1 + f'(x): however many blocks are
# stacked, the gradient has a direct path (the "1") from the loss to the first layer, so a
# 12- or 96-layer model still trains. At initialisation each f is small and the whole model
# is close to the identity on the stream; each block learns a correction. (Module 05's engine
# adds the two contributions that x receives: one through f, one along the stream.)
#
# **Pre-norm vs post-norm.** The original transformer (2017) normalised *after* the add:
# `x = LayerNorm(x + f(x))` (post-norm). Then every block rescales the stream, the gradient
# must pass through every LayerNorm on its way down, and deep post-norm models need a careful
# learning-rate warm-up to train at all. GPT-2 moved the norm *inside the branch*:
# `x = x + f(LayerNorm(x))` (pre-norm). The stream itself is never normalised, the identity
# path stays clean, and f always sees inputs of a stable scale. The price: the stream grows
# with depth, so a final LayerNorm (`ln_f` in the GPT) is needed before the output layer.
#
# **Parameters per block** (D = `embed_dim`, MLP 4× wide):
#
# ```
# attention  4 × (D·D + D)  = 4D²  + 4D      (q, k, v and output projections)
# MLP        8D² + 5D                         (section 3)
# 2 × LayerNorm (γ and β)   =        4D
# block                     = 12D² + 13D      D = 32: 12,288 + 416 = 12,704
# ```
#
# **The mask.** `forward(x, mask=None)` passes `mask` on to the attention unchanged
# (module 12's convention: a boolean mask with True = "may attend", or a float mask added to
# the scores). `mask=None` means **no mask**: every position attends to every position, in
# both directions (an encoder, as in BERT). A GPT passes `causal_mask(T)` so that position t
# sees only 0..t.
#
# ### Specification
#
# `TransformerBlock(embed_dim, num_heads, mlp_ratio=4, dropout_prob=0.1)`. In `__init__`,
# after the given `super().__init__()`, `embed_dim` and `num_heads`, create **in this order**:
# `self.ln1 = LayerNorm(embed_dim)`, `self.attention = MultiHeadAttention(embed_dim,
# num_heads)`, `self.ln2 = LayerNorm(embed_dim)`, `self.mlp = MLP(embed_dim,
# round(mlp_ratio * embed_dim), dropout_prob)` (a float ratio such as 2.5 gives a width of
# round(2.5·D)).
#
# `forward(x, mask=None)`: x `(B, T, D)` (array-likes are turned into a Tensor for you) to
# `(B, T, D)`, pre-norm as drawn above. Example: with `out_proj` and `linear2` set to zero
# (weights and biases), both branches add 0 and the block returns x unchanged.


# %% nbgrader={"grade": false, "grade_id": "block", "locked": false, "schema_version": 3, "solution": true}
#| export
class TransformerBlock(Module):
    """Pre-norm block: x + attention(ln1(x), mask), then x + mlp(ln2(x)).

    The MLP is round(mlp_ratio * embed_dim) wide; mlp_ratio may be a float (2.5, 4.0).
    """

    def __init__(
        self, embed_dim: int, num_heads: int, mlp_ratio: float = 4, dropout_prob: float = 0.1
    ):
        """Create ln1, attention, ln2 and mlp (round(mlp_ratio·D) wide), in this order."""
        super().__init__()
        self.embed_dim, self.num_heads = embed_dim, num_heads
        ### BEGIN SOLUTION
        self.ln1 = LayerNorm(embed_dim)
        self.attention = MultiHeadAttention(embed_dim, num_heads)
        self.ln2 = LayerNorm(embed_dim)
        self.mlp = MLP(embed_dim, round(mlp_ratio * embed_dim), dropout_prob)
        ### END SOLUTION

    def forward(self, x, mask=None) -> Tensor:
        """(B, T, D) -> (B, T, D): x + attention(ln1(x), mask), then + mlp(ln2(·)).

        mask is passed to the attention as it is; None means every position sees every one.
        """
        x = x if isinstance(x, Tensor) else Tensor(x)
        ### BEGIN SOLUTION
        x = x + self.attention(self.ln1(x), mask)  # (B, T, D): positions exchange information
        return x + self.mlp(self.ln2(x))  # (B, T, D): each position on its own
        ### END SOLUTION


# %% [markdown]
# ### Test: the block
#
# **What this checks and why.** The sizes and the parameter count 12D² + 13D; that with both
# branches silenced the block is the identity (the residual path is there, the stream is not
# normalised); the output against the pre-norm formula computed from the block's own pieces
# (a post-norm block, or one that adds `ln1(x)` instead of x, fails here); and the mask: with
# `causal_mask(T)` changing the last token changes no earlier output, with `mask=None` it does.


# %% nbgrader={"grade": true, "grade_id": "test-block", "locked": true, "points": 10, "schema_version": 3}
def test_transformer_block():
    np.random.seed(3)
    block = TransformerBlock(16, 4, dropout_prob=0.0)
    assert (block.embed_dim, block.num_heads, block.mlp.hidden_dim) == (16, 4, 64), (
        "TransformerBlock(16, 4) keeps embed_dim and num_heads; its MLP is 4x wide"
    )
    count = block.num_parameters()
    assert count == 12 * 16**2 + 13 * 16, f"a block has 12D² + 13D = 3280 parameters, got {count}"
    assert TransformerBlock(32, 4, mlp_ratio=2.5).mlp.hidden_dim == 80, (
        "mlp_ratio 2.5 gives an MLP of round(2.5 · 32) = 80"
    )
    x = np.random.default_rng(4).normal(size=(2, 5, 16))
    mask = causal_mask(5)
    expected_mid = x + block.attention(block.ln1(Tensor(x)), mask).data
    expected = expected_mid + block.mlp(block.ln2(Tensor(expected_mid))).data
    got = block(x, mask).data
    assert np.allclose(got, expected, atol=1e-5), (
        f"pre-norm: x + attn(ln1(x)), then + mlp(ln2(.)); largest difference "
        f"{np.abs(got - expected).max():.3g}"
    )
    changed = x.copy()
    changed[:, -1, :3] += 1.0  # not all features: LayerNorm would remove a uniform shift
    after = block(changed, mask).data
    assert np.allclose(after[:, :-1], got[:, :-1], atol=1e-5), (
        "with the causal mask, changing the last position changes no earlier output"
    )
    unmasked = block(x).data
    unmasked_changed = block(changed).data
    assert not np.allclose(unmasked[:, 0], unmasked_changed[:, 0], atol=1e-5), (
        "with mask=None every position attends to every position (the first one too)"
    )
    for linear in (block.attention.out_proj, block.mlp.linear2):
        linear.weight.data[:] = 0.0
        linear.bias.data[:] = 0.0
    silent = block(x * 10, mask).data
    assert np.allclose(silent, x * 10, atol=1e-4), (
        "with both branches at zero the block must return x unchanged (x + 0 + 0): "
        "the residual stream itself is not normalised"
    )


if __name__ == "__main__":
    test_transformer_block()

# %% [markdown]
# ## 5. GPT: from ids to logits
#
# ```
# ids (B, T) int ──token_embedding──► (B, T, D)
#                ──position_embedding (adds row t of a learned (max_seq_len, D) table)──►
#                ──blocks[0] .. blocks[L−1], each with mask = causal_mask(T)──► (B, T, D)
#                ──ln_f──► (B, T, D) ──lm_head = Linear(D, V)──► logits (B, T, V)
# ```
#
# **Parameters of the TinyGPT sizes.** `GPT()` is V = 100, D = 32, L = 2, H = 4 and
# `max_seq_len` = 1024:
#
# ```
# token embedding     V · D          =  100 · 32          =  3,200
# position embedding  max_seq_len·D  = 1024 · 32          = 32,768
# 2 blocks            2 · (12D² + 13D) = 2 · 12,704       = 25,408
# ln_f                2D                                  =     64
# lm_head             D · V + V      = 3,200 + 100        =  3,300
# total                                                   = 64,740
# ```
#
# Half of TinyGPT is its position table (sized for 1,024 positions it hardly uses); in
# GPT-2 small (V = 50,257, D = 768, L = 12) the blocks dominate: 12 · 12 · 768² ≈ 85 M of
# its 124 M parameters (`analyze_parameter_scaling()` below prints both).
#
# ### Specification
#
# `GPT(vocab_size=100, embed_dim=32, num_layers=2, num_heads=4, max_seq_len=1024,
# dropout_prob=0.0, mlp_ratio=4)`. The sizes are stored for you; create **in this order**:
# `self.token_embedding = Embedding(vocab_size, embed_dim)`, `self.position_embedding =
# PositionalEncoding(max_seq_len, embed_dim)`, `self.blocks`: a Python list of `num_layers`
# `TransformerBlock(embed_dim, num_heads, mlp_ratio, dropout_prob)`,
# `self.ln_f = LayerNorm(embed_dim)`, `self.lm_head = Linear(embed_dim, vocab_size)`.
#
# `forward(tokens)`: the given code turns `tokens` (a list, an array, a Tensor) into an
# integer array `ids` of shape `(B, T)` (a 1-D sequence becomes a batch of one) and raises
# `ValueError` if T > `max_seq_len`. You compute the logits `(B, T, V)` as drawn above, with
# `causal_mask(T)` passed to every block. Example: `GPT()([1, 2, 3]).shape == (1, 3, 100)`.


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
        """Create token_embedding, position_embedding, blocks (a list), ln_f, lm_head."""
        super().__init__()
        self.vocab_size, self.embed_dim, self.max_seq_len = vocab_size, embed_dim, max_seq_len
        self.num_layers, self.num_heads = num_layers, num_heads
        ### BEGIN SOLUTION
        self.token_embedding = Embedding(vocab_size, embed_dim)
        self.position_embedding = PositionalEncoding(max_seq_len, embed_dim)
        self.blocks = [
            TransformerBlock(embed_dim, num_heads, mlp_ratio, dropout_prob)
            for _ in range(num_layers)
        ]
        self.ln_f = LayerNorm(embed_dim)
        self.lm_head = Linear(embed_dim, vocab_size)
        ### END SOLUTION

    def forward(self, tokens) -> Tensor:
        """Token ids (B, T) or (T,) -> next-token logits (B, T, vocab_size), causally masked."""
        ids = np.asarray(tokens.data if isinstance(tokens, Tensor) else tokens)
        if ids.ndim == 1:
            ids = ids[None, :]
        if ids.ndim != 2:
            raise ValueError(f"GPT expects token ids of shape (batch, seq), got {ids.shape}.")
        length = ids.shape[1]
        if length > self.max_seq_len:
            raise ValueError(f"Sequence length {length} exceeds max_seq_len {self.max_seq_len}.")
        ### BEGIN SOLUTION
        x = self.token_embedding(ids)  # (B, T, D)
        x = self.position_embedding(x)  # + the first T rows of the position table
        mask = causal_mask(length)  # (T, T): position t sees 0..t
        for block in self.blocks:
            x = block(x, mask)  # (B, T, D)
        return self.lm_head(self.ln_f(x))  # (B, T, V)
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
        between steps (module 14): the same tokens, faster. The loop is `_generate_ids`
        (section 8); this method checks the prompt and switches to eval mode and no_grad.
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
        rng = rng or np.random.default_rng()
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                ids = _generate_ids(self, ids, max_new_tokens, temperature, top_k, stop_token, rng)
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
# ### Test: the GPT forward pass
#
# **What this checks and why.** The TinyGPT sizes and attributes, the parameter count of the
# table above (64,740), the logits against the pipeline composed by hand from the model's own
# pieces, causality across the whole model (changing the last token changes no earlier
# logits: one wrong mask in one block would leak the future), a 1-D sequence as a batch of
# one, a too-long input refused, and the older `Transformer` names.


# %% nbgrader={"grade": true, "grade_id": "test-gpt-shapes", "locked": true, "points": 15, "schema_version": 3}
def test_gpt_shapes_and_causality():
    np.random.seed(0)
    model = GPT()
    count = model.num_parameters()
    assert count == 64_740, f"GPT() has 64,740 parameters (see the table), got {count:,}"
    logits = model(np.random.randint(0, 100, (1, 10)))
    assert logits.shape == (1, 10, 100), f"GPT() logits are (1, 10, 100), got {logits.shape}"
    tokens = np.random.randint(0, 100, (2, 8))
    x = model.position_embedding(model.token_embedding(tokens))
    for block in model.blocks:
        x = block(x, causal_mask(8))
    expected = model.lm_head(model.ln_f(x)).data
    before = model(tokens).data
    assert np.allclose(before, expected, atol=1e-5), (
        "logits = lm_head(ln_f(blocks(token + position embeddings))) with a causal mask; "
        f"largest difference {np.abs(before - expected).max():.3g}"
    )
    changed = tokens.copy()
    changed[:, -1] = (changed[:, -1] + 1) % 100
    after = model(changed).data
    assert np.allclose(before[:, :-1], after[:, :-1], atol=1e-5), (
        "no position may see the future: changing the last token changed earlier logits"
    )
    assert model([1, 2, 3]).shape == (1, 3, 100), "a single sequence (T,) is a batch of one"
    assert len(model.parameters()) == 2 + 2 * 16 + 2 + 2, (
        f"2 embeddings, 2 blocks of 16 tensors, ln_f (2), lm_head (2): 38 parameter tensors, "
        f"got {len(model.parameters())}"
    )
    assert (model.num_layers, model.num_heads, model.lm_head.out_features) == (2, 4, 100), (
        "GPT keeps num_layers and num_heads; lm_head projects to the vocabulary"
    )
    block = model.blocks[0]
    assert (block.embed_dim, block.num_heads, block.ln1.normalized_shape) == (32, 4, 32), (
        "TransformerBlock keeps embed_dim and num_heads, LayerNorm its normalized_shape"
    )
    try:
        GPT(max_seq_len=4)([1, 2, 3, 4, 5])
    except ValueError:
        pass
    else:
        raise AssertionError("5 tokens exceed max_seq_len 4: forward must raise ValueError")
    older = Transformer(
        vocab_size=50, embed_dim=16, num_heads=2, num_layers=3, hidden_dim=24, max_seq_length=20
    )
    assert (older.num_layers, older.num_heads, older.blocks[0].mlp.hidden_dim) == (3, 2, 24), (
        "Transformer: num_heads before num_layers, hidden_dim is the MLP width"
    )
    assert older(np.zeros((2, 5), dtype=int)).shape == (2, 5, 50), "Transformer is a GPT"


if __name__ == "__main__":
    test_gpt_shapes_and_causality()

# %% [markdown]
# ## 6. Training a language model: inputs and shifted targets
#
# A language model learns from plain text, with no labels: the label of each position is
# simply **the next token**. From one sequence of T + 1 tokens we get T training examples at
# once, one per position. Take "hello" with the vocabulary e = 2, h = 3, l = 4, o = 5:
#
# ```
# sequence          h   e   l   l   o         ids [3, 2, 4, 4, 5]
# inputs  = [:-1]   h   e   l   l             ids [3, 2, 4, 4]
# targets = [1:]    e   l   l   o             ids [2, 4, 4, 5]
#
# position 0 sees "h"     and must predict "e"
# position 1 sees "he"    and must predict "l"
# position 2 sees "hel"   and must predict "l"
# position 3 sees "hell"  and must predict "o"
# ```
#
# The model gets `inputs` (B, T), returns logits (B, T, V), and the loss is
# `cross_entropy(logits, targets)` over all B·T positions (module 04 accepts any leading
# shape). This works only because of the causal mask: without it, position 0 could read
# "e" from position 1 of its own input and the task would be trivial (and useless for
# generation, where the future does not exist yet).
#
# ### Specification
#
# `shift_targets(tokens) -> (inputs, targets)`: `tokens` is an integer array-like of shape
# `(B, T + 1)`, or `(T + 1,)` for one sequence (then treated as a batch of one). Return two
# integer ndarrays of shape `(B, T)`: all tokens but the last, and all tokens but the first.
# Raise `ValueError` if a row holds fewer than 2 tokens (there would be nothing to predict).
# Example: `shift_targets([3, 2, 4, 4, 5])` is `([[3, 2, 4, 4]], [[2, 4, 4, 5]])`.


# %% nbgrader={"grade": false, "grade_id": "shift-targets", "locked": false, "schema_version": 3, "solution": true}
def shift_targets(tokens) -> tuple:
    """(inputs, targets) = (tokens[:, :-1], tokens[:, 1:]), each (B, T); 1-D is a batch of one."""
    ### BEGIN SOLUTION
    ids = np.asarray(tokens.data if isinstance(tokens, Tensor) else tokens)
    if ids.ndim == 1:
        ids = ids[None, :]
    if ids.ndim != 2 or ids.shape[1] < 2:
        raise ValueError(f"shift_targets needs rows of at least 2 tokens, got shape {ids.shape}.")
    return ids[:, :-1], ids[:, 1:]
    ### END SOLUTION


# %% [markdown]
# ### Test: a GPT learns to count
#
# **What this checks and why.** First the "hello" example. Then the whole pipeline trains:
# sequences that count up modulo 12 (5, 6, 7, ...) are split by `shift_targets`, and 60 steps
# of plain gradient descent (optimizers come in module 06) through your GPT, LayerNorm
# backward, attention and embeddings must cut the loss by 4×. If any gradient in the model is
# wrong, or the targets are not shifted, the loss does not fall that far.


# %% nbgrader={"grade": true, "grade_id": "test-gpt-learns", "locked": true, "points": 15, "schema_version": 3}
def test_gpt_learns_to_count():
    from tinytorch.core.losses import cross_entropy

    inputs, targets = shift_targets([3, 2, 4, 4, 5])
    assert np.asarray(inputs).tolist() == [[3, 2, 4, 4]], f"inputs of 'hello', got {inputs}"
    assert np.asarray(targets).tolist() == [[2, 4, 4, 5]], f"targets of 'hello', got {targets}"
    try:
        shift_targets([7])
    except ValueError:
        pass
    else:
        raise AssertionError("one token has no next token: shift_targets must raise ValueError")
    np.random.seed(2)
    model = GPT(vocab_size=12, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=8)
    starts = np.random.randint(0, 12, size=(16, 1))
    inputs, targets = shift_targets((starts + np.arange(9)) % 12)  # sequences that count up
    assert inputs.shape == (16, 8) and targets.shape == (16, 8), (
        f"9 tokens per row give inputs and targets of (16, 8), got {inputs.shape}, {targets.shape}"
    )
    first = None
    for _ in range(60):
        loss = cross_entropy(model(inputs), targets)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():  # plain gradient descent: optimizers are module 06
            p.data -= 0.5 * p.grad.data
        first = first if first is not None else float(loss.data)
    assert float(loss.data) < first / 4, (
        f"60 steps should cut the loss by 4x: from {first:.3f} to below {first / 4:.3f}, "
        f"got {float(loss.data):.3f}"
    )


if __name__ == "__main__":
    test_gpt_learns_to_count()

# %% [markdown]
# ## 7. Choosing the next token: greedy, temperature, top-k
#
# To generate, the model scores the next token after the context: the logits of the **last**
# position, one row of V numbers per sequence. How to turn a row into one token:
#
# **Greedy** (`temperature == 0`): take the largest logit, `argmax` (on a tie the lowest id,
# as `np.argmax` does). Deterministic, and often repetitive.
#
# **Sampling with a temperature τ > 0**: divide the logits by τ, softmax, draw. A toy
# vocabulary of 4 tokens with logits [2, 1, 0, −1]:
#
# ```
# τ = 1    softmax([2, 1, 0, −1])     = [0.644, 0.237, 0.087, 0.032]
# τ = 0.5  softmax([4, 2, 0, −2])     = [0.865, 0.117, 0.016, 0.002]   sharper: closer to greedy
# τ = 2    softmax([1, 0.5, 0, −0.5]) = [0.455, 0.276, 0.167, 0.102]   flatter: more surprising
# ```
#
# (τ → 0 approaches greedy, τ → ∞ approaches a uniform choice; dividing by τ does not change
# which logit is largest.)
#
# **Top-k**: before the softmax, keep only the k largest logits and set the others to −∞, so
# their probability is exactly 0. The long tail of unlikely tokens (each tiny, but thousands
# of them together) can no longer be drawn. With k = 2 at τ = 1 the example becomes
# softmax([2, 1, −∞, −∞]) = [0.731, 0.269, 0, 0]. **Ties**: every logit equal to the k-th
# largest is kept, so ties may keep more than k tokens: logits [1, 3, 3, 0] with k = 1 keep
# both 3s, and each is drawn with probability 0.5. `top_k=None`, or a k ≥ V, keeps everything.
#
# **Drawing with `rng`.** `rng.choice(V, p=probs)` draws one uniform number u in [0, 1) and
# returns the first id whose cumulative probability exceeds u. With
# `rng = np.random.default_rng(0)` the first u is 0.637; the cumulative probabilities at τ = 1
# are [0.644, 0.881, 0.968, 1.0], so the draw is token 0. Because every draw consumes the
# generator in a fixed order, the same seed gives the same tokens, and module 14's cached
# generation can reproduce exactly the tokens of this module's generation.
#
# ### Specification
#
# `_pick(logits, temperature, top_k, rng, stopped=None, stop_token=None) -> ndarray (B,)`,
# with `logits` a float ndarray `(B, V)`: the next id of every row, as int64.
#
# - `temperature < 0` or a `top_k` below 1: raise `ValueError`.
# - `temperature == 0`: `np.argmax` of each row; `rng` is **not** used.
# - otherwise, in float64: `scaled = logits / temperature`; if `top_k` is not None and
#   `top_k < V`, set every entry below the row's k-th largest value to `-np.inf` (ties with
#   the k-th largest stay); softmax each row (subtract the row maximum first); then for each
#   row **in row order** that has not stopped, draw `rng.choice(V, p=probs[row])`, exactly one
#   call per such row. Stopped rows draw nothing.
# - `stopped` is a boolean array `(B,)` or None; if `stopped` and `stop_token` are given, the
#   stopped rows get `stop_token` (the padding of section 8).
#
# Example: `_pick(np.array([[2.0, 1.0, 0.0, -1.0]]), 1.0, None, np.random.default_rng(0))`
# returns `array([0])`; with `temperature=0` it returns `array([0])` and leaves `rng` as it
# was.


# %% nbgrader={"grade": false, "grade_id": "sampling", "locked": false, "schema_version": 3, "solution": true}
#| export
def _pick(logits: np.ndarray, temperature, top_k, rng, stopped=None, stop_token=None):
    """The next id of every row (B,) from its logits (B, V); stopped rows get stop_token.

    temperature 0: argmax, no draw. Otherwise softmax(logits / temperature), restricted to
    the top_k largest (ties with the k-th kept), one rng.choice(V, p=row) per active row, in
    row order. ValueError for temperature < 0 or top_k < 1.
    """
    chosen = np.zeros(len(logits), dtype=np.int64)
    ### BEGIN SOLUTION
    if temperature < 0:
        raise ValueError(f"temperature must be 0 (greedy) or positive, got {temperature}.")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1 (or None), got {top_k}.")
    if temperature == 0:
        chosen[:] = np.argmax(logits, axis=-1)
    else:
        scaled = logits.astype(np.float64) / temperature
        vocab = scaled.shape[-1]
        if top_k is not None and top_k < vocab:
            kth_largest = np.sort(scaled, axis=-1)[:, -top_k][:, None]  # (B, 1)
            scaled = np.where(scaled < kth_largest, -np.inf, scaled)
        exps = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
        probs = exps / exps.sum(axis=-1, keepdims=True)
        for row in range(len(probs)):
            if stopped is None or not stopped[row]:
                chosen[row] = rng.choice(vocab, p=probs[row])
    if stopped is not None and stop_token is not None:
        chosen[stopped] = stop_token
    ### END SOLUTION
    return chosen


# %% [markdown]
# ### Test: sampling
#
# **What this checks and why.** Greedy picks the argmax and leaves the generator untouched.
# The rest draws 4,000 rows of the toy logits at once and compares the frequencies with the
# table above (τ = 1, τ = 0.5, top-k = 2, the tie), so the temperature and the cut must be
# right, not just plausible. Then the exact contract: the same ids as one `rng.choice` per
# active row in row order, and stopped rows padded without consuming a draw. Without that,
# generation with and without module 14's cache would drift apart.


# %% nbgrader={"grade": true, "grade_id": "test-sampling", "locked": true, "points": 15, "schema_version": 3}
def test_sampling():
    toy = np.array([[2.0, 1.0, 0.0, -1.0]])
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    greedy = _pick(np.array([[0.1, 3.0, -2.0], [5.0, 1.0, 5.0]]), 0, None, rng)
    assert greedy.tolist() == [1, 0], f"greedy takes the argmax (first on ties), got {greedy}"
    assert rng.bit_generator.state == state, "greedy must not draw from rng"
    many = np.repeat(toy, 4000, axis=0)
    for temperature, top_k, expected in [
        (1.0, None, [0.644, 0.237, 0.087, 0.032]),
        (0.5, None, [0.865, 0.117, 0.016, 0.002]),
        (1.0, 2, [0.731, 0.269, 0.0, 0.0]),
    ]:
        ids = _pick(many, temperature, top_k, np.random.default_rng(1))
        freq = np.bincount(ids, minlength=4) / len(ids)
        assert np.allclose(freq, expected, atol=0.03), (
            f"temperature {temperature}, top_k {top_k}: expected frequencies {expected}, "
            f"got {freq.round(3)}"
        )
    ties = _pick(np.repeat([[1.0, 3.0, 3.0, 0.0]], 4000, axis=0), 1.0, 1, np.random.default_rng(2))
    freq = np.bincount(ties, minlength=4) / len(ties)
    assert np.allclose(freq, [0, 0.5, 0.5, 0], atol=0.03), (
        f"top_k=1 with a tie keeps both 3s (0.5 each), got {freq.round(3)}"
    )
    first = _pick(toy, 1.0, None, np.random.default_rng(0))
    assert first.tolist() == [0], f"u = 0.637 < 0.644 draws token 0, got {first}"
    logits = np.random.default_rng(3).normal(size=(3, 6))
    stopped = np.array([False, True, False])
    got = _pick(logits, 0.8, 3, np.random.default_rng(4), stopped, stop_token=5)
    reference = np.random.default_rng(4)
    scaled = logits / 0.8
    scaled = np.where(scaled < np.sort(scaled, -1)[:, -3:-2], -np.inf, scaled)
    probs = np.exp(scaled - scaled.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    expected = [reference.choice(6, p=probs[0]), 5, reference.choice(6, p=probs[2])]
    assert got.tolist() == expected, (
        f"one rng.choice per active row in row order, stopped rows get stop_token: "
        f"expected {expected}, got {got.tolist()}"
    )
    try:
        _pick(toy, -1.0, None, np.random.default_rng(0))
    except ValueError:
        pass
    else:
        raise AssertionError("a negative temperature must raise ValueError")
    ### BEGIN HIDDEN TESTS
    logits = np.random.default_rng(9).normal(size=(5, 7)) * 2
    got = _pick(logits, 1.7, 4, np.random.default_rng(10))
    reference = np.random.default_rng(10)
    scaled = logits / 1.7
    scaled = np.where(scaled < np.sort(scaled, -1)[:, -4:-3], -np.inf, scaled)
    probs = np.exp(scaled - scaled.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    expected = [reference.choice(7, p=p) for p in probs]
    assert got.tolist() == expected, f"temperature 1.7, top_k 4: {expected}, got {got.tolist()}"
    assert got.dtype == np.int64, f"ids are int64, got {got.dtype}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_sampling()

# %% [markdown]
# ## 8. The generation loop
#
# Generation is "predict the next token, append it, repeat". One step for a batch of B rows:
#
# ```
# ids (B, t) ──crop to the last max_seq_len──► forward ──► logits (B, t', V)
#            ──take the last position [:, -1]──► (B, V) ──_pick──► chosen (B,)
#            ──append as a new column──► ids (B, t + 1)
# ```
#
# - **Context cropping.** The position table has `max_seq_len` rows, so the model cannot read
#   more tokens than that. Once a row is longer, feed only its **last** `max_seq_len` tokens
#   (`ids[:, -max_seq_len:]`): the window slides, the oldest token falls out of view. Every
#   step recomputes the whole window, which is what module 14 speeds up.
# - **Batches.** All rows advance together: one forward of `(B, t)` gives B next tokens. The
#   rows never mix (attention works within a row), so a row gives the same tokens as it would
#   alone (greedy).
# - **Stop tokens.** With `stop_token`, a row that has produced it is finished. The batch must
#   stay rectangular, so a finished row keeps receiving `stop_token` (padding, `_pick` does it
#   given `stopped`) while the others continue, and the loop ends early once **every** row has
#   stopped: the result may be shorter than T + `max_new_tokens`.
#
# Example (greedy, B = 2, stop_token = 9, max_new_tokens = 4): if row 0 produces 9 at the
# second step and row 1 at the third, the new columns are `[[5, 9, 9], [7, 2, 9]]` and the loop
# stops after 3 of the 4 steps.
#
# ### Specification
#
# `_generate_ids(model, ids, max_new_tokens, temperature, top_k, stop_token, rng) -> ndarray`:
# `ids` is the checked int64 prompt `(B, T)`; return `(B, T + n)` int64 ids with
# n ≤ `max_new_tokens` (n = 0 returns the prompt). `GPT.generate` calls it in eval mode under
# `no_grad()`. Keep a boolean `stopped` array `(B,)`, all False at first. For each step:
# `model.forward` on the last `model.max_seq_len` columns; the logits of the last position as
# a NumPy array `(B, V)`; `chosen = _pick(logits, temperature, top_k, rng, stopped,
# stop_token)`; append `chosen` as a column; then, if `stop_token` is not None, mark the rows
# whose chosen id is `stop_token` as stopped and stop the loop when all are.


# %% nbgrader={"grade": false, "grade_id": "generate", "locked": false, "schema_version": 3, "solution": true}
#| export
def _generate_ids(model, ids, max_new_tokens, temperature, top_k, stop_token, rng) -> np.ndarray:
    """GPT.generate's loop: (B, T) int64 ids -> (B, T + n), n <= max_new_tokens.

    Each step: forward the last model.max_seq_len ids, _pick from the last position's logits
    (stopped rows padded with stop_token), append; end when every row has stopped.
    """
    ### BEGIN SOLUTION
    stopped = np.zeros(len(ids), dtype=bool)
    for _ in range(max_new_tokens):
        context = ids[:, -model.max_seq_len :]  # the window slides past max_seq_len
        logits = model.forward(context).data[:, -1]  # (B, V): the last position only
        chosen = _pick(logits, temperature, top_k, rng, stopped, stop_token)
        ids = np.concatenate([ids, chosen[:, None]], axis=1)
        if stop_token is not None:
            stopped |= chosen == stop_token
            if stopped.all():
                break
    return ids
    ### END SOLUTION


# %% [markdown]
# ### Test: generation
#
# **What this checks and why.** The result's type and shape (a Tensor `(B, T + new)`, the
# prompt first, a 1-D prompt as a batch of one), that greedy tokens are the argmax of the
# model's logits, including past `max_seq_len` where only the last 8 tokens may be fed,
# reproducible sampling with a seed, rows that do not mix, and stop tokens that end and pad
# the rows.


# %% nbgrader={"grade": true, "grade_id": "test-generate", "locked": true, "points": 20, "schema_version": 3}
def test_generate():
    np.random.seed(1)
    model = GPT(vocab_size=20, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=8)
    out = model.generate([1, 2, 3], max_new_tokens=12, temperature=0)
    assert isinstance(out, Tensor) and out.shape == (1, 15), (
        f"a Tensor of ids (B, T + new) = (1, 15); a 1-D prompt is a batch of 1, got "
        f"{type(out).__name__} {getattr(out, 'shape', None)}"
    )
    ids = out.data[0]
    assert ids[:3].tolist() == [1, 2, 3], f"the prompt comes first, got {ids[:3]}"
    for t in (3, 8, 14):  # t = 14: the context is ids[6:14], cropped to max_seq_len = 8
        context = ids[max(0, t - 8) : t]
        expected = int(np.argmax(model(context).data[0, -1]))
        assert ids[t] == expected, (
            f"greedy token {t} is the argmax after the last 8 tokens: {expected}, got {ids[t]}"
        )
    with no_grad():
        direct = _generate_ids(model, np.array([[1, 2, 3]]), 12, 0, None, None, None)
    assert np.array_equal(direct, out.data), (
        f"_generate_ids returns the ids as an ndarray (1, 15), got {direct}"
    )
    assert model.generate([4], max_new_tokens=0).shape == (1, 1), "0 new tokens: the prompt"
    a = model.generate([1], 10, temperature=1.0, top_k=3, rng=np.random.default_rng(5))
    b = model.generate([1], 10, temperature=1.0, top_k=3, rng=np.random.default_rng(5))
    assert np.array_equal(a.data, b.data) and a.data.max() < 20, "reproducible with a seed"
    batch = model.generate([[1, 2, 3], [4, 5, 6]], max_new_tokens=4, temperature=0)
    assert batch.shape == (2, 7), f"every row of a (2, 3) prompt is continued, got {batch.shape}"
    alone = model.generate([4, 5, 6], max_new_tokens=4, temperature=0)
    assert np.array_equal(batch.data[1], alone.data[0]), "rows do not mix"
    stop = int(ids[4])
    stopped = model.generate([1, 2, 3], 10, temperature=0, stop_token=stop)
    first = 3 + int(np.flatnonzero(ids[3:] == stop)[0])
    assert stopped.data[0].tolist() == ids[: first + 1].tolist(), (
        f"a single row ends right after its first stop token: {ids[: first + 1]}, "
        f"got {stopped.data[0]}"
    )
    pair = model.generate([[1, 2, 3], [4, 5, 6]], 6, temperature=0, stop_token=stop).data
    for row in pair:
        hits = np.flatnonzero(row[3:] == stop)
        if hits.size:
            assert (row[3 + hits[0] :] == stop).all(), (
                f"a stopped row is padded with the stop token {stop}, got {row}"
            )


if __name__ == "__main__":
    test_generate()

# %% [markdown]
# ## The older API's names
#
# An older page of this course imported these classes from `tinytorch.core.transformers` (and
# the embeddings from `tinytorch.core.embeddings`, see module 11) and built
# `Transformer(vocab_size, embed_dim, num_heads, num_layers, hidden_dim, max_seq_length)`.
# They exist for that older API: `Transformer` above is a GPT with those argument names, and
# the cell below exports to `tinytorch.core.transformers` a module that forwards those names
# to this module's package file, `tinytorch.models.transformer`. It looks them up when first
# asked for (a module-level `__getattr__`, as the package's top level does), so the cell also
# runs here, before anything is exported.


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
# `analyze_parameter_scaling` applies the count of sections 4 and 5 (12D² + 13D per block,
# embeddings (V + context)·D, head D·V + V plus `ln_f`) to three sizes: TinyGPT with a
# 16-token context, a mid-sized model, and GPT-2 small. `analyze_attention_memory` counts the
# float32 attention weights a forward pass keeps for backward: B·H·T² numbers per layer,
# quadratic in T, so doubling the context quadruples them.


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


if __name__ == "__main__":
    analyze_parameter_scaling()
    analyze_attention_memory()

# %% [markdown]
# ### Measuring your GPT
#
# Counting is half the story; the three measurements below run on **your** GPT.
#
# 1. **Generation time against the prompt length.** Each step of `generate` re-runs the
#    whole context (up to `max_seq_len`), so a step with a 128-token context does 16× the
#    projection and MLP work of a step with an 8-token context, and 256× the attention work.
#    We time 8 new tokens after prompts of 8, 32 and 128 tokens.
# 2. **Memory of a forward pass, with and without the graph.** With gradients on, every op
#    keeps its inputs for backward (module 05); under `no_grad()` nothing is kept. We measure
#    the `tracemalloc` peak of one forward of TinyGPT on a (8, 128) batch, both ways.
# 3. **Arithmetic against time.** A forward of B·T tokens does about 2·P·B·T FLOPs in its
#    matmuls (P = the weights used per token: L·12D² for the blocks plus D·V for the head; a
#    multiply and an add per weight), plus 4·L·B·T²·D for attention's two (T × T) products.
#    Divided by the measured time, that gives the GFLOP/s your NumPy code achieves.


# %%
def _timed(fn, runs: int = 3) -> float:
    """The median of `runs` wall-clock timings of fn(), in seconds."""
    import statistics
    import time

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_generation_time(prompt_lengths=(8, 32, 128), new_tokens: int = 8) -> list:
    """Milliseconds per generated token after prompts of each length (TinyGPT, greedy).

    Prints and returns rows (prompt length, ms per token).
    """
    np.random.seed(0)
    model = GPT(max_seq_len=512)
    rows = []
    for length in prompt_lengths:
        prompt = np.random.randint(0, 100, length)
        seconds = _timed(lambda p=prompt: model.generate(p, new_tokens, temperature=0))
        rows.append((length, seconds / new_tokens * 1e3))
        print(f"prompt {length:4d} tokens: {seconds / new_tokens * 1e3:6.2f} ms per new token")
    return rows


def measure_forward_memory(batch: int = 8, length: int = 128) -> list:
    """tracemalloc peak MiB of one TinyGPT forward, with the graph and under no_grad().

    Prints and returns rows (mode, peak MiB).
    """
    import contextlib
    import tracemalloc

    np.random.seed(0)
    model = GPT(max_seq_len=length)
    ids = np.random.randint(0, 100, (batch, length))
    rows = []
    for mode, context in (("graph", contextlib.nullcontext), ("no_grad", no_grad)):
        tracemalloc.start()
        with context():
            logits = model(ids)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del logits
        rows.append((mode, peak / 2**20))
        print(f"{mode:8s}: peak {peak / 2**20:6.2f} MiB for a ({batch}, {length}) forward")
    return rows


def measure_forward_flops(batch: int = 8, length: int = 64) -> tuple:
    """FLOPs of one TinyGPT forward (matmuls and attention), its time, and GFLOP/s.

    Returns (flops per token, seconds, GFLOP/s).
    """
    np.random.seed(0)
    model = GPT(max_seq_len=length)
    dim, layers, vocab = model.embed_dim, model.num_layers, model.vocab_size
    weights_per_token = layers * 12 * dim * dim + dim * vocab
    flops = 2 * weights_per_token * batch * length + 4 * layers * batch * length**2 * dim
    ids = np.random.randint(0, 100, (batch, length))
    with no_grad():
        seconds = _timed(lambda: model(ids), runs=5)
    per_token = flops / (batch * length)
    rate = flops / seconds / 1e9
    print(
        f"forward ({batch}, {length}): {flops / 1e6:.1f} MFLOP ({per_token / 1e3:.0f} kFLOP per "
        f"token) in {seconds * 1e3:.2f} ms = {rate:.2f} GFLOP/s"
    )
    return per_token, seconds, rate


if __name__ == "__main__":
    measure_generation_time()
    measure_forward_memory()
    measure_forward_flops()

# %% [markdown]
# **Reading the numbers.** On the reference solution (a shared 2-core machine,
# `OPENBLAS_NUM_THREADS=1`, medians of a few runs):
#
# ```
# prompt    8 tokens:   0.88 ms per new token
# prompt   32 tokens:   1.52 ms per new token
# prompt  128 tokens:   4.24 ms per new token       16x the context, 4.8x the time
# graph   : peak  26.00 MiB for a (8, 128) forward
# no_grad : peak   6.69 MiB for a (8, 128) forward
# forward (8, 64): 36.8 MFLOP (72 kFLOP per token) in 6.66 ms = 5.53 GFLOP/s
# ```
#
# - **Time grows with the context**, although each step produces one token: the step re-runs
#   every position of the window. At short contexts the time is dominated by Python overhead
#   (about 100 small Tensor ops per forward, whatever T is), so it grows slower than T at
#   first; at long contexts the arithmetic takes over and the attention part grows as T².
#   Generating n tokens after a prompt of T costs about Σ (T + i) positions: quadratic in the
#   length of the text. Module 14 removes the recomputation.
# - **The graph costs 4x the memory.** With gradients on, each layer keeps its attention
#   scores, their scaled and masked copies and the softmax weights, four arrays of
#   B·H·T² = 8·4·128² floats (2 MiB each), plus the activations of every linear layer; under
#   `no_grad()` an array is freed as soon as the next op has read it, and the peak is a few
#   arrays of that size. Doubling T doubles the linear-layer activations and quadruples the
#   attention arrays, in both modes.
# - **5.5 GFLOP/s** is a few percent of what the same core reaches on one large matmul:
#   TinyGPT's matrices are 32 or 128 wide, so each NumPy call does little work for its fixed
#   cost. With the default thread count the same forward took 105-120 ms (0.3 GFLOP/s): on a
#   busy machine OpenBLAS's threads wait for cores that other processes hold. If your numbers
#   jump like that, run with `OPENBLAS_NUM_THREADS=1` and compare.

# %% [markdown]
# ## Reflect
#
# Answer in a few sentences each, with numbers where you can (the measurements above help).

# %% [markdown]
# **Q1 (parameters).** GPT-2 small has D = 768, L = 12, V = 50,257 and a 1,024-token context.
# Using 12D² + 13D per block, how many parameters are in the blocks, in the embeddings and in
# the head? Which part would you shrink to make TinyGPT (D = 32, V = 100, context 1,024)
# smaller without making it worse at short texts?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-parameters", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Blocks: 12 × (12 · 768² + 13 · 768) = 12 × 7,087,872 = 85.1 M. Embeddings: (50,257 + 1,024) ·
# 768 = 39.4 M. Head: 768 · 50,257 + 50,257 = 38.6 M (GPT-2 ties it to the token embedding,
# which is why it is quoted at 124 M rather than 163 M). In TinyGPT the 1,024 × 32 = 32,768
# position parameters are half of the 64,740 total although a short text uses only its first
# rows: a context of 64 would cut the model to about 34 k parameters with no effect on texts
# that fit in 64 tokens.
# ### END SOLUTION

# %% [markdown]
# **Q2 (generation cost).** What did `measure_generation_time` report for prompts of 8, 64
# and 256 tokens? Why does a new token get more expensive as the text grows, and which
# work of a step is actually new?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-generation-cost", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# About 0.9, 1.5 and 4.2 ms per new token (single-threaded BLAS). Every step feeds the whole
# window (up to max_seq_len tokens) through every layer, although only the last position's
# logits are used and the keys and values of the earlier positions are exactly those of the
# previous step: the causal mask means position i depends only on tokens 0..i. The new work of
# a step is one position: its embedding, its q, k, v, one attention row against the earlier
# keys, its MLP and its logits. Everything else is recomputed; module 14 caches the keys and
# values so that a step costs one position of projections and MLP, and one row of attention.
# ### END SOLUTION

# %% [markdown]
# **Q3 (memory of the graph).** What peaks did `measure_forward_memory` report with the graph
# and under `no_grad()`? Which tensors make the difference, and how would both numbers change
# if the sequence length doubled?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-forward-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# A peak of 26 MiB with the graph and 6.7 MiB under no_grad() for a (8, 128) forward. The
# difference is what the graph keeps for backward: per layer the attention scores, their
# scaled and masked versions and the softmax weights (B·H·T² floats each, 2 MiB here), the
# inputs of every Linear, the GELU input and LayerNorm's saved x̂. Doubling T doubles the
# per-position activations and quadruples the attention arrays, so the graph's peak grows by
# about 3.5x (to roughly 90 MiB); the no_grad peak also grows (its largest arrays are
# attention-sized), but it never accumulates across layers. This is why generation always
# runs under no_grad.
# ### END SOLUTION

# %% [markdown]
# **Q4 (achieved speed).** `measure_forward_flops` reports a rate in GFLOP/s. A laptop core
# can do tens of GFLOP/s in a large matmul. Why is TinyGPT's rate so much lower, and what
# would raise it?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-flops", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# TinyGPT's matmuls are tiny: (512 × 32) @ (32 × 128) and the like, a few hundred kFLOP per
# NumPy call, so the fixed cost of each call (creating the Tensor, checking shapes, allocating
# the result; microseconds) is as large as the arithmetic, and the small matrices do not fill
# the CPU's vector units or caches the way a 1024 × 1024 matmul does. We measured 5.5 GFLOP/s
# single-threaded and 0.3 GFLOP/s with busy-waiting BLAS threads on a loaded machine. Larger
# batches or a larger D raise the rate (more work per call); fewer, fused calls (one matmul
# for q, k and v, a Linear as one op: module 16) cut the overhead; and a single thread per
# process avoids the thread contention on a shared machine.
# ### END SOLUTION

# %% [markdown]
# **Q5 (what breaks).** What goes wrong if the causal mask is left out during training, and
# what if LayerNorm's backward forgets the `x̂ · mean(ĝ · x̂)` term? Which of the tests in
# this module would catch each?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-what-breaks", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Without the mask, position t sees token t + 1, which is its own target: the training loss
# falls to near zero by copying, yet the model has learned nothing it can use in generation,
# where the future is not there (test-gpt-shapes catches it: changing the last token changes
# earlier logits). Without the x̂ · mean(ĝ · x̂) term the gradient is no longer orthogonal to
# x̂: it pushes inputs along the direction that normalisation removes, so it is simply wrong
# whenever γ and g are not trivial; the worked example gives [0.82, -0.41, -0.41] instead of
# [0.20, -0.41, 0.20], and the finite-difference check of test-layernorm fails. Training might
# still reduce the loss a little, which is why a gradient check, not a loss curve, is the test.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 13_transformers.")
