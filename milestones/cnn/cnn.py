"""Milestone 1998: a small CNN recognises drawn shapes wherever they are, and beats a bigger MLP."""

import os
import sys
import time
from pathlib import Path

# One BLAS thread: the convolutions' matrices are small (72 x 4096 for the second layer), and
# on a busy 2-core machine a second, busy-waiting OpenBLAS thread made a training step up to
# 20x slower. OpenBLAS reads this once, when NumPy is first imported, so it is set before.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
from common import ProgressBar, finish, parse_args, sparkline

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d
from tinytorch.core.training import CosineSchedule, Trainer
from tinytorch.data.loader import DataLoader, TensorDataset

CRITERION = 0.95
SIZE = 24  # images are SIZE x SIZE pixels, one channel


def polygon(points: list, closed: bool = True) -> list:
    return list(points) + ([points[0]] if closed else [])


def ring(points: int = 24) -> list:
    angles = np.linspace(0.0, 2 * np.pi, points + 1)
    return list(zip(0.5 + 0.5 * np.cos(angles), 0.5 + 0.5 * np.sin(angles)))


# Each shape is polylines in a unit box (x to the right, y downwards, as in an image).
SHAPES = {
    "circle": [ring()],
    "square": [polygon([(0, 0), (1, 0), (1, 1), (0, 1)])],
    "triangle": [polygon([(0.5, 0), (1, 1), (0, 1)])],
    "plus": [[(0.5, 0), (0.5, 1)], [(0, 0.5), (1, 0.5)]],
    "cross": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "bars": [[(0, 0.2), (1, 0.2)], [(0, 0.8), (1, 0.8)]],
}
NAMES = list(SHAPES)


def to_segments(polylines: list) -> np.ndarray:
    """(k, 2, 2): k segments, each two end points (x, y), centred on (0, 0)."""
    parts = []
    for line in polylines:
        points = np.asarray(line, dtype=np.float64) - 0.5
        parts.append(np.stack([points[:-1], points[1:]], axis=1))
    return np.concatenate(parts)


SEGMENTS = [to_segments(SHAPES[name]) for name in NAMES]
_rows, _cols = np.mgrid[0:SIZE, 0:SIZE]
PIXELS = np.stack([_cols.ravel() + 0.5, _rows.ravel() + 0.5], axis=1)  # (SIZE², 2) centres


def distance_to_segments(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(m, SIZE²): distance from each pixel centre to the nearest of k segments, m images.

    starts, ends: (m, k, 2) segment end points in pixel coordinates.
    """
    direction = ends - starts  # (m, k, 2)
    to_pixel = PIXELS[None, None] - starts[:, :, None]  # (m, k, P, 2)
    length2 = np.maximum((direction * direction).sum(-1), 1e-9)[:, :, None]
    t = np.clip((to_pixel * direction[:, :, None]).sum(-1) / length2, 0.0, 1.0)  # (m, k, P)
    nearest = to_pixel - t[..., None] * direction[:, :, None]
    return np.sqrt((nearest * nearest).sum(-1)).min(axis=1)


def draw_shapes(
    rng: np.random.Generator, n: int, noise: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    """n images (n, 1, SIZE, SIZE) in [0, 1] and labels: random position, size, rotation,
    stretch, stroke width, ink and noise. The shape lies anywhere on the canvas."""
    labels = rng.integers(0, len(NAMES), size=n)
    scale = rng.uniform(8.0, 13.0, n)  # the shape's width in pixels
    stretch = rng.uniform(0.8, 1.25, n)  # height / width
    angle = rng.uniform(-0.35, 0.35, n)  # radians, about +-20 degrees
    half_width = rng.uniform(0.45, 0.8, n)  # half the stroke width in pixels
    # Half the width and height of the turned shape's bounding box, plus the stroke: the
    # centre is drawn uniformly from wherever the whole shape fits on the canvas.
    width, height = scale, scale * stretch
    cos, sin = np.abs(np.cos(angle)), np.abs(np.sin(angle))
    reach_x = 0.5 * (cos * width + sin * height) + half_width + 1.0
    reach_y = 0.5 * (sin * width + cos * height) + half_width + 1.0
    centre_x = rng.uniform(reach_x, SIZE - reach_x)
    centre_y = rng.uniform(reach_y, SIZE - reach_y)
    images = np.zeros((n, SIZE * SIZE))
    for label, segments in enumerate(SEGMENTS):
        for rows in np.array_split(np.flatnonzero(labels == label), max(1, n // 400)):
            if rows.size == 0:
                continue
            cos, sin = np.cos(angle[rows]), np.sin(angle[rows])
            x = segments[None, :, :, 0] * scale[rows, None, None]  # (m, k, 2 ends)
            y = segments[None, :, :, 1] * (scale * stretch)[rows, None, None]
            turned_x = cos[:, None, None] * x - sin[:, None, None] * y + centre_x[rows, None, None]
            turned_y = sin[:, None, None] * x + cos[:, None, None] * y + centre_y[rows, None, None]
            points = np.stack([turned_x, turned_y], axis=-1)
            distance = distance_to_segments(points[:, :, 0], points[:, :, 1])
            # Ink 1 inside the stroke, fading to 0 over half a pixel at its edge (anti-aliasing).
            images[rows] = np.clip((half_width[rows, None] - distance) / 0.5 + 0.5, 0.0, 1.0)
    images *= rng.uniform(0.6, 1.0, size=(n, 1))  # ink strength
    images += rng.normal(scale=noise, size=images.shape)  # sensor noise
    images = np.clip(images, 0.0, 1.0).astype(np.float32)
    return images.reshape(n, 1, SIZE, SIZE), labels


def show_row(images: np.ndarray) -> str:
    """Images side by side in characters, darker ink as denser characters."""
    shades = " .:-=+*#"
    lines = []
    for r in range(SIZE):
        lines.append(
            "  ".join("".join(shades[int(v * 7.99)] for v in image[0, r]) for image in images)
        )
    return "\n".join(lines)


def build_cnn() -> Sequential:
    """LeNet-style: two conv + pool stages, a third conv, a global max pool, a linear head."""
    return Sequential(
        Conv2d(1, 8, 3, padding=1),  # (N, 8, 24, 24)
        ReLU(),
        MaxPool2d(2),  # (N, 8, 12, 12)
        Conv2d(8, 16, 3, padding=1),  # (N, 16, 12, 12)
        ReLU(),
        MaxPool2d(2),  # (N, 16, 6, 6)
        Conv2d(16, 32, 3, padding=1),  # (N, 32, 6, 6)
        ReLU(),
        MaxPool2d(6),  # (N, 32, 1, 1): is the feature anywhere in the image?
        Flatten(),  # (N, 32)
        Linear(32, len(NAMES)),
    )


def build_mlp(hidden: int = 64) -> Sequential:
    return Sequential(
        Flatten(), Linear(SIZE * SIZE, hidden), ReLU(), Linear(hidden, hidden), ReLU(),
        Linear(hidden, len(NAMES)),
    )  # fmt: skip


def meets_criterion(cnn_accuracy: float, mlp_accuracy: float) -> bool:
    """The CNN must read the shapes (>= CRITERION held out) and do better than the MLP."""
    return cnn_accuracy >= CRITERION and cnn_accuracy > mlp_accuracy


def count_parameters(model) -> int:
    return sum(p.size for p in model.parameters())


def predict(model, x: np.ndarray, batch: int = 500) -> np.ndarray:
    model.eval()
    with no_grad():
        classes = [model(x[i : i + batch]).data.argmax(axis=-1) for i in range(0, len(x), batch)]
    model.train()
    return np.concatenate(classes)


def train(model, name: str, data: tuple, epochs: int, seed: int, lr: float) -> tuple:
    """Adam with a cosine schedule through the course's Trainer; returns (losses, accuracy)."""
    x_train, y_train, x_test, y_test = data
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=seed)
    schedule = CosineSchedule(lr, lr / 20, total_steps=epochs * len(loader))
    trainer = Trainer(model, Adam(model.parameters(), lr=lr), CrossEntropyLoss(), schedule)
    bar = ProgressBar(epochs, f"{name} epochs")
    for _ in range(epochs):
        trainer.fit(loader, epochs=1)
        accuracy = float(np.mean(predict(model, x_test) == y_test))
        bar.update(loss=trainer.history["train_loss"][-1], test_accuracy=accuracy)
    bar.close()
    return trainer.history["train_loss"], float(np.mean(predict(model, x_test) == y_test))


def plot_feature_maps(path: str, model, images: np.ndarray) -> None:
    """A few inputs (rows) with the first layer's feature maps after ReLU (columns) as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "matplotlib is not installed, so no plot was written "
            "(pip install 'tinytorch-course[plot]')."
        )
        return
    with no_grad():
        maps = model.layers[1](model.layers[0](images)).data  # (n, 8, SIZE, SIZE)
    rows, columns = len(images), 1 + maps.shape[1]
    figure, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.3 * rows))
    for r in range(rows):
        axes[r, 0].imshow(images[r, 0], cmap="gray_r", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(NAMES[r], fontsize=8)
        for c in range(maps.shape[1]):
            axes[r, c + 1].imshow(maps[r, c], cmap="viridis")
            if r == 0:
                axes[r, c + 1].set_title(f"filter {c}", fontsize=8)
    for axis in axes.ravel():
        axis.set_xticks([])
        axis.set_yticks([])
    axes[0, 0].set_title("input", fontsize=8)
    figure.suptitle("First Conv2d layer: feature maps after ReLU")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    print(f"Inputs and first-layer feature maps written to {path}")


def main() -> None:
    args = parse_args(__doc__, default_steps=10, quick_steps=6, steps_help="epochs")
    rng = np.random.default_rng(args.seed)
    np.random.seed(args.seed)  # Conv2d and Linear initialise their weights with np.random
    started = time.perf_counter()
    x_train, y_train = draw_shapes(rng, 2500 if args.quick else 4000)
    x_test, y_test = draw_shapes(rng, 1000)
    data = (x_train, y_train, x_test, y_test)
    examples = [int(np.flatnonzero(y_train == k)[0]) for k in range(len(NAMES))]
    print(f"One training image per class ({', '.join(NAMES)}), {SIZE}x{SIZE} pixels:")
    print(show_row(x_train[examples]))

    cnn, mlp = build_cnn(), build_mlp()
    cnn_parameters, mlp_parameters = count_parameters(cnn), count_parameters(mlp)
    print(f"\nCNN, {cnn_parameters:,} parameters:\n{cnn}")
    print(f"MLP, {mlp_parameters:,} parameters:\n{mlp}\n")
    losses, cnn_accuracy = train(cnn, "CNN", data, args.steps, args.seed, lr=0.01)
    mlp_losses, mlp_accuracy = train(mlp, "MLP", data, args.steps, args.seed, lr=0.003)

    predictions = predict(cnn, x_test)
    per_class = {
        name: float(np.mean(predictions[y_test == k] == k)) for k, name in enumerate(NAMES)
    }
    fitted = {
        name: float(np.mean(predict(model, x_train) == y_train))
        for name, model in (("CNN", cnn), ("MLP", mlp))
    }
    print(f"CNN loss {sparkline(losses)}  {losses[0]:.3f} -> {losses[-1]:.3f} (train, per epoch)")
    print(f"MLP loss {sparkline(mlp_losses)}  {mlp_losses[0]:.3f} -> {mlp_losses[-1]:.3f}")
    print("CNN accuracy per class: " + " ".join(f"{k}:{v:.2f}" for k, v in per_class.items()))
    print(f"training-set accuracy: CNN {fitted['CNN']:.3f}, MLP {fitted['MLP']:.3f}")
    print(f"held-out accuracy:     CNN {cnn_accuracy:.3f} ({cnn_parameters:,} parameters), "
          f"MLP {mlp_accuracy:.3f} ({mlp_parameters:,} parameters)")  # fmt: skip
    print(
        "The MLP must learn each shape at each position from separate weights; the CNN's "
        "shared 3x3 kernels and pooling find a shape wherever it is."
    )
    print(f"criterion: CNN >= {CRITERION} and CNN > MLP")
    if args.plot:
        plot_feature_maps(args.plot, cnn, x_train[examples])
    finish(
        {
            "passed": meets_criterion(cnn_accuracy, mlp_accuracy),
            "final_loss": losses[-1],
            "accuracy": cnn_accuracy,
            "mlp_accuracy": mlp_accuracy,
            "cnn_parameters": cnn_parameters,
            "mlp_parameters": mlp_parameters,
            "seconds": round(time.perf_counter() - started, 3),
            "epochs": args.steps,
        }
    )


if __name__ == "__main__":
    main()
