"""Every matrix product of one GPT training step, timed alone: NumPy's BLAS against PyTorch's.

    python -m benchmarks.products [--rounds 15] [--only larger-b16 wide-b8] [--each]

A training step of the GPT in `benchmarks.gpt` is mostly matrix products: per block the
Q/K/V projection (one (D, 3D) product, as after module 16's `accelerate`), the output
projection and the MLP's two Linears, each forward (x W), and backward (g Wᵀ and xᵀ g); the
attention's batched products (Q Kᵀ and P V forward; four backward); and the LM head. This
script builds random float32 operands of exactly those shapes and times each product alone
(median of `--rounds`, after a warm-up) in NumPy and in PyTorch, one thread each, then adds
them up with their counts. Both frameworks do the same arithmetic here; the difference is
the BLAS library underneath (NumPy's wheels ship OpenBLAS, PyTorch's CPU wheels MKL), so the
totals say how much of a training-step gap no change to tinytorch's Python can close.
Nothing is asserted: speed is reported, not tested.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

import numpy as np

from benchmarks.gpt import CONFIGS, timed
from tinytorch.acceleration import set_blas_threads

try:
    import torch
except ImportError:  # the NumPy column alone is still worth printing
    torch = None


def product_shapes(config: dict) -> list[tuple[str, tuple, tuple, int]]:
    """(kind, shape of a, shape of b, count per step) of every product of one step.

    kind "nn" is a @ b, "nt" is a @ bᵀ, "tn" is aᵀ @ b (last two axes; batched when 3-D).
    """
    vocab, dim, heads = config["vocab"], config["dim"], config["heads"]
    layers, rows = config["layers"], config["batch"] * config["context"]
    length, head_dim, count = config["context"], dim // heads, config["batch"] * heads
    shapes = []
    for fan_in, fan_out, times in (
        (dim, 3 * dim, layers),  # Q, K, V in one projection
        (dim, dim, layers),  # attention output
        (dim, 4 * dim, layers),  # MLP in
        (4 * dim, dim, layers),  # MLP out
        (dim, vocab, 1),  # LM head
    ):
        shapes += [
            ("nn", (rows, fan_in), (fan_in, fan_out), times),  # forward x W
            ("nt", (rows, fan_out), (fan_in, fan_out), times),  # dx = g Wᵀ
            ("tn", (rows, fan_in), (rows, fan_out), times),  # dW = xᵀ g
        ]
    scores, per_head = (count, length, length), (count, length, head_dim)
    shapes += [
        ("nt", per_head, per_head, 2 * layers),  # Q Kᵀ forward, dP = g Vᵀ backward
        ("nn", scores, per_head, 2 * layers),  # P V forward, dQ = dS K backward
        ("tn", scores, per_head, 2 * layers),  # dV = Pᵀ g, dK = dSᵀ Q backward
    ]
    return shapes


def _product(kind: str, a, b):
    """A no-argument function computing the product of `kind` on a and b (either library)."""
    if kind == "nn":
        return lambda: a @ b
    if kind == "nt":
        return lambda: a @ b.swapaxes(-1, -2)
    return lambda: a.swapaxes(-1, -2) @ b


def median_seconds(fn, rounds: int) -> float:
    """Median time of fn() over `rounds` calls, after one untimed call."""
    fn()
    return statistics.median(timed(fn, 1) for _ in range(rounds))


def time_products(config: dict, rounds: int) -> list[dict]:
    """One row per product shape: NumPy and PyTorch medians (ms) and the count per step."""
    rng = np.random.default_rng(0)
    rows = []
    for kind, shape_a, shape_b, count in product_shapes(config):
        a = rng.standard_normal(shape_a, dtype=np.float32)
        b = rng.standard_normal(shape_b, dtype=np.float32)
        row = {"kind": kind, "a": shape_a, "b": shape_b, "count": count}
        row["numpy_ms"] = 1e3 * median_seconds(_product(kind, a, b), rounds)
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            row["torch_ms"] = 1e3 * median_seconds(_product(kind, ta, tb), rounds)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only", nargs="*", choices=sorted(CONFIGS), help="workloads")
    parser.add_argument("--each", action="store_true", help="also print every product")
    args = parser.parse_args()
    set_blas_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, "
        f"torch {torch.__version__ if torch else 'absent'}; one thread each"
    )
    print("| workload | products per step | NumPy ms | PyTorch ms | NumPy / PyTorch time |")
    print("|---|---|---|---|---|")
    for name in args.only or CONFIGS:
        rows = time_products(CONFIGS[name], args.rounds)
        ours = sum(r["count"] * r["numpy_ms"] for r in rows)
        theirs = sum(r["count"] * r.get("torch_ms", float("nan")) for r in rows)
        count = sum(r["count"] for r in rows)
        print(f"| {name} | {count} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f} |")
        for row in rows if args.each else ():
            print(
                f"|   {row['kind']} {row['a']} x {row['b']} | {row['count']} | "
                f"{row['numpy_ms']:.3f} | {row.get('torch_ms', float('nan')):.3f} | |"
            )


if __name__ == "__main__":
    main()
