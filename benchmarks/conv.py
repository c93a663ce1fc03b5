"""Conv2d forward + backward: tinytorch's im2col convolution against PyTorch CPU's conv2d.

    python -m benchmarks.conv [--rounds 9] [--json benchmarks/results/conv.json]

For each configuration both frameworks compute the same work on the same float32 numbers:
out = conv2d(x, w, b), then the backward pass of sum(out * G) for a fixed random G, giving
dL/dx, dL/dw and dL/db (x requires a gradient, as for every layer but the first; the
`first layer` row has images that need none, so neither side computes dL/dx there). Before
timing, the outputs and gradients of both are compared. Rounds alternate A B A B so both
see the same machine state; each round times `repeats` calls; reported are the medians and
the ratio PyTorch time / tinytorch time (above 1 means tinytorch is faster).

Threads: both sides use OPENBLAS_NUM_THREADS threads (default 1, as the CNN milestone runs;
set it in the environment to change): NumPy's OpenBLAS reads it at import, PyTorch gets
`torch.set_num_threads` with the same number. Speed is reported here, never asserted in a test.
glibc's malloc keeps freed memory for reuse (module 16's `keep_freed_memory()`, called in
main; process-wide, so for both frameworks).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from pathlib import Path

# OpenBLAS reads this when NumPy is first imported, so it must be set before that import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
THREADS = int(os.environ["OPENBLAS_NUM_THREADS"])

import numpy as np  # noqa: E402

from benchmarks.gpt import interleave  # noqa: E402
from tinytorch.acceleration import keep_freed_memory  # noqa: E402
from tinytorch.core.spatial import conv2d  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402

try:
    import torch

    torch.set_num_threads(THREADS)  # the same number of threads on both sides
except ImportError:  # only tinytorch's numbers then
    torch = None

# name: (batch, in channels, out channels, image size, kernel, stride, padding, input grad)
CONFIGS = {
    "cnn milestone, first layer": (32, 1, 8, 24, 3, 1, 1, False),
    "cnn milestone, second layer": (32, 8, 16, 12, 3, 1, 1, True),
    "cifar-like 3->32, 32x32": (32, 3, 32, 32, 3, 1, 1, True),
    "32->64, 16x16, stride 2": (32, 32, 64, 16, 3, 2, 1, True),
    "64->64, 32x32": (16, 64, 64, 32, 3, 1, 1, True),
    "16->32, 28x28, 5x5 kernel": (16, 16, 32, 28, 5, 1, 2, True),
}


def make_inputs(config: tuple, seed: int = 0) -> dict:
    batch, c_in, c_out, size, kernel, stride, padding, _ = config
    rng = np.random.default_rng(seed)
    out_size = (size + 2 * padding - kernel) // stride + 1
    return {
        "x": rng.normal(size=(batch, c_in, size, size)).astype(np.float32),
        "w": (rng.normal(size=(c_out, c_in, kernel, kernel)) / np.sqrt(c_in * kernel**2)).astype(
            np.float32
        ),
        "b": rng.normal(size=c_out).astype(np.float32),
        "g": rng.normal(size=(batch, c_out, out_size, out_size)).astype(np.float32),
    }


def tinytorch_step(arrays: dict, config: tuple) -> tuple:
    """Forward and backward once; returns (out, dx, dw, db) as arrays (dx None if not needed)."""
    *_, stride, padding, input_grad = config
    x = Tensor(arrays["x"], requires_grad=input_grad)
    w = Tensor(arrays["w"], requires_grad=True)
    b = Tensor(arrays["b"], requires_grad=True)
    out = conv2d(x, w, b, stride, padding)
    out.backward(arrays["g"])
    dx = x.grad.data if input_grad else None
    return out.data, dx, w.grad.data, b.grad.data


def torch_step(tensors: dict, config: tuple) -> tuple:
    *_, stride, padding, input_grad = config
    x = tensors["x"].detach().requires_grad_(input_grad)
    w = tensors["w"].detach().requires_grad_(True)
    b = tensors["b"].detach().requires_grad_(True)
    out = torch.nn.functional.conv2d(x, w, b, stride, padding)
    out.backward(tensors["g"])
    dx = x.grad.numpy() if input_grad else None
    return out.detach().numpy(), dx, w.grad.numpy(), b.grad.numpy()


def max_difference(ours: tuple, theirs: tuple) -> float:
    """Largest |difference| relative to each result's scale, over out, dx, dw, db."""
    worst = 0.0
    for a, b in zip(ours, theirs):
        if a is not None:
            worst = max(worst, float(np.abs(a - b).max() / max(1.0, np.abs(b).max())))
    return worst


def flops(config: tuple) -> float:
    """Multiply-adds x 2 of forward, dW and (if needed) dX: each is one product of that size."""
    batch, c_in, c_out, size, kernel, stride, padding, input_grad = config
    out_size = (size + 2 * padding - kernel) // stride + 1
    one = 2 * batch * c_out * out_size**2 * c_in * kernel**2
    return one * (3 if input_grad else 2)


def bench(name: str, config: tuple, rounds: int) -> dict:
    arrays = make_inputs(config)
    ours = lambda: tinytorch_step(arrays, config)  # noqa: E731
    row = {"benchmark": name, "config": config, "gflop": flops(config) / 1e9}
    theirs = None
    if torch:
        tensors = {key: torch.tensor(value) for key, value in arrays.items()}
        theirs = lambda: torch_step(tensors, config)  # noqa: E731
        row["max_relative_difference"] = max_difference(ours(), theirs())
    once = statistics.median(interleave(ours, None, 3, 1)[0])
    repeats = max(1, min(20, int(0.2 / max(once, 1e-6))))  # about 0.2 s per round and side
    a, b = interleave(ours, theirs, rounds, repeats)
    row["tinytorch_ms"] = 1e3 * statistics.median(a)
    row["tinytorch_gflops"] = flops(config) / statistics.median(a) / 1e9
    if b:
        row["torch_ms"] = 1e3 * statistics.median(b)
        row["torch_gflops"] = flops(config) / statistics.median(b) / 1e9
        row["ratio"] = statistics.median(b) / statistics.median(a)
    return row


def describe(config: tuple) -> str:
    batch, c_in, c_out, size, kernel, stride, padding, input_grad = config
    return f"N {batch}, {c_in}->{c_out}, {size}x{size}, k {kernel}, s {stride}, p {padding}" + (
        "" if input_grad else ", no dx"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds (A B A B)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    keep_freed_memory()  # module 16's allocator switch, for both frameworks (process-wide)
    rows = [bench(name, config, args.rounds) for name, config in CONFIGS.items()]
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__ if torch else 'absent'} "
        f"({torch.get_num_threads() if torch else '-'} threads), "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, {args.rounds} rounds"
    )
    print(
        "| Conv2d forward + backward (float32) | GFLOP | tinytorch ms | PyTorch ms "
        "| tinytorch GFLOP/s | PyTorch GFLOP/s | PyTorch / tinytorch time |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        theirs = f"{row['torch_ms']:.2f}" if "torch_ms" in row else "n/a"
        theirs_rate = f"{row['torch_gflops']:.1f}" if "torch_gflops" in row else "n/a"
        ratio = f"{row['ratio']:.2f}x" if "ratio" in row else "n/a"
        print(
            f"| {row['benchmark']} ({describe(row['config'])}) | {row['gflop']:.3f} "
            f"| {row['tinytorch_ms']:.2f} | {theirs} | {row['tinytorch_gflops']:.1f} "
            f"| {theirs_rate} | {ratio} |"
        )
    if torch:
        worst = max(row["max_relative_difference"] for row in rows)
        print(f"largest relative difference from PyTorch (outputs and gradients): {worst:.1e}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
