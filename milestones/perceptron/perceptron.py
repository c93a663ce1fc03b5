"""Milestone 1957: a perceptron (Linear + sigmoid) separates two Gaussian blobs."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
from common import ProgressBar, finish, parse_args, plot_losses, sparkline

from tinytorch.core.activations import Sigmoid
from tinytorch.core.layers import Linear
from tinytorch.core.losses import BinaryCrossEntropyLoss
from tinytorch.core.optimizers import SGD

CRITERION = 0.95


def make_blobs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n points per class around (-2, -1.5) and (2, 1.5), unit spread (Bayes error ~0.6%)."""
    centres = np.array([[-2.0, -1.5], [2.0, 1.5]])
    labels = np.repeat([0, 1], n)
    points = centres[labels] + rng.normal(size=(2 * n, 2))
    order = rng.permutation(2 * n)
    return points[order].astype(np.float32), labels[order].astype(np.float32)[:, None]


def main() -> None:
    args = parse_args(__doc__, default_steps=300, quick_steps=100)
    rng = np.random.default_rng(args.seed)
    np.random.seed(args.seed)
    x_train, y_train = make_blobs(rng, 200)
    x_test, y_test = make_blobs(rng, 200)
    layer, sigmoid, loss_fn = Linear(2, 1), Sigmoid(), BinaryCrossEntropyLoss()
    optimizer = SGD(layer.parameters(), lr=0.5)
    started = time.perf_counter()
    losses = []
    bar = ProgressBar(args.steps, "perceptron")
    for _ in range(args.steps):
        loss = loss_fn(sigmoid(layer(x_train)), y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.data))
        bar.update(loss=losses[-1])
    bar.close()
    predictions = sigmoid(layer(x_test)).data > 0.5
    accuracy = float(np.mean(predictions == (y_test > 0.5)))
    w, b = layer.weight.data[:, 0], layer.bias.data[0]
    print(f"loss  {sparkline(losses)}  {losses[0]:.3f} -> {losses[-1]:.3f}")
    print(f"decision boundary: {w[0]:.2f}·x1 + {w[1]:.2f}·x2 + {b:.2f} = 0")
    print(f"held-out accuracy: {accuracy:.3f} (criterion >= {CRITERION})")
    if args.plot:
        plot_losses(args.plot, losses, "Perceptron: loss")
    finish(
        {
            "passed": accuracy >= CRITERION,
            "final_loss": losses[-1],
            "accuracy": accuracy,
            "seconds": round(time.perf_counter() - started, 3),
            "steps": args.steps,
        }
    )


if __name__ == "__main__":
    main()
