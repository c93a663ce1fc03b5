"""Milestone 1986: an MLP trained by backpropagation reads procedurally drawn 8x8 digits."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
from common import ProgressBar, finish, parse_args, plot_losses, sparkline

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.training import CosineSchedule, Trainer
from tinytorch.data.loader import DataLoader, TensorDataset

CRITERION = 0.90
SIZE = 8  # images are SIZE x SIZE pixels


def arc(cx: float, cy: float, rx: float, ry: float, points: int = 12) -> list:
    """A closed ellipse as a polyline (y grows downwards, as in an image)."""
    angles = np.linspace(0.0, 2 * np.pi, points)
    return list(zip(cx + rx * np.cos(angles), cy - ry * np.sin(angles)))


# Each digit is drawn as polylines in a unit box: x from left (0) to right (1), y from top (0)
# to bottom (1). Rendering stretches, slants, shifts and thickens them at random.
STROKES = {
    0: [arc(0.5, 0.5, 0.5, 0.5)],
    1: [[(0.2, 0.25), (0.6, 0.0), (0.6, 1.0)]],
    2: [[(0.0, 0.25), (0.25, 0.02), (0.7, 0.0), (1.0, 0.25), (0.9, 0.5), (0.0, 1.0), (1.0, 1.0)]],
    3: [
        [(0.0, 0.1), (0.5, 0.0), (0.95, 0.2), (0.8, 0.42), (0.4, 0.5)],
        [(0.4, 0.5), (0.85, 0.58), (1.0, 0.8), (0.6, 1.0), (0.0, 0.9)],
    ],
    4: [[(0.75, 1.0), (0.75, 0.0), (0.0, 0.7), (1.0, 0.7)]],
    5: [[(1.0, 0.0), (0.1, 0.0), (0.0, 0.45), (0.6, 0.38), (1.0, 0.6), (0.9, 0.92), (0.0, 0.9)]],
    6: [[(0.9, 0.05), (0.5, 0.0), (0.1, 0.3), (0.0, 0.7)], arc(0.5, 0.72, 0.5, 0.28)],
    7: [[(0.0, 0.0), (1.0, 0.0), (0.35, 1.0)]],
    8: [arc(0.5, 0.24, 0.4, 0.24), arc(0.5, 0.72, 0.5, 0.28)],
    9: [arc(0.5, 0.3, 0.5, 0.3), [(1.0, 0.3), (0.95, 0.7), (0.55, 1.0), (0.1, 0.95)]],
}


def to_segments(polylines: list) -> np.ndarray:
    """(k, 2, 2): k segments, each two end points (x, y)."""
    parts = []
    for line in polylines:
        points = np.asarray(line, dtype=np.float64)
        parts.append(np.stack([points[:-1], points[1:]], axis=1))
    return np.concatenate(parts)


SEGMENTS = {digit: to_segments(lines) for digit, lines in STROKES.items()}
_rows, _cols = np.mgrid[0:SIZE, 0:SIZE]
PIXELS = np.stack([_cols.ravel() + 0.5, _rows.ravel() + 0.5], axis=1)  # (64, 2) pixel centres


def distance_to_strokes(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(m, 64): distance from each pixel centre to the nearest of k segments, for m images.

    starts, ends: (m, k, 2) segment end points in pixel coordinates.
    """
    direction = ends - starts  # (m, k, 2)
    to_pixel = PIXELS[None, None] - starts[:, :, None]  # (m, k, 64, 2)
    length2 = np.maximum((direction * direction).sum(-1), 1e-9)[:, :, None]
    t = np.clip((to_pixel * direction[:, :, None]).sum(-1) / length2, 0.0, 1.0)  # (m, k, 64)
    nearest = to_pixel - t[..., None] * direction[:, :, None]
    return np.sqrt((nearest * nearest).sum(-1)).min(axis=1)


def draw_digits(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n images (n, 64) in [0, 1] and their labels: random size, slant, shift, stroke, noise."""
    labels = rng.integers(0, 10, size=n)
    height = rng.uniform(5.5, 7.0, n)
    width = height * rng.uniform(0.55, 0.8, n)
    slant = rng.uniform(-0.4, 0.4, n)  # x shift per unit of height above the middle
    half_width = rng.uniform(0.4, 0.9, n)  # half the stroke width, in pixels
    left = (SIZE - width) / 2 + rng.uniform(-1.2, 1.2, n)
    top = (SIZE - height) / 2 + rng.uniform(-0.8, 0.8, n)
    images = np.zeros((n, SIZE * SIZE))
    for digit, segments in SEGMENTS.items():
        rows = np.flatnonzero(labels == digit)
        h, w = height[rows, None, None], width[rows, None, None]
        y = segments[None, :, :, 1] * h  # (m, k, 2 ends)
        x = segments[None, :, :, 0] * w + slant[rows, None, None] * (h / 2 - y)
        points = np.stack([x + left[rows, None, None], y + top[rows, None, None]], axis=-1)
        distance = distance_to_strokes(points[:, :, 0], points[:, :, 1])
        # Ink 1 inside the stroke, fading to 0 over half a pixel at its edge (anti-aliasing).
        images[rows] = np.clip((half_width[rows, None] - distance) / 0.5 + 0.5, 0.0, 1.0)
    images *= rng.uniform(0.7, 1.0, size=(n, 1))  # ink strength
    images += rng.normal(scale=0.15, size=images.shape)  # sensor noise
    return np.clip(images, 0.0, 1.0).astype(np.float32), labels


def show_row(images: np.ndarray) -> str:
    """Images side by side in characters, darker ink as denser characters."""
    shades = " .:-=+*#"
    blocks = [[row for row in image.reshape(SIZE, SIZE)] for image in images]
    lines = []
    for r in range(SIZE):
        lines.append(
            "  ".join("".join(shades[int(v * 7.99)] for v in block[r]) for block in blocks)
        )
    return "\n".join(lines)


def predict(model, x: np.ndarray) -> np.ndarray:
    model.eval()
    with no_grad():
        classes = model(x).data.argmax(axis=-1)
    model.train()
    return classes


def main() -> None:
    args = parse_args(__doc__, default_steps=20, quick_steps=10, steps_help="epochs")
    rng = np.random.default_rng(args.seed)
    np.random.seed(args.seed)  # Linear initialises its weights with np.random
    started = time.perf_counter()
    x_train, y_train = draw_digits(rng, 3000 if args.quick else 5000)
    x_test, y_test = draw_digits(rng, 1000)
    examples = [int(np.flatnonzero(y_train == d)[0]) for d in range(10)]
    print("One training image per digit, 0 to 9:")
    print(show_row(x_train[examples]))

    model = Sequential(Linear(64, 128), ReLU(), Linear(128, 10))
    train_loader = DataLoader(
        TensorDataset(x_train, y_train), batch_size=64, shuffle=True, seed=args.seed
    )
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=500)
    schedule = CosineSchedule(0.01, 0.0005, total_steps=args.steps * len(train_loader))
    trainer = Trainer(model, Adam(model.parameters(), lr=0.01), CrossEntropyLoss(), schedule)
    bar = ProgressBar(args.steps, "epochs")
    for _ in range(args.steps):
        trainer.fit(train_loader, test_loader, epochs=1)
        accuracy = float(np.mean(predict(model, x_test) == y_test))
        bar.update(loss=trainer.history["train_loss"][-1], test_accuracy=accuracy)
    bar.close()

    losses = trainer.history["train_loss"]
    predictions = predict(model, x_test)
    held_out = float(np.mean(predictions == y_test))
    per_digit = [float(np.mean(predictions[y_test == d] == d)) for d in range(10)]
    print(f"loss  {sparkline(losses)}  {losses[0]:.3f} -> {losses[-1]:.3f} (train, per epoch)")
    print(f"held-out loss {trainer.history['val_loss'][-1]:.3f}")
    print("accuracy per digit: " + " ".join(f"{d}:{a:.2f}" for d, a in enumerate(per_digit)))
    print(f"held-out accuracy: {held_out:.3f} (criterion >= {CRITERION})")
    if args.plot:
        plot_losses(args.plot, losses, "MLP on 8x8 digits: training loss per epoch")
    finish(
        {
            "passed": held_out >= CRITERION,
            "final_loss": losses[-1],
            "accuracy": held_out,
            "seconds": round(time.perf_counter() - started, 3),
            "epochs": args.steps,
        }
    )


if __name__ == "__main__":
    main()
