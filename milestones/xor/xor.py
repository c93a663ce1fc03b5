"""Milestone 1969: a single layer fails on XOR; a two-layer MLP solves it."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
from common import ProgressBar, finish, parse_args, plot_losses, sparkline

from tinytorch.core.activations import Sigmoid, Tanh
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import BinaryCrossEntropyLoss
from tinytorch.core.optimizers import Adam


def make_xor(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n noisy copies of each corner of the unit square; label = x1 XOR x2."""
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    labels = np.array([0, 1, 1, 0], dtype=np.float32)
    index = rng.integers(0, 4, size=n)
    points = corners[index] + rng.normal(scale=0.1, size=(n, 2))
    return (points - 0.5).astype(np.float32), labels[index][:, None]


def train(model, x, y, steps: int, label: str) -> list[float]:
    optimizer, loss_fn = Adam(model.parameters(), lr=0.05), BinaryCrossEntropyLoss()
    losses, bar = [], ProgressBar(steps, label)
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.data))
        bar.update(loss=losses[-1])
    bar.close()
    return losses


def accuracy(model, x, y) -> float:
    return float(np.mean((model(x).data > 0.5) == (y > 0.5)))


def main() -> None:
    args = parse_args(__doc__, default_steps=400, quick_steps=200)
    rng = np.random.default_rng(args.seed)
    np.random.seed(args.seed)
    x_train, y_train = make_xor(rng, 200)
    x_test, y_test = make_xor(rng, 200)
    started = time.perf_counter()

    single = Sequential(Linear(2, 1), Sigmoid())
    train(single, x_train, y_train, args.steps, "single layer")
    single_accuracy = accuracy(single, x_test, y_test)
    print(
        f"single layer: accuracy {single_accuracy:.3f}. No straight line separates XOR: "
        "the best one gets 3 of the 4 corners right (0.75)."
    )

    mlp = Sequential(Linear(2, 8), Tanh(), Linear(8, 1), Sigmoid())
    losses = train(mlp, x_train, y_train, args.steps, "two layers")
    mlp_accuracy = accuracy(mlp, x_test, y_test)
    print(f"loss  {sparkline(losses)}  {losses[0]:.3f} -> {losses[-1]:.4f}")
    print(f"two-layer MLP: accuracy {mlp_accuracy:.3f} (criterion: 1.0)")
    if args.plot:
        plot_losses(args.plot, losses, "XOR: two-layer MLP loss")
    finish(
        {
            "passed": mlp_accuracy == 1.0,
            "final_loss": losses[-1],
            "accuracy": mlp_accuracy,
            "single_layer_accuracy": single_accuracy,
            "seconds": round(time.perf_counter() - started, 3),
            "steps": args.steps,
        }
    )


if __name__ == "__main__":
    main()
