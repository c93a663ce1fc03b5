"""Shared plumbing for the milestone scripts: options, progress bar, sparkline, result line.

Standard library and NumPy only (matplotlib only inside `plot_losses`, and optional). Importing
this module puts the course root first on `sys.path`, so `import tinytorch` is the course's
own package, exported from the student's modules, wherever the script is started from.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parents[1]
if str(COURSE_ROOT) not in sys.path:
    sys.path.insert(0, str(COURSE_ROOT))

SPARKS = "▁▂▃▄▅▆▇█"


def parse_args(
    description: str,
    default_steps: int,
    quick_steps: int,
    extra=None,
    steps_help: str = "training steps",
) -> argparse.Namespace:
    """--quick, --seed, --steps, --plot (and whatever `extra(parser)` adds).

    Unknown options are a usage error (exit 2), never silently ignored.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a short run for tests and CI")
    parser.add_argument("--seed", type=int, default=0, help="random seed (data and weights)")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"{steps_help} (default {default_steps}, {quick_steps} with --quick)",
    )
    parser.add_argument("--plot", metavar="FILE", help="write the loss curve as a PNG")
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    if args.steps is None:
        args.steps = quick_steps if args.quick else default_steps
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    return args


class ProgressBar:
    """A live bar with the loss on stderr when it is a terminal; a line per 10% otherwise."""

    def __init__(self, total: int, label: str = "training", width: int = 30):
        self.total, self.label, self.width = max(total, 1), label, width
        self.count = 0
        self.started = time.perf_counter()
        self.live = sys.stderr.isatty()
        self.next_report = 0.1

    def update(self, steps: int = 1, **metrics) -> None:
        self.count = min(self.total, self.count + steps)
        fraction = self.count / self.total
        shown = " ".join(
            f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
        )
        elapsed = time.perf_counter() - self.started
        if self.live:
            filled = int(self.width * fraction)
            bar = "█" * filled + "░" * (self.width - filled)
            sys.stderr.write(
                f"\r{self.label} {bar} {self.count}/{self.total} {shown} {elapsed:5.1f}s"
            )
            sys.stderr.flush()
        elif fraction >= self.next_report or self.count == self.total:
            sys.stderr.write(f"{self.label}: {self.count}/{self.total} {shown} ({elapsed:.1f} s)\n")
            self.next_report = math.floor(fraction * 10 + 1) / 10

    def close(self) -> None:
        if self.live:
            sys.stderr.write("\n")
            sys.stderr.flush()


def sparkline(values, width: int = 40) -> str:
    """The curve of `values` in one line of block characters (downsampled to `width`)."""
    values = [float(v) for v in values if math.isfinite(float(v))]
    if not values:
        return ""
    if len(values) > width:
        chunk = len(values) / width
        values = [
            sum(values[int(i * chunk) : max(int((i + 1) * chunk), int(i * chunk) + 1)])
            / max(1, int((i + 1) * chunk) - int(i * chunk))
            for i in range(width)
        ]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(
        SPARKS[min(len(SPARKS) - 1, int((v - low) / span * len(SPARKS)))] for v in values
    )


def plot_losses(path: str, losses, title: str) -> None:
    """Write the loss curve to a PNG; without matplotlib, say so and go on."""
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
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot(range(1, len(losses) + 1), losses)
    axes.set(title=title, xlabel="step", ylabel="loss")
    axes.set_yscale("log")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    print(f"Loss curve written to {path}")


def _plain(value):
    """A JSON-safe value: NumPy scalars become Python numbers, NaN and infinity null."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def finish(result: dict) -> None:
    """Print the result as the last stdout line (one JSON object) and exit 0 iff it passed."""
    missing = {"passed", "final_loss", "accuracy", "seconds"} - result.keys()
    if missing:
        raise ValueError(f"The milestone result lacks {sorted(missing)}.")
    result = {key: _plain(value) for key, value in result.items()}
    result["passed"] = bool(result["passed"])
    sys.stderr.flush()  # the progress bar's last line before the result
    print(json.dumps(result), flush=True)
    sys.exit(0 if result["passed"] else 1)
