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
# # Module 11: Embeddings
#
# An **embedding** turns an id into a learned vector: a table `W` of shape
# `(vocab_size, embed_dim)`, and the lookup `W[ids]`. For ids of shape `(B, T)` the result
# is `(B, T, D)`. It is a matrix product with one-hot vectors, done without building them.
#
# **Gradient.** Row `W[i]` receives the sum of the gradients of every position where id `i`
# occurred: a *scatter-add*. Module 05's rule for indexing (`np.add.at`) already does exactly
# that, so an Embedding is just `weight[ids]` on a Tensor.
#
# **Positions.** Attention (module 12) treats its input as a *set*: shuffle the tokens and the
# outputs shuffle with them. Word order matters, so we add a vector per position:
#
# - **learned**: a second table `P` of shape `(max_seq_len, D)`; `x + P[:T]`;
# - **sinusoidal** (Vaswani et al., 2017): fixed, PE[pos, 2i] = sin(pos / 10000^(2i/D)),
#   PE[pos, 2i+1] = cos(pos / 10000^(2i/D)): every dimension pair is a clock of a different
#   speed, no parameters, and defined for any position.

# %%
#| default_exp text.embeddings
#| export
import numpy as np

from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor


# %% nbgrader={"grade": false, "grade_id": "embedding", "locked": false, "schema_version": 3, "solution": true}
#| export
class Embedding(Module):
    """A learned vector per id: (..., ) int ids -> (..., embed_dim)."""

    def __init__(self, vocab_size: int, embed_dim: int):
        super().__init__()
        self.vocab_size, self.embed_dim = vocab_size, embed_dim
        # Small random vectors (std 0.02, as GPT-2): large ones would saturate what follows.
        self.weight = Tensor(
            np.random.normal(0.0, 0.02, (vocab_size, embed_dim)), requires_grad=True
        )

    def forward(self, ids) -> Tensor:
        ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        if ids.size == 0:
            ids = ids.astype(np.int64)  # np.asarray([]) is float64; no id is still valid
        if ids.dtype.kind not in "iu":
            raise TypeError(f"Embedding ids must be integers, not {ids.dtype}.")
        ### BEGIN SOLUTION
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            bad = int(ids.max() if ids.max() >= self.vocab_size else ids.min())
            raise ValueError(f"Token id {bad} is outside the vocabulary [0, {self.vocab_size}).")
        return self.weight[ids]
        ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "positions", "locked": false, "schema_version": 3, "solution": true}
#| export
class PositionalEncoding(Module):
    """Learned positions: x (B, T, D) + P[:T] with P of shape (max_seq_len, D)."""

    def __init__(self, max_seq_len: int, embed_dim: int):
        super().__init__()
        self.max_seq_len, self.embed_dim = max_seq_len, embed_dim
        self.weight = Tensor(
            np.random.normal(0.0, 0.02, (max_seq_len, embed_dim)), requires_grad=True
        )

    def forward(self, x) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        length = x.shape[-2]
        ### BEGIN SOLUTION
        if length > self.max_seq_len:
            raise ValueError(f"Sequence length {length} exceeds max_seq_len {self.max_seq_len}.")
        return x + self.weight[:length]
        ### END SOLUTION


def sinusoidal_encoding(max_seq_len: int, embed_dim: int) -> np.ndarray:
    """The fixed (max_seq_len, embed_dim) table of sines and cosines."""
    ### BEGIN SOLUTION
    positions = np.arange(max_seq_len)[:, None]
    rates = 1.0 / 10000 ** (np.arange(0, embed_dim, 2) / embed_dim)
    table = np.zeros((max_seq_len, embed_dim))
    table[:, 0::2] = np.sin(positions * rates)
    table[:, 1::2] = np.cos(positions * rates[: embed_dim // 2])
    return table.astype(np.float32)
    ### END SOLUTION


class SinusoidalPositionalEncoding(Module):
    """Fixed positions: x (B, T, D) + PE[:T]; no parameters."""

    def __init__(self, max_seq_len: int, embed_dim: int):
        super().__init__()
        self.max_seq_len = max_seq_len
        self.table = sinusoidal_encoding(max_seq_len, embed_dim)  # an array: not a parameter

    def forward(self, x) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        length = x.shape[-2]
        if length > self.max_seq_len:
            raise ValueError(f"Sequence length {length} exceeds max_seq_len {self.max_seq_len}.")
        return x + self.table[:length].astype(x.dtype)


# %% [markdown]
# ## The older import path
#
# An older page of this course imported `from tinytorch.core.embeddings import Embedding,
# PositionalEncoding`. For that older API, the cell below exports `tinytorch.core.embeddings`,
# which forwards those names to this module's package file, `tinytorch.text.embeddings`. It
# looks them up when first asked for (a module-level `__getattr__`, as the package's top level does), so the cell also runs here.


# %%
#| export core.embeddings
# every name this module exports, so the older path offers the same as the new one
_OLDER_NAMES = (
    "Embedding",
    "PositionalEncoding",
    "SinusoidalPositionalEncoding",
    "sinusoidal_encoding",
)


def __getattr__(name: str):
    """`from tinytorch.core.embeddings import X` gives tinytorch.text.embeddings's X."""
    if name not in _OLDER_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tinytorch.text import embeddings

    return getattr(embeddings, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_OLDER_NAMES))


# %% [markdown]
# ## Unit tests


# %% nbgrader={"grade": true, "grade_id": "test-embedding", "locked": true, "points": 40, "schema_version": 3}
def test_embedding_lookup_and_gradient():
    np.random.seed(0)
    table = Embedding(10, 4)
    out = table(np.array([[1, 2, 1]]))
    assert out.shape == (1, 3, 4) and np.allclose(out.data[0, 0], table.weight.data[1])
    assert table.parameters() == [table.weight]
    out.sum().backward()
    assert np.allclose(table.weight.grad.data[1], 2.0), "id 1 used twice: gradients add up"
    assert np.allclose(table.weight.grad.data[0], 0.0), "unused rows get no gradient"
    for bad in ([10], [-1]):
        try:
            table(bad)
        except ValueError as error:
            assert str(bad[0]) in str(error) and "10" in str(error)
        else:
            raise AssertionError(f"id {bad[0]} must be refused")


# %% nbgrader={"grade": true, "grade_id": "test-positions", "locked": true, "points": 30, "schema_version": 3}
def test_learned_positions():
    positions = PositionalEncoding(8, 4)
    x = Tensor(np.zeros((2, 5, 4)))
    out = positions(x)
    assert out.shape == (2, 5, 4) and np.allclose(out.data[1], positions.weight.data[:5])
    try:
        positions(Tensor(np.zeros((1, 9, 4))))
    except ValueError as error:
        assert "9" in str(error) and "8" in str(error)
    else:
        raise AssertionError("a sequence longer than max_seq_len must be refused")


# %% nbgrader={"grade": true, "grade_id": "test-sinusoidal", "locked": true, "points": 30, "schema_version": 3}
def test_sinusoidal():
    table = sinusoidal_encoding(50, 16)
    assert (
        table.shape == (50, 16)
        and np.allclose(table[0, 0::2], 0)
        and np.allclose(table[0, 1::2], 1)
    )
    assert np.allclose(table[3, 0], np.sin(3.0)), "the fastest clock turns one radian per step"
    assert np.all(np.abs(table) <= 1)
    layer = SinusoidalPositionalEncoding(50, 16)
    assert layer.parameters() == [] and layer(np.zeros((1, 7, 16))).shape == (1, 7, 16)


# %% [markdown]
# ## Systems analysis: embedding parameters


# %%
def analyze_embedding_memory(embed_dim: int = 768) -> list:
    """Parameters and float32 MiB of the token table for a few vocabulary sizes."""
    rows = []
    for vocab in (100, 256, 50_257):
        params = vocab * embed_dim
        rows.append((vocab, params, params * 4 / 2**20))
        print(
            f"vocab {vocab:6d} x {embed_dim}: {params:11,d} parameters, {params * 4 / 2**20:7.1f} MiB"
        )
    return rows


# %%
if __name__ == "__main__":
    test_embedding_lookup_and_gradient()
    test_learned_positions()
    test_sinusoidal()
    analyze_embedding_memory()
    print("All tests passed for module 11_embeddings.")
