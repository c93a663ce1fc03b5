"""Milestone 1986: an MLP classifies procedurally drawn 8x8 digits (10 classes)."""

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
from tinytorch.core.training import Trainer
from tinytorch.data.loader import DataLoader, TensorDataset

CRITERION = 0.90
# 5x7 glyphs, one string per row ('#' = ink).
GLYPHS = {
    0: [" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "],
    1: ["  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "],
    2: [" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"],
    3: ["#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "],
    4: ["   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "],
    5: ["#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "],
    6: ["  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "],
    7: ["#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "],
    8: [" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "],
    9: [" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "],
}
TEMPLATES = np.array(
    [[[c == "#" for c in row] for row in GLYPHS[d]] for d in range(10)], dtype=np.float32
)


def draw_digits(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n images (n, 64) in [0, 1]: a glyph at a random offset, random ink, noise, dropout."""
    labels = rng.integers(0, 10, size=n)
    images = np.zeros((n, 8, 8), dtype=np.float32)
    rows, cols = rng.integers(0, 2, size=n), rng.integers(0, 4, size=n)
    for i in range(n):
        images[i, rows[i] : rows[i] + 7, cols[i] : cols[i] + 5] = TEMPLATES[labels[i]]
    images *= rng.uniform(0.6, 1.0, size=(n, 1, 1))  # ink strength
    images *= rng.random(size=images.shape) > 0.1  # 10% of pixels drop out
    images += rng.normal(scale=0.15, size=images.shape)  # sensor noise
    return np.clip(images, 0, 1).reshape(n, 64).astype(np.float32), labels


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with no_grad():
        predictions = model(x).data.argmax(axis=-1)
    model.train()
    return float(np.mean(predictions == y))


def show(image: np.ndarray) -> str:
    return "\n".join("".join(" .:-=+*#"[int(v * 7.99)] for v in row) for row in image.reshape(8, 8))


def main() -> None:
    args = parse_args(__doc__, default_steps=15, quick_steps=10)  # steps = epochs here
    rng = np.random.default_rng(args.seed)
    np.random.seed(args.seed)
    x_train, y_train = draw_digits(rng, 2000 if args.quick else 3000)
    x_test, y_test = draw_digits(rng, 1000)
    print(f"A sample digit (label {y_train[0]}):\n{show(x_train[0])}")
    model = Sequential(Linear(64, 64), ReLU(), Linear(64, 10))
    trainer = Trainer(model, Adam(model.parameters(), lr=0.01), CrossEntropyLoss())
    loader = DataLoader(
        TensorDataset(x_train, y_train), batch_size=64, shuffle=True, seed=args.seed
    )
    started = time.perf_counter()
    bar = ProgressBar(args.steps, "epochs")
    for _ in range(args.steps):
        loss = trainer.train_epoch(loader)
        bar.update(loss=loss, test_accuracy=accuracy(model, x_test, y_test))
    bar.close()
    losses = trainer.history["train_loss"]
    held_out = accuracy(model, x_test, y_test)
    print(f"loss  {sparkline(losses)}  {losses[0]:.3f} -> {losses[-1]:.3f}")
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
