"""DataLoader: batches, partial batch, seeded shuffling, generic datasets."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor
from tinytorch.data.loader import DataLoader, Dataset, TensorDataset


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return (np.array([i, i * i]), i % 2)


@pytest.mark.parametrize(
    ("size", "batch", "drop_last", "expected"),
    [
        (10, 3, False, [3, 3, 3, 1]),
        (10, 3, True, [3, 3, 3]),
        (9, 3, False, [3, 3, 3]),
        (2, 5, False, [2]),
        (2, 5, True, []),
    ],
)
def test_batch_sizes(size, batch, drop_last, expected):
    loader = DataLoader(TensorDataset(np.arange(size)), batch_size=batch, drop_last=drop_last)
    assert [len(b[0].data) for b in loader] == expected and len(loader) == len(expected)


def test_generic_dataset_is_stacked():
    (x, y), *_ = list(DataLoader(Squares(), batch_size=4))
    assert x.shape == (4, 2) and np.array_equal(y.data, [0, 1, 0, 1])


def test_each_epoch_is_a_permutation_and_seeded():
    loader = DataLoader(TensorDataset(np.arange(50)), batch_size=8, shuffle=True, seed=3)
    epochs = [np.concatenate([b[0].data for b in loader]) for _ in range(3)]
    for epoch in epochs:
        assert sorted(epoch.tolist()) == list(range(50))
    assert not np.array_equal(epochs[0], epochs[1])
    again = DataLoader(TensorDataset(np.arange(50)), batch_size=8, shuffle=True, seed=3)
    assert np.array_equal(np.concatenate([b[0].data for b in again]), epochs[0])


def test_batches_cover_every_sample_once_in_order_without_shuffle():
    x = np.arange(23 * 3).reshape(23, 3)
    y = np.arange(23) % 4
    loader = DataLoader(TensorDataset(x, y), batch_size=5)
    xs, ys = zip(*[(bx.data, by.data) for bx, by in loader])
    assert np.array_equal(np.concatenate(xs), x) and np.array_equal(np.concatenate(ys), y)
    assert [len(b) for b in xs] == [5, 5, 5, 5, 3] and len(loader) == 5


def test_shuffled_fields_stay_aligned():
    x = np.arange(40, dtype=np.float64)
    loader = DataLoader(TensorDataset(x, x * 10), batch_size=7, shuffle=True, seed=0)
    for bx, by in loader:
        assert np.array_equal(by.data, bx.data * 10)


def test_dtypes_follow_the_tensor_rule():
    floats, ints = np.random.rand(6, 2), np.arange(6)
    (x, y), *_ = DataLoader(TensorDataset(floats, ints), batch_size=6)
    assert isinstance(x, Tensor) and x.dtype == np.float32 and y.dtype.kind == "i"
    (x64,), *_ = DataLoader(TensorDataset(Tensor(floats, dtype=np.float64)), batch_size=6)
    assert x64.dtype == np.float64


def test_unseeded_shuffle_is_still_a_permutation():
    loader = DataLoader(TensorDataset(np.arange(30)), batch_size=4, shuffle=True)
    assert sorted(np.concatenate([b[0].data for b in loader]).tolist()) == list(range(30))


def test_bad_datasets_are_refused():
    with pytest.raises(ValueError, match="first dimension"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="first dimension"):
        TensorDataset(np.float32(1.0))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(NotImplementedError):
        len(Dataset())


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(np.arange(3)), batch_size=0)
