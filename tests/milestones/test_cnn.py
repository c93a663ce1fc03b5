"""The CNN milestone's pieces: the shape generator, the two models, the criterion, the plot.

The whole run (--quick) is in test_milestone_scripts.py and tests/e2e; nothing here trains.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "milestones" / "cnn"), str(ROOT / "milestones")]
import cnn  # noqa: E402


def test_images_are_reproducible_and_in_range():
    images, labels = cnn.draw_shapes(np.random.default_rng(0), 60)
    again, same_labels = cnn.draw_shapes(np.random.default_rng(0), 60)
    other, _ = cnn.draw_shapes(np.random.default_rng(1), 60)
    assert images.shape == (60, 1, cnn.SIZE, cnn.SIZE) and cnn.SIZE >= 16
    assert images.dtype == np.float32 and images.min() >= 0.0 and images.max() <= 1.0
    assert np.array_equal(images, again) and np.array_equal(labels, same_labels)
    assert not np.array_equal(images, other)
    assert set(labels) == set(range(len(cnn.NAMES)))


def ink_boxes(images: np.ndarray) -> np.ndarray:
    """(n, 4): top, bottom, left, right rows and columns holding ink (noise-free images)."""
    boxes = []
    for image in images[:, 0]:
        rows, cols = np.flatnonzero(image.max(axis=1) > 0), np.flatnonzero(image.max(axis=0) > 0)
        boxes.append((rows[0], rows[-1], cols[0], cols[-1]))
    return np.array(boxes)


def test_shapes_lie_whole_on_the_canvas_at_many_positions_and_sizes():
    images, labels = cnn.draw_shapes(np.random.default_rng(2), 600, noise=0.0)
    boxes = ink_boxes(images)
    top, bottom, left, right = boxes.T
    assert (top >= 1).all() and (left >= 1).all(), "no shape is cut by the top or left edge"
    assert (bottom <= cnn.SIZE - 2).all() and (right <= cnn.SIZE - 2).all(), "nor bottom/right"
    centres_x, centres_y = (left + right) / 2, (top + bottom) / 2
    assert np.ptp(centres_x) >= cnn.SIZE / 3 and np.ptp(centres_y) >= cnn.SIZE / 3, "positions"
    assert centres_x.std() > 2 and centres_y.std() > 2
    widths = right - left + 1
    assert widths.min() <= 10 and widths.max() >= 14, f"sizes vary: {widths.min()}-{widths.max()}"
    for label in range(len(cnn.NAMES)):  # every class appears at several places
        assert np.ptp(centres_x[labels == label]) >= 5, cnn.NAMES[label]


def test_noise_is_added_on_top_of_the_drawing():
    rng_clean, rng_noisy = np.random.default_rng(3), np.random.default_rng(3)
    clean, _ = cnn.draw_shapes(rng_clean, 20, noise=0.0)
    noisy, _ = cnn.draw_shapes(rng_noisy, 20)
    background = clean == 0
    assert noisy[background].mean() > 0.03, "noise shows on the empty background"
    assert (clean[~background] > 0).all()


def test_the_models_and_their_parameter_counts():
    np.random.seed(0)
    convnet, mlp = cnn.build_cnn(), cnn.build_mlp()
    x = np.zeros((3, 1, cnn.SIZE, cnn.SIZE), dtype=np.float32)
    assert convnet(x).shape == (3, len(cnn.NAMES)) and mlp(x).shape == (3, len(cnn.NAMES))
    assert cnn.count_parameters(mlp) >= cnn.count_parameters(convnet), "MLP at least as big"
    assert "Conv2d(1, 8" in repr(convnet) and "MaxPool2d" in repr(convnet)


@pytest.mark.parametrize(
    "cnn_accuracy, mlp_accuracy, passed",
    [(0.96, 0.60, True), (0.95, 0.60, True), (0.949, 0.60, False), (0.97, 0.97, False),
     (0.96, 0.99, False), (1.0, 0.999, True)],
)  # fmt: skip
def test_criterion_needs_accuracy_and_a_win_over_the_mlp(cnn_accuracy, mlp_accuracy, passed):
    assert cnn.meets_criterion(cnn_accuracy, mlp_accuracy) is passed


def test_plot_shows_inputs_and_first_layer_maps(tmp_path):
    pytest.importorskip("matplotlib")
    np.random.seed(0)
    images, _ = cnn.draw_shapes(np.random.default_rng(4), len(cnn.NAMES))
    target = tmp_path / "maps.png"
    cnn.plot_feature_maps(str(target), cnn.build_cnn(), images)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
