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
# Training never sees the whole data set at once: it takes **mini-batches**. A batch of B
# samples gives a gradient estimate whose noise shrinks like 1/√B, and lets matmuls work on
# B rows at a time. Two pieces:
#
# - a **Dataset** answers two questions: how many samples (`len`) and what is sample i
#   (`dataset[i]`, a tuple such as `(features, label)`);
# - a **DataLoader** walks a Dataset in batches: it orders the indices (shuffled each epoch
#   when asked, reproducibly with a seed), cuts them into groups of `batch_size`, and stacks
#   each group into one Tensor per field: `(B, ...)`.
#
# The last batch may be smaller (`N % batch_size` samples); keep it (every sample is seen
# each epoch) unless `drop_last=True` asks for equal batch shapes.

# %%
#| default_exp data.loader
#| export
import numpy as np

from tinytorch.core.tensor import Tensor


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
        if not arrays:
            raise ValueError("TensorDataset needs at least one array.")
        ### BEGIN SOLUTION
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
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)


# %% [markdown]
# ## The DataLoader
#
# Gathering a batch one sample at a time costs a Python call per sample. When the dataset is
# a `TensorDataset`, `array[batch_indices]` gathers the whole batch in one NumPy call, which
# is what makes small models train fast. Any other Dataset falls back to stacking samples.


# %% nbgrader={"grade": false, "grade_id": "dataloader", "locked": false, "schema_version": 3, "solution": true}
#| export
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
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}.")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        full, rest = divmod(len(self.dataset), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self):
        ### BEGIN SOLUTION
        order = np.arange(len(self.dataset))
        if self.shuffle:
            self.rng.shuffle(order)  # the generator advances: a new order every epoch
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield self._gather(batch)
        ### END SOLUTION

    def _gather(self, indices: np.ndarray) -> tuple:
        """One Tensor per field, shaped (len(indices), ...)."""
        if isinstance(self.dataset, TensorDataset):  # one NumPy gather per field
            return tuple(Tensor(a[indices], dtype=a.dtype) for a in self.dataset.arrays)
        samples = [self.dataset[int(i)] for i in indices]
        if not isinstance(samples[0], tuple):  # a dataset of bare samples: one field
            samples = [(sample,) for sample in samples]
        return tuple(Tensor(np.stack([np.asarray(f) for f in field])) for field in zip(*samples))


# %% [markdown]
# ## Unit tests


# %% nbgrader={"grade": true, "grade_id": "test-dataset", "locked": true, "points": 20, "schema_version": 3}
def test_tensor_dataset():
    x, y = np.arange(10).reshape(5, 2), np.arange(5)
    data = TensorDataset(x, Tensor(y))
    assert len(data) == 5
    features, label = data[3]
    assert np.array_equal(features, [6, 7]) and label == 3
    floats = TensorDataset(np.zeros((3, 2)), Tensor(np.zeros(3), dtype=np.float64))
    assert floats.arrays[0].dtype == np.float32, "float data follows the Tensor rule: float32"
    assert floats.arrays[1].dtype == np.float64, "a float64 Tensor stays float64"
    try:
        TensorDataset(np.zeros(3), np.zeros(4))
    except ValueError as error:
        assert "(3,)" in str(error) and "(4,)" in str(error)
    else:
        raise AssertionError("mismatched lengths must be refused")


# %% nbgrader={"grade": true, "grade_id": "test-batching", "locked": true, "points": 40, "schema_version": 3}
def test_batching_and_partial_batch():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    loader = DataLoader(TensorDataset(x, np.arange(10)), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 1), (4, 1), (2, 1)], "last partial batch kept"
    assert batches[0][1].dtype.kind == "i", "labels stay integer"
    assert len(DataLoader(TensorDataset(x), batch_size=4, drop_last=True)) == 2


# %% nbgrader={"grade": true, "grade_id": "test-shuffle", "locked": true, "points": 40, "schema_version": 3}
def test_shuffle_is_seeded_complete_and_changes_each_epoch():
    data = TensorDataset(np.arange(20))
    first = DataLoader(data, batch_size=6, shuffle=True, seed=1)
    second = DataLoader(data, batch_size=6, shuffle=True, seed=1)
    epoch_a = np.concatenate([b[0].data for b in first])
    assert np.array_equal(epoch_a, np.concatenate([b[0].data for b in second])), "seeded"
    assert sorted(epoch_a.tolist()) == list(range(20)), "every sample exactly once"
    epoch_b = np.concatenate([b[0].data for b in first])
    assert not np.array_equal(epoch_a, epoch_b), "a new order every epoch"


# %% [markdown]
# ## Systems analysis: the cost of a Python loop per sample


# %%
def analyze_gather_speed(n: int = 4096, batch_size: int = 256) -> tuple[float, float]:
    """Seconds per epoch: fancy-index gathering versus one __getitem__ per sample."""
    import time

    class Rows(Dataset):
        def __init__(self, array):
            self.array = array

        def __len__(self):
            return len(self.array)

        def __getitem__(self, i):
            return (self.array[i],)

    array = np.random.rand(n, 64).astype(np.float32)
    timings = []
    for data in (TensorDataset(array), Rows(array)):
        start = time.perf_counter()
        for _ in DataLoader(data, batch_size=batch_size):
            pass
        timings.append(time.perf_counter() - start)
    print(f"vectorised: {timings[0] * 1e3:.2f} ms/epoch, per sample: {timings[1] * 1e3:.2f} ms")
    return timings[0], timings[1]


# %%
if __name__ == "__main__":
    test_tensor_dataset()
    test_batching_and_partial_batch()
    test_shuffle_is_seeded_complete_and_changes_each_epoch()
    analyze_gather_speed()
    print("All tests passed for module 08_dataloader.")
