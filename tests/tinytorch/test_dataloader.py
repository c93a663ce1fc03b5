"""DataLoader: batches, partial batch, seeded shuffling, generic datasets."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(np.arange(3)), batch_size=0)
