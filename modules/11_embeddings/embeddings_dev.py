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
# Module 10 turned text into ids. An id is a name, not a quantity: token 7 is not "more" than
# token 3, so feeding ids to a `Linear` layer as numbers would be meaningless. An
# **embedding** gives every id its own learned vector instead, and training moves the vectors
# of tokens that behave alike close together.
#
# The second half of the module gives the model a sense of **order**. Attention (module 12)
# compares every token with every other and has no idea which came first; we add a vector per
# *position* so that "dog bites man" and "man bites dog" look different.
#
# What you will write:
#
# 1. `Embedding.forward` and the gradient rule of its lookup (a scatter-add);
# 2. `one_hot`, to see that a lookup is a matrix product you do not have to compute;
# 3. `PositionalEncoding.forward`: learned positions;
# 4. `sinusoidal_encoding` and `SinusoidalPositionalEncoding`: the fixed positions of the
#    original Transformer.

# %%
#| default_exp text.embeddings
#| export
import numpy as np

from tinytorch.core.autograd import gradient_rule
from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor

# %% [markdown]
# ## 1. The embedding table and its lookup
#
# An `Embedding(vocab_size, embed_dim)` holds one parameter, `weight`, of shape
# `(vocab_size, embed_dim)`: row `i` is the vector of id `i`. The forward pass is a lookup,
# `weight[ids]`, and works for ids of any shape: `(T,)` gives `(T, D)`, a batch `(B, T)` gives
# `(B, T, D)`.
#
# ### Worked example: the lookup
#
# ```
# weight (5, 3)                 ids = [[1, 3, 1]]   (B=1, T=3)
#   row 0  [0.0, 0.1, 0.2]
#   row 1  [1.0, 1.1, 1.2]      out = weight[ids]   (1, 3, 3)
#   row 2  [2.0, 2.1, 2.2]        position 0: row 1  [1.0, 1.1, 1.2]
#   row 3  [3.0, 3.1, 3.2]        position 1: row 3  [3.0, 3.1, 3.2]
#   row 4  [4.0, 4.1, 4.2]        position 2: row 1  [1.0, 1.1, 1.2]
# ```
#
# ### Worked example: the gradient is a scatter-add
#
# Each output row is a *copy* of a weight row, so the gradient flowing into output position t
# belongs to row `ids[t]`. When an id occurs twice, its row was used twice and receives **the
# sum** of both gradients. With the upstream gradient `g = dL/d out`:
#
# ```
# g (1, 3, 3)                          dL/d weight (5, 3)
#   position 0 (id 1)  [  1,   2,   3]   row 0  [  0,   0,   0]   never used
#   position 1 (id 3)  [ 10,  20,  30]   row 1  [101, 202, 303]   = g[0] + g[2]
#   position 2 (id 1)  [100, 200, 300]   row 2  [  0,   0,   0]
#                                        row 3  [ 10,  20,  30]   = g[1]
#                                        row 4  [  0,   0,   0]
# ```
#
# In NumPy, `grad[ids] = g` would be wrong: with a repeated id the second assignment
# overwrites the first, and row 1 would get `[100, 200, 300]`. `np.add.at(grad, ids, g)` adds
# every position's gradient to its row, repeats included. (Module 05's indexing rule does
# the same for any `t[index]`; here you write it yourself for the lookup.)
#
# ### Specification
#
# The lookup is its own graph operation, `"embedding"`:
#
# - `_embedding_grad(g, out)`, registered with `@gradient_rule("embedding")`: `g` is the
#   ndarray `dL/d out` of shape `ids.shape + (D,)`; `out._inputs` is `(weight,)` and
#   `out._saved` is the integer ndarray `ids`. Return a tuple with one ndarray, the gradient
#   of `weight`: zeros of `weight`'s shape (in `g`'s dtype) with every `g[..., t, :]` added to
#   row `ids[..., t]`.
# - `Embedding.forward(ids)` takes a Tensor, a NumPy array or a list of ints, of any shape:
#   1. turn it into an ndarray (`ids.data` for a Tensor, `np.asarray` otherwise); an empty
#      input (`[]`, which NumPy makes float64) means "no ids": treat it as `int64`, the result
#      is `(0, D)`;
#   2. if its dtype is not an integer kind (`ids.dtype.kind not in "iu"`), raise
#      `TypeError(f"Embedding ids must be integers, not {ids.dtype}.")`: a float id has no row;
#   3. if any id is `< 0` or `>= vocab_size`, raise
#      `ValueError(f"Token id {bad} is outside the vocabulary [0, {vocab_size}).")`, where `bad`
#      is the largest id if it is too big, else the smallest. NumPy would silently read
#      `weight[-1]` (the last row) for id -1, and a model would train on garbage;
#   4. return `Tensor.from_op(weight.data[ids], "embedding", (self.weight,), ids)`.
#
# - `Embedding.__init__(vocab_size, embed_dim)` stores `self.vocab_size` and `self.embed_dim`
#   and creates `self.weight = Tensor(np.random.normal(0.0, 0.02, (vocab_size, embed_dim)),
#   requires_grad=True)`: small random vectors (std 0.02, as in GPT-2), so that what follows
#   does not start saturated, and different, so that different ids start apart.


# %% nbgrader={"grade": false, "grade_id": "embedding", "locked": false, "schema_version": 3, "solution": true}
#| export
@gradient_rule("embedding")
def _embedding_grad(g, out):
    """dL/d weight for out = weight[ids]: zeros, then np.add.at(grad, ids, g); a 1-tuple."""
    ### BEGIN SOLUTION
    (weight,), ids = out._inputs, out._saved
    grad = np.zeros(weight.shape, dtype=g.dtype)
    np.add.at(grad, ids, g)  # not grad[ids] = g: repeated ids must add up
    return (grad,)
    ### END SOLUTION


class Embedding(Module):
    """A learned vector per id: (..., ) int ids -> (..., embed_dim)."""

    def __init__(self, vocab_size: int, embed_dim: int):
        """Store vocab_size, embed_dim; weight ~ N(0, 0.02²) (vocab_size, embed_dim), trainable."""
        super().__init__()
        ### BEGIN SOLUTION
        self.vocab_size, self.embed_dim = vocab_size, embed_dim
        # Small random vectors (std 0.02, as GPT-2): large ones would saturate what follows.
        self.weight = Tensor(
            np.random.normal(0.0, 0.02, (vocab_size, embed_dim)), requires_grad=True
        )
        ### END SOLUTION

    def forward(self, ids) -> Tensor:
        """weight[ids] as the graph op "embedding" (saved: ids); ids of any shape.

        Raises TypeError for non-integer ids and ValueError("Token id 10 is outside the
        vocabulary [0, 10).") for an id < 0 or >= vocab_size. An empty input gives (0, D).
        """
        ### BEGIN SOLUTION
        ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        if ids.size == 0:
            ids = ids.astype(np.int64)  # np.asarray([]) is float64; no id is still valid
        if ids.dtype.kind not in "iu":
            raise TypeError(f"Embedding ids must be integers, not {ids.dtype}.")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            bad = int(ids.max() if ids.max() >= self.vocab_size else ids.min())
            raise ValueError(f"Token id {bad} is outside the vocabulary [0, {self.vocab_size}).")
        return Tensor.from_op(self.weight.data[ids], "embedding", (self.weight,), ids)
        ### END SOLUTION


# %% [markdown]
# **What this checks and why.** The two worked examples above, number for number: the lookup
# copies rows, and the gradient adds up over repeated ids (row 1 gets `g[0] + g[2]`) while
# unused rows get exactly zero. Then the errors, because an id outside the table is the
# typical bug of a tokenizer and a model that disagree on the vocabulary.


# %% nbgrader={"grade": true, "grade_id": "test-embedding", "locked": true, "points": 35, "schema_version": 3}
def test_embedding_lookup_and_gradient():
    table = Embedding(5, 3)
    assert table.weight.shape == (5, 3), f"weight is (vocab, dim), got {table.weight.shape}"
    assert table.parameters() == [table.weight], "the table is the only parameter"
    table.weight.data = np.arange(5)[:, None] + np.array([0.0, 0.1, 0.2])  # row i: [i, i.1, i.2]
    out = table(np.array([[1, 3, 1]]))
    assert out.shape == (1, 3, 3), f"ids (1, 3) give vectors (1, 3, 3), got {out.shape}"
    expected = [[[1.0, 1.1, 1.2], [3.0, 3.1, 3.2], [1.0, 1.1, 1.2]]]
    assert np.allclose(out.data, expected), f"out should be rows 1, 3, 1: got {out.data}"
    g = np.array([[[1.0, 2, 3], [10, 20, 30], [100, 200, 300]]])
    (out * Tensor(g)).sum().backward()
    grad = table.weight.grad.data
    assert np.allclose(grad[1], [101, 202, 303]), (
        f"id 1 is used at positions 0 and 2: its row gets g[0] + g[2] = [101, 202, 303], "
        f"got {grad[1]} (grad[ids] = g overwrites; np.add.at adds)"
    )
    assert np.allclose(grad[3], [10, 20, 30]), f"row 3 gets g[1], got {grad[3]}"
    assert np.allclose(grad[[0, 2, 4]], 0.0), f"unused rows get no gradient, got {grad}"
    assert table([3, 0]).shape == (2, 3), "1-D ids (T,) give (T, D)"
    assert table([]).shape == (0, 3), "no ids give an empty (0, D) result, not an error"
    for bad in ([5], [-1], [[0, 7]]):
        try:
            table(bad)
        except ValueError as error:
            wrong = np.asarray(bad).max() if np.asarray(bad).max() >= 5 else -1
            assert str(wrong) in str(error) and "5" in str(error), (
                f"the error should name id {wrong} and the vocabulary size 5: {error}"
            )
        else:
            raise AssertionError(f"ids {bad} must be refused: the table has rows 0..4")
    try:
        table([0.5])
    except TypeError:
        pass
    else:
        raise AssertionError("float ids must raise TypeError: an id names a row")
    ### BEGIN HIDDEN TESTS
    other = Embedding(4, 2)
    other.weight.data = np.array([[0.0, 1], [2, 3], [4, 5], [6, 7]])
    result = other(np.array([[2, 2], [2, 0]]))
    assert np.allclose(result.data[1, 0], [4, 5]), f"got {result.data}"
    result.sum().backward()
    assert np.allclose(other.weight.grad.data, [[1, 1], [0, 0], [3, 3], [0, 0]]), (
        f"id 2 used three times gets 3, got {other.weight.grad.data}"
    )
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_embedding_lookup_and_gradient()


# %% [markdown]
# ## 2. A lookup is a matrix product you never compute
#
# Write id `i` as a **one-hot** row: zeros of length `vocab_size` with a 1 at position `i`.
# Then `one_hot(ids) @ weight` picks exactly the rows `weight[ids]`:
#
# ```
# one_hot([1, 3], 5) = [[0, 1, 0, 0, 0],        @ weight (5, 3)  =  [row 1,
#                       [0, 0, 0, 1, 0]]                             row 3]
# ```
#
# and the matmul's gradient rule from module 05, `dL/d weight = one_hotᵀ @ g`, is the
# scatter-add: column t of `one_hotᵀ` has its 1 in row `ids[t]`, so `g[t]` lands in that row,
# and two equal ids add up. So an embedding is a `Linear` layer without bias on one-hot inputs,
# computed in `T x D` work instead of `T x vocab_size x D`. You will measure the difference in
# the systems section.
#
# **Specification.** `one_hot(ids, vocab_size)` takes an integer array of any shape and returns
# a float32 ndarray of shape `ids.shape + (vocab_size,)` with `1.0` at `[..., ids[...]]` and `0.0`
# elsewhere. `one_hot([1, 3], 5)` is the array above. (It is a tool of this module's analysis,
# not part of the package.)


# %% nbgrader={"grade": false, "grade_id": "one-hot", "locked": false, "schema_version": 3, "solution": true}
def one_hot(ids, vocab_size: int) -> np.ndarray:
    """float32 array ids.shape + (vocab_size,): 1.0 at each id's position, 0.0 elsewhere."""
    ### BEGIN SOLUTION
    ids = np.asarray(ids)
    out = np.zeros(ids.shape + (vocab_size,), dtype=np.float32)
    np.put_along_axis(out, ids[..., None], 1.0, axis=-1)
    return out
    ### END SOLUTION


# %% [markdown]
# **What this checks and why.** That the one-hot view and your embedding agree, forward (the
# same vectors) and backward (the matmul gradient `one_hotᵀ @ g` is your scatter-add): two
# routes to the same numbers are the best evidence that both are right.


# %% nbgrader={"grade": true, "grade_id": "test-one-hot", "locked": true, "points": 15, "schema_version": 3}
def test_one_hot_is_the_lookup():
    rows = one_hot([1, 3], 5)
    expected = [[0, 1, 0, 0, 0], [0, 0, 0, 1, 0]]
    assert rows.dtype == np.float32, f"one_hot gives float32, got {rows.dtype}"
    assert np.array_equal(rows, expected), f"one_hot([1, 3], 5) should be {expected}, got {rows}"
    ids = np.array([[2, 0, 2], [4, 1, 1]])
    assert one_hot(ids, 6).shape == (2, 3, 6), "ids (B, T) give (B, T, vocab)"
    table = Embedding(6, 4)
    looked_up = table(ids)
    product = one_hot(ids, 6) @ table.weight.data
    assert np.allclose(looked_up.data, product, atol=1e-6), "one_hot(ids) @ W must equal W[ids]"
    g = np.random.default_rng(0).normal(size=(2, 3, 4))
    (looked_up * Tensor(g)).sum().backward()
    by_matmul = np.einsum("btv,btd->vd", one_hot(ids, 6), g)  # one_hotᵀ @ g over all positions
    assert np.allclose(table.weight.grad.data, by_matmul, atol=1e-5), (
        "the scatter-add must equal the matmul gradient one_hotᵀ @ g"
    )


if __name__ == "__main__":
    test_one_hot_is_the_lookup()


# %% [markdown]
# ## 3. Positions: why and how
#
# Attention computes, for each query, a weighted average over *all* keys. Shuffle the input
# tokens and each output is the same, just shuffled: the model sees a **set** of tokens, not a
# sequence. Word order matters ("dog bites man"), so we add a vector per **position** to each
# token's vector before the first layer:
#
# ```
# token vectors   x (B, T, D)      "dog"   "bites"  "man"
#                                    +        +       +
# position table  P[:T] (T, D)      P[0]     P[1]    P[2]
#                                    =        =       =
# input of the model (B, T, D)   the same word at another position is another vector
# ```
#
# **Learned positions** (GPT-2): `P` is a second table, of shape `(max_seq_len, D)`, trained
# like the token table. `P[:T]` has shape `(T, D)` and broadcasts over the batch: every
# sequence of the batch gets the same position vectors. Its gradient is therefore the sum over
# the batch of `g`, for each of the first T rows; rows T.. get zero. A learned table cannot
# describe a position it has no row for, so a sequence longer than `max_seq_len` is an error.
#
# **Specification.** `PositionalEncoding(max_seq_len, embed_dim)`: `__init__` stores
# `self.max_seq_len`, `self.embed_dim` and a trainable `self.weight` of shape
# `(max_seq_len, embed_dim)`, initialised like the token table (normal, std 0.02).
# `forward(x)` takes a Tensor or array-like of shape
# `(..., T, D)` (T is `x.shape[-2]`): if `T > max_seq_len` raise
# `ValueError(f"Sequence length {T} exceeds max_seq_len {max_seq_len}.")`; otherwise return
# `x + self.weight[:T]`, a Tensor of x's shape. Use Tensor operations (indexing and `+`) so the
# gradient reaches both `x` and `weight`.


# %% nbgrader={"grade": false, "grade_id": "positions", "locked": false, "schema_version": 3, "solution": true}
#| export
class PositionalEncoding(Module):
    """Learned positions: x (B, T, D) + P[:T] with P of shape (max_seq_len, D)."""

    def __init__(self, max_seq_len: int, embed_dim: int):
        """Store max_seq_len, embed_dim; trainable weight ~ N(0, 0.02²) of (max_seq_len, D)."""
        super().__init__()
        ### BEGIN SOLUTION
        self.max_seq_len, self.embed_dim = max_seq_len, embed_dim
        self.weight = Tensor(
            np.random.normal(0.0, 0.02, (max_seq_len, embed_dim)), requires_grad=True
        )
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        """x + weight[:T] for x (..., T, D); ValueError when T > max_seq_len."""
        ### BEGIN SOLUTION
        x = x if isinstance(x, Tensor) else Tensor(x)
        length = x.shape[-2]
        if length > self.max_seq_len:
            raise ValueError(f"Sequence length {length} exceeds max_seq_len {self.max_seq_len}.")
        return x + self.weight[:length]
        ### END SOLUTION


# %% [markdown]
# **What this checks and why.** Every sequence of a batch gets the same first T rows of the
# table, the gradient of the table is the batch sum (and zero past T), and a sequence longer
# than the table is refused rather than silently cut.


# %% nbgrader={"grade": true, "grade_id": "test-positions", "locked": true, "points": 25, "schema_version": 3}
def test_learned_positions():
    positions = PositionalEncoding(8, 4)
    assert positions.parameters() == [positions.weight], "the position table is a parameter"
    x = Tensor(np.ones((2, 5, 4)), requires_grad=True)
    out = positions(x)
    assert out.shape == (2, 5, 4), f"x keeps its shape (2, 5, 4), got {out.shape}"
    for row in range(2):
        assert np.allclose(out.data[row], 1.0 + positions.weight.data[:5]), (
            f"batch row {row} should be x + P[:5]"
        )
    out.sum().backward()
    grad = positions.weight.grad.data
    assert np.allclose(grad[:5], 2.0) and np.allclose(grad[5:], 0.0), (
        f"P[:5] is used by 2 batch rows (gradient 2), P[5:] by none (0): got {grad[:, 0]}"
    )
    assert np.allclose(x.grad.data, 1.0), "the gradient also reaches x"
    assert positions(np.zeros((3, 4))).shape == (3, 4), "an unbatched (T, D) input works too"
    try:
        positions(Tensor(np.zeros((1, 9, 4))))
    except ValueError as error:
        assert "9" in str(error) and "8" in str(error), f"name T=9 and max_seq_len=8: {error}"
    else:
        raise AssertionError("a sequence longer than max_seq_len must be refused")


if __name__ == "__main__":
    test_learned_positions()


# %% [markdown]
# ## 4. Sinusoidal positions (Vaswani et al., 2017)
#
# The original Transformer used a **fixed** table instead: no parameters, and defined for any
# position. Dimension pairs `(2i, 2i+1)` hold a sine and a cosine at the rate
# `w_i = 1 / 10000^(2i/D)`:
#
# ```
# PE[pos, 2i]   = sin(pos · w_i)
# PE[pos, 2i+1] = cos(pos · w_i)          i = 0, 1, ..., D/2 - 1
# ```
#
# Each pair is a clock hand turning at its own speed: the first pair turns one radian per
# position, the last almost not at all, so together they give every position a distinct
# pattern (like the digits of a number, from fast to slow).
#
# ### Worked example: D = 4, positions 0, 1 and 2
#
# The rates are `w_0 = 1 / 10000^0 = 1` and `w_1 = 1 / 10000^(2/4) = 1/100 = 0.01`:
#
# ```
#            sin(pos·1)  cos(pos·1)  sin(pos·0.01)  cos(pos·0.01)
# PE[0] = [   0.0000,     1.0000,      0.0000,        1.0000 ]     sin 0 = 0, cos 0 = 1
# PE[1] = [   0.8415,     0.5403,      0.0100,        1.0000 ]
# PE[2] = [   0.9093,    -0.4161,      0.0200,        0.9998 ]
# ```
#
# Every entry is in [-1, 1], position 0 is always `[0, 1, 0, 1, ...]`, and each pair
# `(sin, cos)` has length 1. Going from `pos` to `pos + k` **rotates** each pair by the angle
# `k · w_i`, the same for every `pos`, so "k tokens apart" looks alike everywhere in the
# sequence: the reason given for this design.
#
# **Odd D.** The sines take the even columns `0, 2, ...` (`ceil(D/2)` of them, rates from
# `i = 0 .. ceil(D/2) - 1`), the cosines the odd columns (`floor(D/2)` of them, the first
# `floor(D/2)` rates), so the last column of an odd D is a sine.
#
# ### Specification
#
# - `sinusoidal_encoding(max_seq_len, embed_dim)` returns the NumPy table, shape
#   `(max_seq_len, embed_dim)`, dtype float32, rows for positions `0 .. max_seq_len - 1`.
#   Vectorise: positions as a column `(L, 1)` times the rates as a row gives every angle at
#   once; then fill `table[:, 0::2]` and `table[:, 1::2]`.
# - `SinusoidalPositionalEncoding(max_seq_len, embed_dim)`: `__init__` stores `max_seq_len`
#   and `self.table = sinusoidal_encoding(...)`, a plain ndarray (so `parameters()` is empty:
#   nothing to train). `forward(x)` behaves as `PositionalEncoding.forward` (same error for
#   `T > max_seq_len`) but adds `self.table[:T]` cast to x's dtype (`.astype(x.dtype)`), so a
#   float64 input stays float64.


# %% nbgrader={"grade": false, "grade_id": "sinusoidal", "locked": false, "schema_version": 3, "solution": true}
#| export
def sinusoidal_encoding(max_seq_len: int, embed_dim: int) -> np.ndarray:
    """The fixed (max_seq_len, embed_dim) float32 table: sin in even columns, cos in odd."""
    ### BEGIN SOLUTION
    positions = np.arange(max_seq_len)[:, None]  # (L, 1)
    rates = 1.0 / 10000 ** (np.arange(0, embed_dim, 2) / embed_dim)  # (ceil(D/2),)
    table = np.zeros((max_seq_len, embed_dim))
    table[:, 0::2] = np.sin(positions * rates)
    table[:, 1::2] = np.cos(positions * rates[: embed_dim // 2])
    return table.astype(np.float32)
    ### END SOLUTION


class SinusoidalPositionalEncoding(Module):
    """Fixed positions: x (B, T, D) + PE[:T]; no parameters."""

    def __init__(self, max_seq_len: int, embed_dim: int):
        """Store max_seq_len and the table sinusoidal_encoding(max_seq_len, embed_dim)."""
        super().__init__()
        ### BEGIN SOLUTION
        self.max_seq_len = max_seq_len
        self.table = sinusoidal_encoding(max_seq_len, embed_dim)  # an array: not a parameter
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        """x + table[:T] (in x's dtype) for x (..., T, D); ValueError when T > max_seq_len."""
        ### BEGIN SOLUTION
        x = x if isinstance(x, Tensor) else Tensor(x)
        length = x.shape[-2]
        if length > self.max_seq_len:
            raise ValueError(f"Sequence length {length} exceeds max_seq_len {self.max_seq_len}.")
        return x + self.table[:length].astype(x.dtype)
        ### END SOLUTION


# %% [markdown]
# **What this checks and why.** The worked example's rows, the formula at a few more entries,
# the range of the values, and the rotation property (the reason for the design). Then the
# layer: no parameters, the table added in the input's precision, long sequences refused.


# %% nbgrader={"grade": true, "grade_id": "test-sinusoidal", "locked": true, "points": 25, "schema_version": 3}
def test_sinusoidal():
    small = sinusoidal_encoding(3, 4)
    expected = [[0, 1, 0, 1], [0.8415, 0.5403, 0.0100, 1.0], [0.9093, -0.4161, 0.0200, 0.9998]]
    assert small.shape == (3, 4) and small.dtype == np.float32, (
        f"the table is (max_seq_len, embed_dim) float32, got {small.shape} {small.dtype}"
    )
    assert np.allclose(small, expected, atol=1e-4), f"rows 0-2 for D=4 should be {expected}"
    table = sinusoidal_encoding(50, 16)
    assert np.allclose(table[0, 0::2], 0) and np.allclose(table[0, 1::2], 1), (
        "position 0 is [0, 1, 0, 1, ...]"
    )
    assert np.isclose(table[3, 0], np.sin(3.0), atol=1e-6), "the fastest clock turns 1 rad/step"
    pos, i = 7, 3
    rate = 1 / 10000 ** (2 * i / 16)
    assert np.isclose(table[pos, 2 * i + 1], np.cos(pos * rate), atol=1e-6), (
        f"PE[7, 7] should be cos(7 / 10000^(6/16)) = {np.cos(pos * rate):.4f}"
    )
    assert np.all(np.abs(table) <= 1), "sines and cosines stay in [-1, 1]"
    pairs = table[:, 0::2] ** 2 + table[:, 1::2] ** 2
    assert np.allclose(pairs, 1.0, atol=1e-5), "each (sin, cos) pair has length 1"
    odd = sinusoidal_encoding(4, 5)
    assert odd.shape == (4, 5) and np.isclose(odd[1, 4], np.sin(1 / 10000 ** (4 / 5))), (
        "for odd D the last column is a sine at rate 1/10000^((D-1)/D)"
    )
    layer = SinusoidalPositionalEncoding(50, 16)
    assert layer.parameters() == [], "a fixed table is not a parameter"
    out = layer(np.zeros((2, 7, 16)))
    assert out.shape == (2, 7, 16) and np.allclose(out.data[1], table[:7], atol=1e-6), (
        "zeros + PE[:7] should give the table's first 7 rows for every batch row"
    )
    wide = layer(Tensor(np.zeros((1, 3, 16)), dtype=np.float64))
    assert wide.dtype == np.float64, f"a float64 input stays float64, got {wide.dtype}"
    try:
        layer(np.zeros((1, 51, 16)))
    except ValueError as error:
        assert "51" in str(error) and "50" in str(error), f"name T=51 and 50: {error}"
    else:
        raise AssertionError("a sequence longer than max_seq_len must be refused")
    ### BEGIN HIDDEN TESTS
    k, w = 5, 1 / 10000 ** (2 / 16)  # the pair i = 1: rotate by the angle k·w
    rotation = np.array([[np.cos(k * w), -np.sin(k * w)], [np.sin(k * w), np.cos(k * w)]])
    before, after = table[10, 2:4], table[10 + k, 2:4]
    assert np.allclose(before @ rotation, after, atol=1e-5), "pos -> pos + k is a rotation"
    assert np.allclose(sinusoidal_encoding(6, 2)[:, 0], np.sin(np.arange(6)), atol=1e-6), "D=2"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_sinusoidal()


# %% [markdown]
# ## The older import path
#
# An older page of this course imported `from tinytorch.core.embeddings import Embedding,
# PositionalEncoding`. For that older API, the cell below exports `tinytorch.core.embeddings`,
# which forwards those names to this module's package file, `tinytorch.text.embeddings`. It
# looks them up when first asked for (a module-level `__getattr__`, as the package's top level
# does), so the cell also runs here. Nothing to write in it.


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
# ## 5. Systems: the table is big, a step touches little of it
#
# The token table holds `vocab_size x embed_dim` parameters, and module 10 showed that a
# bigger vocabulary buys shorter sequences. `analyze_embedding` measures, on your code, for a
# few vocabulary sizes and one batch of `num_ids` ids:
#
# - the table's parameters and float32 MiB;
# - the time of your lookup `Embedding(...)(ids)` against the one-hot product
#   `one_hot(ids) @ weight` (median of 5 runs each);
# - the fraction of the table's rows that the batch touches: the only rows whose gradient is
#   not zero. Our scatter-add still allocates a full `(vocab_size, D)` gradient, and Adam then
#   updates every row.
#
# It prints one line per vocabulary size and returns the rows
# `(vocab_size, params, mib, lookup_ms, one_hot_ms, rows_touched_fraction)`.

# %%
import time


def _median_ms(fn, runs: int = 5) -> float:
    """Median wall time of fn() in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000


def analyze_embedding(vocab_sizes=(1_000, 8_000), embed_dim: int = 64, num_ids: int = 256):
    """Print and return (vocab, params, MiB, lookup ms, one-hot ms, fraction of rows touched)."""
    rng = np.random.default_rng(0)
    rows = []
    for vocab in vocab_sizes:
        table = Embedding(vocab, embed_dim)
        ids = rng.integers(0, vocab, size=num_ids)
        lookup_ms = _median_ms(lambda: table(ids))  # noqa: B023 (used at once, in the loop)
        one_hot_ms = _median_ms(lambda: one_hot(ids, vocab) @ table.weight.data)  # noqa: B023
        params = vocab * embed_dim
        touched = len(np.unique(ids)) / vocab
        rows.append((vocab, params, params * 4 / 2**20, lookup_ms, one_hot_ms, touched))
        print(
            f"vocab {vocab:6d} x {embed_dim}: {params:9,d} params {params * 4 / 2**20:5.2f} MiB  "
            f"lookup {lookup_ms:6.3f} ms  one-hot matmul {one_hot_ms:6.3f} ms  "
            f"rows touched {touched:6.1%}"
        )
    return rows


if __name__ == "__main__":
    analyze_embedding()


# %% [markdown]
# ## Reflect

# %% [markdown]
# **Q1 (memory).** GPT-2 has 50,257 tokens of 768 numbers. How much memory does the token
# table take in float32, and how much does training it with Adam take (the weight, its
# gradient, and Adam's two moment buffers)? What fraction of the rows does one batch of 8 x
# 1024 tokens touch at most?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-embedding-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# 50,257 x 768 = 38.6 M numbers = 147 MiB. Training keeps the weight, a dense gradient of the
# same size and Adam's m and v: 4 x 147 = 589 MiB for this one layer. A batch of 8 x 1024 =
# 8,192 tokens touches at most 8,192 rows, 16% of the table (in real text far fewer distinct
# ids), yet our scatter-add writes a full-size gradient and Adam updates every row. Sparse
# gradients (only the touched rows, as PyTorch's `sparse=True`) or tying the table with the
# output layer are the usual remedies.
# ### END SOLUTION

# %% [markdown]
# **Q2 (compute).** In your `analyze_embedding` table, how much slower is the one-hot product
# than the lookup, and how does the gap grow with the vocabulary? Count the work of each.

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-lookup-cost", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The lookup copies N x D numbers (256 x 64 = 16 k) whatever the vocabulary; the one-hot route
# builds an N x V matrix and multiplies it, 2 x N x V x D FLOPs: 33 MFLOP for V = 1,000 and
# 262 MFLOP for V = 8,000. Measured here: the lookup took about 0.01 ms at both sizes, the
# one-hot product 0.2 ms at V = 1,000 (25x slower) and 13 ms at V = 8,000 (over 1,000x: the
# 8 MB one-hot matrix no longer fits in the cache). The gap grows at least linearly with V.
# Same numbers, same gradient: the lookup is the matmul with every multiplication by zero
# skipped.
# ### END SOLUTION

# %% [markdown]
# **Q3 (scaling).** A model trained with learned positions and `max_seq_len = 1024` is given a
# prompt of 1,500 tokens. What happens with your `PositionalEncoding`, and with the sinusoidal
# one? What does each cost in parameters for D = 768?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-positions", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The learned table has rows for positions 0..1023 only, so `forward` refuses T = 1,500 (module
# 13's generate keeps only the last max_seq_len tokens for this reason). It costs 1024 x 768 =
# 786 k parameters (3 MiB). The sinusoidal table is computed, so a longer table is just more
# rows, with no parameters; but the model never saw positions past 1024 in training, so its
# behaviour there is untested: extrapolating to longer contexts is why later models moved to
# relative schemes such as RoPE and ALiBi.
# ### END SOLUTION

# %% [markdown]
# **Q4 (what breaks).** Why does `Embedding.forward` check the id range itself, when NumPy
# raises an IndexError for `weight[5]` on a 5-row table anyway? Give the case where NumPy does
# not complain.

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-id-range", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Negative ids: `weight[-1]` is the last row in NumPy, so a tokenizer that emits -1 (a common
# "no token" marker) would silently read and train the row of another token. The error would
# show only as a slightly worse loss. Checking the range turns it into one clear sentence
# naming the id and the vocabulary, at the place the bug is. A too-large id does raise in
# NumPy, but with an IndexError about an axis size, not about tokenizers and vocabularies.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 11_embeddings.")
