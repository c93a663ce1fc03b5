"""Character n-gram models with interpolated absolute discounting: the baseline for textgen.

An order-n model predicts a character from the n - 1 before it. Counts of longer contexts are
sharp but sparse, so each order mixes its own discounted estimate with the next shorter one:

    P_n(c | h) = max(C(h c) - D, 0) / C(h)  +  D * N(h) / C(h) * P_{n-1}(c | h')

where h' drops the oldest character of h, N(h) is the number of different characters seen
after h, and P_0 is uniform over the vocabulary. A context never seen in training falls back
to P_{n-1} whole. The discount D is the one knob; `fit_baselines` tunes it on a slice of the
training text, never on the held-out text.

Everything is vectorised: an n-gram of ids is one integer in base `vocab_size`, counted with
`np.unique` and looked up with `np.searchsorted`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DISCOUNTS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
TUNING_FRACTION = 0.1  # the tail of the training text that tunes D (the counts never see it)


def _keys(ids: np.ndarray, length: int, vocab_size: int) -> np.ndarray:
    """The base-`vocab_size` integer of every window of `length` ids (one per end position)."""
    keys = np.zeros(len(ids) - length + 1, dtype=np.int64)
    for offset in range(length):
        keys = keys * vocab_size + ids[offset : len(ids) - length + 1 + offset]
    return keys


def _lookup(table_keys: np.ndarray, table_values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """table_values where keys are in table_keys (sorted), else 0."""
    where = np.searchsorted(table_keys, keys)
    where = np.minimum(where, len(table_keys) - 1)
    found = table_keys[where] == keys if len(table_keys) else np.zeros(len(keys), bool)
    return np.where(found, table_values[where] if len(table_keys) else 0, 0)


@dataclass
class _Order:
    """Counts for one context length k: of (context, next) pairs and of contexts."""

    pair_keys: np.ndarray
    pair_counts: np.ndarray
    context_keys: np.ndarray
    context_totals: np.ndarray
    context_kinds: np.ndarray  # N(h): distinct characters seen after the context


class NGramModel:
    """An interpolated absolutely-discounted character model of order `order` (>= 1)."""

    def __init__(self, order: int, vocab_size: int, discount: float = 0.75):
        if order < 1:
            raise ValueError(f"An n-gram order is at least 1, not {order}.")
        if vocab_size**order >= 2**62:
            raise ValueError(f"Order {order} over {vocab_size} symbols does not fit int64 keys.")
        self.order, self.vocab_size, self.discount = order, vocab_size, discount
        self.orders: list[_Order] = []

    def fit(self, ids) -> NGramModel:
        ids = np.asarray(ids, dtype=np.int64)
        self.orders = [self._count(ids, k) for k in range(self.order)]
        return self

    def _count(self, ids: np.ndarray, k: int) -> _Order:
        pairs = _keys(ids, k + 1, self.vocab_size)
        pair_keys, pair_counts = np.unique(pairs, return_counts=True)
        contexts = pair_keys // self.vocab_size  # the k ids before the predicted one
        context_keys, first, kinds = np.unique(contexts, return_index=True, return_counts=True)
        totals = np.add.reduceat(pair_counts, first) if len(first) else pair_counts[:0]
        return _Order(pair_keys, pair_counts, context_keys, totals, kinds)

    def probabilities(self, ids) -> np.ndarray:
        """P(ids[i] | the order - 1 ids before it) for every i >= order - 1."""
        ids = np.asarray(ids, dtype=np.int64)
        start = self.order - 1
        count = len(ids) - start
        if count <= 0:
            return np.zeros(0)
        probs = np.full(count, 1.0 / self.vocab_size)
        for k, table in enumerate(self.orders):
            pairs = _keys(ids[start - k :], k + 1, self.vocab_size)
            contexts = pairs // self.vocab_size
            joint = _lookup(table.pair_keys, table.pair_counts, pairs)
            total = _lookup(table.context_keys, table.context_totals, contexts)
            kinds = _lookup(table.context_keys, table.context_kinds, contexts)
            seen = total > 0
            safe = np.where(seen, total, 1)
            mixed = (np.maximum(joint - self.discount, 0) + self.discount * kinds * probs) / safe
            probs = np.where(seen, mixed, probs)
        return probs

    def bits_per_symbol(self, ids) -> float:
        """Mean -log2 P over every position that has a full context."""
        probs = self.probabilities(ids)
        return float(-np.log2(probs).mean())


@dataclass(frozen=True)
class Baseline:
    order: int
    discount: float
    bpc: float  # on the held-out ids, bits per character


def tune_discount(train_ids: np.ndarray, order: int, vocab_size: int) -> float:
    """The discount that scores best on the last TUNING_FRACTION of the training ids."""
    cut = int(len(train_ids) * (1 - TUNING_FRACTION))
    fitted, tuning = train_ids[:cut], train_ids[cut:]
    scores = {}
    for discount in DISCOUNTS:
        model = NGramModel(order, vocab_size, discount).fit(fitted)
        scores[discount] = model.bits_per_symbol(tuning)
    return min(scores, key=scores.get)


def fit_baselines(
    train_ids, held_out_ids, vocab_size: int, max_order: int = 5, chars_per_symbol: float = 1.0
) -> dict[int, Baseline]:
    """Every order 1..max_order: discount tuned on the training text, scored on held-out text.

    Scores are in bits per character: bits per symbol divided by `chars_per_symbol` (1 for a
    character model). Each order is scored on the same positions: those with max_order - 1
    symbols before them, so that orders are compared on equal ground.
    """
    train_ids = np.asarray(train_ids, dtype=np.int64)
    held_out_ids = np.asarray(held_out_ids, dtype=np.int64)
    results = {}
    for order in range(1, max_order + 1):
        discount = tune_discount(train_ids, order, vocab_size)
        model = NGramModel(order, vocab_size, discount).fit(train_ids)
        probs = model.probabilities(held_out_ids[max_order - order :])
        bits = float(-np.log2(probs).mean()) / chars_per_symbol
        results[order] = Baseline(order, discount, bits)
    return results


def nats_to_bits(nats: float) -> float:
    return nats / math.log(2)
