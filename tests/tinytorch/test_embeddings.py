"""Embeddings: lookup gradients against finite differences and torch."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tinytorch.gradcheck import assert_finite_differences, assert_matches_torch
from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import Embedding, PositionalEncoding, sinusoidal_encoding

IDS = np.array([[1, 3, 1], [0, 2, 3]])


def lookup(weight):
    return (weight[IDS] ** 2).sum()


def test_lookup_gradient_is_a_scatter_add():
    table = np.random.default_rng(0).normal(size=(5, 4))
    assert_finite_differences(lookup, table)
    assert_matches_torch(lookup, lambda w: (w[IDS] ** 2).sum(), table)


def test_embedding_layer_gradient():
    table = Embedding(5, 4)

    def build(weight):
        table.weight = weight
        return (table(IDS) ** 2).sum()

    assert_finite_differences(build, np.random.default_rng(2).normal(size=(5, 4)))
    assert table([]).shape == (0, 4), "no ids: an empty lookup, not an error"


def test_positional_gradient_and_errors():
    rng = np.random.default_rng(1)
    positions = PositionalEncoding(6, 4)

    def build(x, table):
        positions.weight = table
        return (positions(x) ** 2).sum()

    assert_finite_differences(build, rng.normal(size=(2, 5, 4)), rng.normal(size=(6, 4)))
    with pytest.raises(ValueError, match="exceeds max_seq_len"):
        positions(Tensor(np.zeros((1, 7, 4))))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        Embedding(5, 2)([5])
    with pytest.raises(TypeError, match="integers"):
        Embedding(5, 2)([0.5])


def test_sinusoidal_matches_the_formula():
    table = sinusoidal_encoding(10, 6)
    pos, i = 7, 1
    assert np.isclose(table[pos, 2 * i], np.sin(pos / 10000 ** (2 * i / 6)), atol=1e-6)
    assert np.isclose(table[pos, 2 * i + 1], np.cos(pos / 10000 ** (2 * i / 6)), atol=1e-6)
