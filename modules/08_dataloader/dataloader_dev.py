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
# # Module 08: DataLoader
#
# Training never feeds the whole data set at once: it takes **mini-batches** of B samples.
# Why not one sample at a time, or all N at once?
#
# - **Noise.** A batch's gradient is an average of B per-sample gradients: an estimate of
#   the full gradient whose noise shrinks like 1/√B. B = 1 is very noisy; B = N is exact but
#   costs a full pass over the data for a single step.
# - **Compute.** A layer processes a batch as one matrix product, (B, in) @ (in, out): the
#   weights are read from memory once for B samples instead of once per sample, and the
#   Python overhead of an operation is paid once per batch.
# - **Memory.** Activations grow with B (module 07 measured them), so B is bounded by the
#   memory of the machine.
#
# Two small classes split the job:
#
# ```
#  Dataset                         DataLoader
#  "how many samples, what is      "in which order, in groups of B, stacked"
#   sample i?"
#  len(ds) = 5                      epoch: order = [2, 4, 3, 0, 1]   (shuffled, seeded)
#  ds[3] = (x[3], y[3])             batches: [2, 4] [3, 0] [1]       (last one partial)
#                                   yields (X, Y): Tensors of shape (2, ...), (2,), then (1, ...)
# ```
#
# A `Dataset` knows nothing about batches; a `DataLoader` knows nothing about where the
# samples come from. A `Trainer` (module 07) just iterates the loader: `for x, y in loader`.

# %%
#| default_exp data.loader
#| export
import numpy as np

from tinytorch.core.tensor import Tensor

# %% [markdown]
# ## 1. Dataset and TensorDataset
#
# `Dataset` is the interface: `__len__` (the number of samples) and `__getitem__(i)`
# (sample i, normally a tuple of fields such as `(features, label)`). A data set on disk
# would load sample i lazily in `__getitem__`; the loader does not care.
#
# `TensorDataset(*arrays)` is the common case: the data already sits in arrays whose first
# dimension indexes the samples, and sample i is the i-th row of each:
#
# ```
# x = [[0, 1],      y = [0,           TensorDataset(x, y)[3] == ([6, 7], 3)
#      [2, 3],           1,           len(TensorDataset(x, y)) == 5
#      [4, 5],           2,
#      [6, 7],           3,
#      [8, 9]]           4]
# ```
#
# It converts each array **once**, with the Tensor's dtype rule (module 01: float data
# becomes float32, integer data such as class labels stays integer, and a Tensor passed on
# purpose as float64 stays float64). Converting once here means no batch ever needs a
# conversion, and every batch of a field has the same dtype.
#
# ### Specification: `TensorDataset(*arrays)`
#
# - `arrays`: one or more array-likes (lists, ndarrays) or Tensors. Store
#   `self.arrays`, a list of ndarrays: `a.data` for a Tensor `a`, else `Tensor(a).data`
#   (which applies the dtype rule).
# - Errors (`ValueError`): no arrays at all (message contains `"at least one"`); an array
#   with no first dimension, i.e. a scalar (message contains `"first dimension"`); arrays
#   whose first dimensions differ (message contains `"first dimension"` and every shape,
#   e.g. `"... same first dimension: (3,), (4,)."`).
# - `len(ds)`: the common first dimension. `ds[i]`: the tuple `(a[i] for a in self.arrays)`,
#   one entry per array, even when there is only one array.


# %% nbgrader={"grade": false, "grade_id": "datasets", "locked": false, "schema_version": 3, "solution": true}
#| export
class Dataset:
    """Anything with a length and indexable samples (each a tuple of fields)."""

    def __len__(self) -> int:
        raise NotImplementedError("A Dataset defines __len__.")

    def __getitem__(self, index):
        raise NotImplementedError("A Dataset defines __getitem__.")


class TensorDataset(Dataset):
    """Samples are rows of the given arrays: dataset[i] == (a[i], b[i], ...)."""

    def __init__(self, *arrays):
        """Convert each array once (Tensor dtype rule); check they have one common length."""
        ### BEGIN SOLUTION
        if not arrays:
            raise ValueError("TensorDataset needs at least one array.")
        # Convert once with the Tensor's dtype rule (float64 -> float32, ints stay ints), so
        # batches need no conversion and a float64 Tensor passed on purpose stays float64.
        self.arrays = [(a if isinstance(a, Tensor) else Tensor(a)).data for a in arrays]
        if any(a.ndim == 0 for a in self.arrays):
            raise ValueError("TensorDataset arrays need a first dimension (one row per sample).")
        if len({len(a) for a in self.arrays}) != 1:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(f"TensorDataset arrays must have the same first dimension: {shapes}.")
        ### END SOLUTION

    def __len__(self) -> int:
        """The number of samples (rows)."""
        ### BEGIN SOLUTION
        return len(self.arrays[0])
        ### END SOLUTION

    def __getitem__(self, index):
        """Row `index` of every array, as a tuple."""
        ### BEGIN SOLUTION
        return tuple(a[index] for a in self.arrays)
        ### END SOLUTION


# %% [markdown]
# ### Test: a TensorDataset
#
# This checks the example above (5 rows, sample 3 is `([6, 7], 3)`), the dtype rule (float64
# data becomes float32, a float64 Tensor stays float64, labels stay integer), and that
# arrays of different lengths are refused with both shapes in the message, since a silent
# mismatch would pair features with the wrong labels.


# %% nbgrader={"grade": true, "grade_id": "test-dataset", "locked": true, "points": 20, "schema_version": 3}
def test_tensor_dataset():
    x, y = np.arange(10).reshape(5, 2), np.arange(5)
    data = TensorDataset(x, Tensor(y))
    assert len(data) == 5, f"5 rows, 5 samples; len gave {len(data)}"
    sample = data[3]
    assert isinstance(sample, tuple) and len(sample) == 2, f"a (features, label) tuple: {sample}"
    assert np.array_equal(sample[0], [6, 7]) and sample[1] == 3, f"row 3 is ([6, 7], 3): {sample}"
    floats = TensorDataset(np.zeros((3, 2)), Tensor(np.zeros(3), dtype=np.float64))
    dtypes = [a.dtype for a in floats.arrays]
    assert dtypes == [np.float32, np.float64], (
        f"float64 data becomes float32, a float64 Tensor stays float64; got {dtypes}"
    )
    assert data.arrays[1].dtype.kind == "i", "labels stay integers"
    assert len(TensorDataset([1.0, 2.0, 3.0])[0]) == 1, "one array: samples are 1-tuples"
    for bad, words in (
        (lambda: TensorDataset(np.zeros(3), np.zeros(4)), ["(3,)", "(4,)", "first dimension"]),
        (lambda: TensorDataset(np.float32(1.0)), ["first dimension"]),
        (lambda: TensorDataset(), ["at least one"]),
    ):
        try:
            bad()
        except ValueError as error:
            assert all(w in str(error) for w in words), f"message should name {words}: {error}"
        else:
            raise AssertionError(f"bad arrays must be refused with a ValueError naming {words}")


if __name__ == "__main__":
    test_tensor_dataset()

# %% [markdown]
# ## 2. The DataLoader
#
# An **epoch** is one pass over every sample. The loader makes it in three moves:
#
# 1. **order** the indices 0 … N−1, shuffled when `shuffle=True`;
# 2. **cut** the order into consecutive groups of `batch_size`; the last group holds the
#    N mod B leftover samples. It is kept (every sample is seen every epoch) unless
#    `drop_last=True` asks for equal batch shapes;
# 3. **gather** each group into one Tensor per field, of shape `(len(group), ...)`.
#
# **Worked example**: 5 samples, `batch_size=2`.
#
# ```
# no shuffle:        order [0, 1, 2, 3, 4]  →  batches [0, 1] [2, 3] [4]      len = ⌈5/2⌉ = 3
# drop_last=True:                           →  batches [0, 1] [2, 3]          len = ⌊5/2⌋ = 2
# shuffle, seed=0:   epoch 1 [2, 4, 3, 0, 1] →  batches [2, 4] [3, 0] [1]
#                    epoch 2 [4, 1, 2, 0, 3] →  batches [4, 1] [2, 0] [3]
# a new loader with seed=0 repeats epoch 1's order [2, 4, 3, 0, 1]
# ```
#
# **Why shuffle, and why this way?** Data sets are often stored sorted (all the 0s, then all
# the 1s); unshuffled, each batch would hold one class and every step would pull the model
# towards it. A new order each epoch also keeps the model from fitting the order itself.
# *Reproducible* shuffling comes from one `np.random.default_rng(seed)` created in
# `__init__` and advanced by each epoch's shuffle: epochs differ from one another, yet a
# run with the same seed sees exactly the same batches, so a result can be reproduced and a
# bug replayed. (A generator re-created at every epoch would repeat the same order forever;
# one seeded from the clock could never be replayed.)
#
# **Gathering fast.** For a `TensorDataset`, `array[indices]` (NumPy fancy indexing)
# gathers a whole batch in one call. Any other Dataset must be asked sample by sample,
# `dataset[i]`, and the samples stacked (`np.stack`) field by field: that "collate" step
# costs one Python call per sample. Section 3 measures the difference.
#
# We build the loader in two pieces: first the epoch's order (2a), then the loader that
# cuts and gathers (2b).
#
# ### 2a. Specification: `_epoch_order(n, shuffle, rng) -> np.ndarray`
#
# - Return `np.arange(n)` (the indices in order) when `shuffle` is False, without touching
#   `rng`.
# - When `shuffle` is True, shuffle that array in place with `rng.shuffle(order)` (exactly
#   this call, so that seeds give the orders of the worked example) and return it. The
#   generator `rng` belongs to the caller, who keeps it from epoch to epoch: each call
#   advances it, so the next call gives a new order.
# - Example: `rng = np.random.default_rng(0)`; `_epoch_order(5, True, rng)` gives
#   `[2, 4, 3, 0, 1]`, a second call `[4, 1, 2, 0, 3]`; `_epoch_order(5, False, rng)` gives
#   `[0, 1, 2, 3, 4]`.


# %% nbgrader={"grade": false, "grade_id": "epoch-order", "locked": false, "schema_version": 3, "solution": true}
#| export
def _epoch_order(n: int, shuffle: bool, rng: np.random.Generator) -> np.ndarray:
    """The indices 0..n-1 of one epoch, shuffled in place by `rng` when `shuffle` is set."""
    ### BEGIN SOLUTION
    order = np.arange(n)
    if shuffle:
        rng.shuffle(order)  # the generator advances: a new order every epoch
    return order
    ### END SOLUTION


# %% [markdown]
# ### Test: the order is seeded, complete, and new every epoch
#
# This replays the seeded example (seed 0: [2, 4, 3, 0, 1], then [4, 1, 2, 0, 3]); a
# different shuffling call, or a generator re-created inside the function, shows up as a
# different order. It checks that an unshuffled epoch is in order and does not consume
# randomness, and that every shuffled epoch is a permutation (each sample exactly once).


# %% nbgrader={"grade": true, "grade_id": "test-shuffle", "locked": true, "points": 20, "schema_version": 3}
def test_shuffle_is_seeded_complete_and_changes_each_epoch():
    rng = np.random.default_rng(0)
    plain = _epoch_order(5, False, rng).tolist()
    assert plain == [0, 1, 2, 3, 4], f"without shuffle the order is 0..4, got {plain}"
    first, second = _epoch_order(5, True, rng).tolist(), _epoch_order(5, True, rng).tolist()
    assert first == [2, 4, 3, 0, 1], (
        f"seed 0, first epoch: [2, 4, 3, 0, 1] (and no randomness used without shuffle); "
        f"got {first}"
    )
    assert second == [4, 1, 2, 0, 3], f"the next epoch advances the generator: got {second}"
    rng = np.random.default_rng(1)
    for epoch in range(3):
        order = _epoch_order(20, True, rng)
        assert sorted(order.tolist()) == list(range(20)), f"epoch {epoch} is not a permutation"
    ### BEGIN HIDDEN TESTS
    ours, reference = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(2):
        expected = np.arange(50)
        reference.shuffle(expected)
        got = _epoch_order(50, True, ours)
        assert np.array_equal(got, expected), "one generator, advanced by each epoch's shuffle"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_shuffle_is_seeded_complete_and_changes_each_epoch()

# %% [markdown]
# ### 2b. Specification: `_collate` and the `DataLoader`
#
# `_collate(samples) -> tuple[Tensor, ...]`: `samples` is a list of samples of a generic
# Dataset. Each sample is a tuple of fields; a sample that is *not* a tuple (a bare array
# or number) counts as a 1-tuple. Return one Tensor per field: field k of every sample,
# stacked along a new first axis with `np.stack` (after `np.asarray` on each value), made
# into a `Tensor` with the default dtype rule.
# Example: `[(np.array([0, 0]), 0), (np.array([1, 1]), 1)]` → Tensors of shapes (2, 2), (2,).
#
# `DataLoader(dataset, batch_size=32, shuffle=False, drop_last=False, seed=None)`:
# - `__init__`: `batch_size < 1` raises `ValueError` mentioning `"batch_size"`. Store the
#   four settings as attributes of the same names and create `self.rng =
#   np.random.default_rng(seed)`, once: this is the generator every epoch advances.
# - `__len__`: the number of batches an epoch yields: ⌈N/B⌉, or ⌊N/B⌋ with `drop_last`.
# - `__iter__`: a generator. `order = _epoch_order(N, self.shuffle, self.rng)`; then for
#   each consecutive slice of `batch_size` indices, skip a short last slice when
#   `drop_last`, and `yield self._gather(indices)`.
# - `_gather(indices)`: for a `TensorDataset`, `tuple(Tensor(a[indices], dtype=a.dtype) for
#   a in dataset.arrays)` (one NumPy gather per field, the dtype kept: float64 stays
#   float64); for any other Dataset, `_collate([dataset[int(i)] for i in indices])`.
# - Edge cases: N < B gives one partial batch (or none with `drop_last`); N = 0 gives none.


# %% nbgrader={"grade": false, "grade_id": "dataloader", "locked": false, "schema_version": 3, "solution": true}
#| export
def _collate(samples: list) -> tuple:
    """Stack a list of samples field by field: one Tensor of shape (len(samples), ...) each."""
    ### BEGIN SOLUTION
    if not isinstance(samples[0], tuple):  # a dataset of bare samples: one field
        samples = [(sample,) for sample in samples]
    return tuple(Tensor(np.stack([np.asarray(f) for f in field])) for field in zip(*samples))
    ### END SOLUTION


class DataLoader:
    """Iterate a Dataset in batches of Tensors, optionally shuffled (seeded) each epoch."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 32,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
    ):
        """Check batch_size >= 1, store the settings, create the generator once."""
        ### BEGIN SOLUTION
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}.")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = np.random.default_rng(seed)  # once: each epoch advances it
        ### END SOLUTION

    def __len__(self) -> int:
        """Batches per epoch: ceil(N / batch_size), or floor with drop_last."""
        ### BEGIN SOLUTION
        full, rest = divmod(len(self.dataset), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)
        ### END SOLUTION

    def __iter__(self):
        """One epoch: order (shuffled if asked), cut into batches, gather each."""
        ### BEGIN SOLUTION
        order = _epoch_order(len(self.dataset), self.shuffle, self.rng)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield self._gather(batch)
        ### END SOLUTION

    def _gather(self, indices: np.ndarray) -> tuple:
        """One Tensor per field, shaped (len(indices), ...)."""
        ### BEGIN SOLUTION
        if isinstance(self.dataset, TensorDataset):  # one NumPy gather per field
            return tuple(Tensor(a[indices], dtype=a.dtype) for a in self.dataset.arrays)
        return _collate([self.dataset[int(i)] for i in indices])
        ### END SOLUTION


# %% [markdown]
# ### Test: batches, the partial batch, shuffled batches, and generic datasets
#
# This replays the worked example: without shuffling, 5 samples in batches of 2 give
# batches [0, 1], [2, 3], [4] and `len == 3`, with `drop_last` two batches; with seed 0 the
# batches [2, 4] [3, 0] [1], then [4, 1] [2, 0] [3], and a new loader with the same seed
# replays the first epoch (a generator re-created in `__iter__` would repeat it forever).
# It checks that both fields of a batch are Tensors with their dtypes (integer labels stay
# integer: the loss of module 04 indexes with them), that shuffled fields stay aligned, and
# that a Dataset that is not a TensorDataset is batched through `_collate`.


# %% nbgrader={"grade": true, "grade_id": "test-batching", "locked": true, "points": 40, "schema_version": 3}
def test_batching_and_partial_batch():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    loader = DataLoader(TensorDataset(x, np.arange(5)), batch_size=2)
    batches = list(loader)
    assert len(loader) == len(batches) == 3, (
        f"⌈5/2⌉ = 3 batches, len {len(loader)}, got {len(batches)}"
    )
    labels = [b[1].data.tolist() for b in batches]
    assert labels == [[0, 1], [2, 3], [4]], f"in order, the last batch partial: {labels}"
    assert all(isinstance(t, Tensor) for b in batches for t in b), "every field is a Tensor"
    assert [b[0].shape for b in batches] == [(2, 2), (2, 2), (1, 2)], "features stay (B, 2)"
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype.kind == "i", (
        "features stay float32, labels stay integer"
    )
    dropped = DataLoader(TensorDataset(x), batch_size=2, drop_last=True)
    assert len(dropped) == 2 and len(list(dropped)) == 2, "drop_last: ⌊5/2⌋ = 2 batches"
    assert len(DataLoader(TensorDataset(x), batch_size=8, drop_last=True)) == 0, "N < B"

    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return (np.array([i, i * i]), i % 2)

    (features, parity), *rest = DataLoader(Squares(), batch_size=4)
    assert features.shape == (4, 2) and np.array_equal(parity.data, [0, 1, 0, 1]), (
        f"a generic Dataset is stacked field by field: {features.shape}, {parity.data}"
    )
    assert [t.shape for t in rest[0]] == [(1, 2), (1,)], "its last batch is partial too"
    bare = _collate([np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    assert len(bare) == 1 and bare[0].shape == (2, 2), "bare samples collate into one field"
    try:
        DataLoader(TensorDataset(x), batch_size=0)
    except ValueError as error:
        assert "batch_size" in str(error), f"name the bad argument: {error}"
    else:
        raise AssertionError("batch_size = 0 must be refused")

    shuffled = DataLoader(TensorDataset(np.arange(5)), batch_size=2, shuffle=True, seed=0)
    epochs = [[b[0].data.tolist() for b in shuffled] for _ in range(2)]
    assert epochs == [[[2, 4], [3, 0], [1]], [[4, 1], [2, 0], [3]]], (
        f"seed 0: epoch 1 [2,4] [3,0] [1], epoch 2 [4,1] [2,0] [3]; got {epochs}"
    )
    again = DataLoader(TensorDataset(np.arange(5)), batch_size=2, shuffle=True, seed=0)
    assert [b[0].data.tolist() for b in again] == epochs[0], "the same seed replays epoch 1"
    aligned = DataLoader(TensorDataset(np.arange(20), np.arange(20) * 10), 6, shuffle=True)
    for xs, ys in aligned:
        assert np.array_equal(ys.data, xs.data * 10), "shuffling must keep the fields aligned"
    ### BEGIN HIDDEN TESTS
    for size, batch, drop, expected in [
        (10, 3, False, [3, 3, 3, 1]),
        (9, 3, False, [3, 3, 3]),
        (2, 5, False, [2]),
        (2, 5, True, []),
        (7, 7, True, [7]),
    ]:
        loader = DataLoader(TensorDataset(np.arange(size)), batch_size=batch, drop_last=drop)
        got = [len(b[0].data) for b in loader]
        assert got == expected and len(loader) == len(expected), f"{size}/{batch}/{drop}: {got}"
    (x64,), *_ = DataLoader(TensorDataset(Tensor(np.ones(4), dtype=np.float64)), batch_size=4)
    assert x64.dtype == np.float64, "the gather keeps the dataset's dtype"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_batching_and_partial_batch()

# %% [markdown]
# ## 2c. Holding out a validation set
#
# The Trainer of module 07 reports a validation loss, and it only means something when the
# validation samples were never trained on: a model can memorise its training set, and only
# held-out data shows whether it learned the rule. The split must be **random** (data sets
# are often sorted, and the last 20% of a sorted set is not a fair sample) and
# **reproducible** (the same seed must give the same split, or two runs are not comparable
# and validation samples leak into training when a run is resumed).
#
# **Worked example**: 5 samples, `val_fraction=0.4`, `seed=0`. The permutation of
# `default_rng(0)` is [2, 4, 3, 0, 1] (the loader's first epoch above: the same generator
# and seed). round(0.4 · 5) = 2 samples go to validation: indices [2, 4]; training gets
# [3, 0, 1], in that order.
#
# ### Specification: `train_val_split(dataset, val_fraction, seed=None) -> (train, val)`
#
# - `dataset` is a `TensorDataset`; `val_fraction` must satisfy 0 < val_fraction < 1, else
#   `ValueError` mentioning `"val_fraction"`.
# - `order = np.random.default_rng(seed).permutation(N)`; `n_val = round(val_fraction * N)`;
#   validation gets `order[:n_val]`, training `order[n_val:]`.
# - Both results are new `TensorDataset`s built from `Tensor(a[indices], dtype=a.dtype)` for
#   every array `a` of `dataset.arrays` (passing the dtype keeps float64 data float64: the
#   plain `TensorDataset(a[indices])` would turn it into float32).
# - Every sample lands in exactly one of the two; the fields stay aligned.


# %% nbgrader={"grade": false, "grade_id": "split", "locked": false, "schema_version": 3, "solution": true}
def train_val_split(dataset: TensorDataset, val_fraction: float, seed: int | None = None):
    """A reproducible random split into (train, val) TensorDatasets; val gets the fraction."""
    ### BEGIN SOLUTION
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, not {val_fraction}.")
    order = np.random.default_rng(seed).permutation(len(dataset))
    n_val = round(val_fraction * len(dataset))

    def subset(indices):
        return TensorDataset(*(Tensor(a[indices], dtype=a.dtype) for a in dataset.arrays))

    return subset(order[n_val:]), subset(order[:n_val])
    ### END SOLUTION


# %% [markdown]
# ### Test: the split is random, complete and reproducible
#
# This replays the example (seed 0: validation [2, 4], training [3, 0, 1]), checks that on a
# larger set the two parts are disjoint, cover every sample, keep features and labels
# aligned and keep the dtypes, and that a fraction outside (0, 1) is refused.


# %% nbgrader={"grade": true, "grade_id": "test-split", "locked": true, "points": 10, "schema_version": 3}
def test_train_val_split():
    train, val = train_val_split(TensorDataset(np.arange(5)), val_fraction=0.4, seed=0)
    assert val.arrays[0].tolist() == [2, 4], f"seed 0: validation is [2, 4], got {val.arrays[0]}"
    assert train.arrays[0].tolist() == [3, 0, 1], f"training is [3, 0, 1], got {train.arrays[0]}"
    x = Tensor(np.arange(100.0), dtype=np.float64)
    train, val = train_val_split(TensorDataset(x, np.arange(100) * 2), 0.25, seed=1)
    assert (len(train), len(val)) == (75, 25), f"25% of 100 held out: {len(train)}, {len(val)}"
    together = sorted(train.arrays[0].tolist() + val.arrays[0].tolist())
    assert together == list(range(100)), "every sample in exactly one of the two parts"
    for part in (train, val):
        assert np.array_equal(part.arrays[1], part.arrays[0] * 2), "fields stay aligned"
        assert part.arrays[0].dtype == np.float64, "the split keeps the dataset's dtype"
    again, _ = train_val_split(TensorDataset(x, np.arange(100) * 2), 0.25, seed=1)
    assert np.array_equal(again.arrays[0], train.arrays[0]), "the same seed, the same split"
    try:
        train_val_split(TensorDataset(np.arange(5)), 1.0)
    except ValueError as error:
        assert "val_fraction" in str(error), f"name the bad argument: {error}"
    else:
        raise AssertionError("val_fraction = 1 leaves nothing to train on: refuse it")


if __name__ == "__main__":
    test_train_val_split()

# %% [markdown]
# ## 3. Systems: what feeding the model costs
#
# A training step must wait for its batch, so the loader's time per epoch is a floor under
# the training time per epoch. Two effects dominate it:
#
# - **Per-batch overhead.** Every batch costs a fixed amount of Python work (slicing the
#   order, creating Tensors, the generator's bookkeeping): a few microseconds. With B = 1
#   that is paid N times per epoch; with B = 256, N/256 times.
# - **Per-sample work.** Copying each sample's bytes into the batch. Fancy indexing does it
#   in C; a generic Dataset does it with one `__getitem__` call and one `np.stack` entry
#   per sample, in Python.
#
# To measure this honestly, time a full epoch several times and take the **median**: the
# first run pays for cold caches, and other programs on the machine add random delays that
# the median ignores and a mean does not.
#
# ### Specification: `time_epoch(loader, repeats=3) -> float`
#
# Run `repeats` full epochs (`for _ in loader: pass`), time each with
# `time.perf_counter()`, and return the median duration in seconds (`np.median`).


# %% nbgrader={"grade": false, "grade_id": "time-epoch", "locked": false, "schema_version": 3, "solution": true}
def time_epoch(loader, repeats: int = 3) -> float:
    """Median wall-clock seconds of one full pass over `loader` (of `repeats` passes)."""
    import time

    ### BEGIN SOLUTION
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _batch in loader:
            pass
        durations.append(time.perf_counter() - start)
    return float(np.median(durations))
    ### END SOLUTION


# %% [markdown]
# ### Test: the timer runs whole epochs
#
# Timings are never compared with a fixed number (machines differ); this checks that
# `time_epoch` really consumes `repeats` whole epochs (it counts the batches it was given)
# and returns a positive float.


# %% nbgrader={"grade": true, "grade_id": "test-time-epoch", "locked": true, "points": 10, "schema_version": 3}
def test_time_epoch_runs_whole_epochs():
    class Counting:
        def __init__(self):
            self.batches = 0

        def __iter__(self):
            for _ in range(4):
                self.batches += 1
                yield None

    counting = Counting()
    seconds = time_epoch(counting, repeats=5)
    assert counting.batches == 20, f"5 epochs of 4 batches = 20 batches, got {counting.batches}"
    assert isinstance(seconds, float) and seconds >= 0, f"a duration in seconds, got {seconds!r}"


if __name__ == "__main__":
    test_time_epoch_runs_whole_epochs()

# %% [markdown]
# ### Measure: time per epoch against batch size, and the cost of a Python loop per sample
#
# `analyze_batch_size` times an epoch over 2,048 samples of 64 floats for several batch
# sizes: the loader alone, and the loader plus a forward pass through one 64 × 64 layer
# (a Tensor matmul, so the compute is real). Expect the time per epoch to fall steeply from
# B = 1 (2,048 batches of pure overhead) and then level off once the per-batch overhead is
# small next to the copying and the matmul: steps per second fall, samples per second rise
# and saturate. `analyze_gather_speed` compares fancy indexing with a generic Dataset on
# the same array.
#
# One surprise you may meet: on a busy machine the B = 1024 row can jump from a fraction of a
# millisecond to tens of milliseconds. A matmul that large makes OpenBLAS split the work
# across threads, and when another program holds the other core, a thread waits to be
# scheduled. Run with `OPENBLAS_NUM_THREADS=1` in the environment (as the course's
# milestones and benchmarks do) to see the steady single-thread number.


# %%
def analyze_batch_size(n: int = 2048, features: int = 64) -> list[dict]:
    """Median seconds per epoch (loader alone, and with a matmul) for several batch sizes."""
    rng = np.random.default_rng(0)
    data = TensorDataset(rng.random((n, features)))
    weight = Tensor(rng.random((features, features)))
    rows = []
    for batch_size in (1, 16, 128, 1024):
        loader = DataLoader(data, batch_size=batch_size)

        class WithForward:
            def __iter__(self, loader=loader):
                for (x,) in loader:
                    yield x @ weight

        load = time_epoch(loader, repeats=5)
        total = time_epoch(WithForward(), repeats=5)
        steps = len(loader)
        rows.append(
            {
                "batch_size": batch_size,
                "load_ms": 1e3 * load,
                "with_forward_ms": 1e3 * total,
                "steps_per_s": steps / total,
                "samples_per_s": n / total,
            }
        )
        print(
            f"B={batch_size:5d}: load {1e3 * load:7.2f} ms/epoch, with forward "
            f"{1e3 * total:7.2f} ms = {steps / total:9.0f} steps/s, {n / total:10.0f} samples/s"
        )
    return rows


if __name__ == "__main__":
    analyze_batch_size()


# %%
def analyze_gather_speed(n: int = 4096, batch_size: int = 256) -> tuple[float, float]:
    """Median seconds per epoch: fancy-index gathering versus one __getitem__ per sample."""

    class Rows(Dataset):
        def __init__(self, array):
            self.array = array

        def __len__(self):
            return len(self.array)

        def __getitem__(self, i):
            return (self.array[i],)

    array = np.random.rand(n, 64).astype(np.float32)
    fast = time_epoch(DataLoader(TensorDataset(array), batch_size=batch_size))
    slow = time_epoch(DataLoader(Rows(array), batch_size=batch_size))
    print(
        f"vectorised: {fast * 1e3:.2f} ms/epoch, per sample: {slow * 1e3:.2f} ms/epoch "
        f"({slow / fast:.0f}x slower, {1e6 * (slow - fast) / n:.1f} µs per sample)"
    )
    return fast, slow


if __name__ == "__main__":
    analyze_gather_speed()

# %% [markdown]
# ## Reflect
#
# Answer in a few sentences each, with numbers where you can. Use the measurements above.

# %% [markdown]
# **Q1 (data loading cost).** `analyze_gather_speed` measured a generic Dataset against a
# TensorDataset. How many microseconds does the Python path cost per sample, and when does
# data loading, rather than the model, become the bottleneck of training?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-loading", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The per-sample path cost about 3-4 µs per sample here (one `__getitem__` call, one tuple,
# one entry for np.stack), about 100-200x the vectorised gather, which copies a whole batch
# in one C call (an epoch of 4,096 samples: 0.08 ms against 15 ms). It matters when the
# model's step per sample is as cheap as that: a small MLP on in-memory data. For a
# transformer a step takes milliseconds per sample and loading is noise. In real pipelines
# the per-sample work is much larger (reading files, decoding images, augmenting): then
# loading runs in separate worker processes that prepare the next batches while the model
# computes, so that the two
# overlap; the loader's time per epoch must stay below the model's.
# ### END SOLUTION

# %% [markdown]
# **Q2 (steps/s vs batch size).** From `analyze_batch_size`: how do steps per second and
# samples per second change from B = 1 to B = 1024? If samples per second stop improving,
# why might you still not want the largest batch?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-batch-size", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Measured here (single-threaded BLAS): B = 1 about 130k steps/s, i.e. 130k samples/s;
# B = 16 about 190k steps/s, 3M samples/s; B = 128 about 85k steps/s, 10M samples/s;
# B = 1024 about 12k steps/s, 12M samples/s. Up to B ≈ 16 a step costs about the same
# whatever the batch (a few µs of fixed Python and Tensor-creation overhead), so samples/s
# grows almost linearly with B; from B ≈ 128 on, copying and the matmul dominate and
# samples/s saturates while steps/s keep falling. Past that point a bigger batch gives no
# more throughput but fewer updates per epoch: the gradient's noise falls like 1/√B, so 4x
# the batch buys only 2x less noise for 4x the work per step, and the memory for
# activations grows linearly with B. Practitioners pick the batch where throughput
# saturates (or memory runs out), and scale the learning rate with it.
# ### END SOLUTION

# %% [markdown]
# **Q3 (memory).** A data set of 1M colour images of 3 × 224 × 224 pixels is to be trained
# with batches of 256. How much memory would a TensorDataset of it take in float32, how much
# does one batch take, and what would you do instead?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# One image is 3 × 224 × 224 × 4 bytes ≈ 602 KB, so the data set is about 600 GB in
# float32: it does not fit in memory. One batch is 256 × 602 KB ≈ 154 MB, which does. So the
# Dataset keeps only file names (or offsets into one file, or a memory-mapped uint8 array,
# 4x smaller than float32) and loads and converts sample i in `__getitem__`; the loader
# batches those, which brings back the per-sample cost of Q1, paid in worker processes.
# ### END SOLUTION

# %% [markdown]
# **Q4 (what breaks).** A colleague's loader creates `np.random.default_rng(seed)` inside
# `__iter__`, and another colleague trains on a data set sorted by label with
# `shuffle=False`. What goes wrong in each case?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-shuffle", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Re-creating the generator in `__iter__` gives the same "shuffled" order every epoch: the
# model sees the same batches in the same sequence, so batch-to-batch noise is always the
# same and the model can fit the order. Our test catches it because epoch 2 must differ from
# epoch 1. Without shuffling on sorted data every batch holds a single class: each step pulls
# the model towards predicting that class, the loss swings from batch to batch, and the
# model ends the epoch biased towards the last classes it saw. Batches should be
# independent samples of the whole distribution; shuffling each epoch approximates that.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 08_dataloader.")
