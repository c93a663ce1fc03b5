"""Milestone: profile a GPT step, then make it faster with accelerate() and the same loss."""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
from common import ProgressBar, finish, parse_args

from tinytorch.acceleration import accelerate, keep_freed_memory, set_blas_threads
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import Adam
from tinytorch.models.transformer import GPT
from tinytorch.profiling import profile

LOSS_TOLERANCE = 1e-3
CONFIG = {"vocab": 256, "embed": 128, "layers": 4, "heads": 4, "seq": 64}


def build(seed: int, fused: bool):
    """The GPT of CONFIG with weights from `seed` (accelerated if asked), and its Adam."""
    np.random.seed(seed)
    model = GPT(CONFIG["vocab"], CONFIG["embed"], CONFIG["layers"], CONFIG["heads"], CONFIG["seq"])
    if fused:
        accelerate(model)  # before the optimizer: the Q/K/V weights become one new Tensor
    return model, Adam(model.parameters(), lr=1e-3)


def train_step(model, opt, ids, targets, prof=None) -> float:
    opt.zero_grad()
    loss = cross_entropy(model(ids), targets)
    loss.backward()
    if prof is None:
        opt.step()
    else:
        with prof.section("adam"):
            opt.step()
    return float(loss.data)


def main() -> None:
    args = parse_args(__doc__, default_steps=50, quick_steps=30, steps_help="timed steps per model")
    batch = 8 if args.quick else 16
    threads = set_blas_threads(1)  # the same for both models; on a shared machine 1 is fastest
    memory = keep_freed_memory()
    print(f"BLAS threads pinned to 1: {threads}; malloc keeps freed memory: {memory}")
    tokens = np.random.default_rng(args.seed).integers(
        0, CONFIG["vocab"], size=(batch, CONFIG["seq"] + 1)
    )
    ids, targets = tokens[:, :-1], tokens[:, 1:]
    runs = {"plain": build(args.seed, False), "accelerated": build(args.seed, True)}
    losses, times, tables = {}, {name: [] for name in runs}, {}
    for name, (model, opt) in runs.items():  # warm-up step, then one profiled step each
        losses[name] = train_step(model, opt, ids, targets)
        with profile() as prof:
            train_step(model, opt, ids, targets, prof)
        tables[name] = prof
    bar = ProgressBar(2 * args.steps, "timing")
    for _ in range(args.steps):  # alternate, so both see the same machine
        for name, (model, opt) in runs.items():
            started = time.perf_counter()
            train_step(model, opt, ids, targets)
            times[name].append(time.perf_counter() - started)
            bar.update(model=name, ms=1e3 * times[name][-1])
    bar.close()
    for name, prof in tables.items():
        print(f"\n{name} GPT step (B {batch}, T {CONFIG['seq']}, D {CONFIG['embed']}):")
        print(prof.table(top=10))
    plain = statistics.median(times["plain"])
    fast = statistics.median(times["accelerated"])
    # the median of per-round ratios: the two steps of a round saw the same machine load
    speedup = statistics.median(
        p / f for p, f in zip(times["plain"], times["accelerated"], strict=True)
    )
    loss_gap = abs(losses["plain"] - losses["accelerated"])
    coverage = tables["plain"].coverage()
    print(
        f"\nmedian step: plain {1e3 * plain:.1f} ms, accelerated {1e3 * fast:.1f} ms "
        f"({speedup:.2f}x); first loss {losses['plain']:.5f} / {losses['accelerated']:.5f}; "
        f"the profile explains {100 * coverage:.1f}% of a step"
    )
    finish(
        {
            "passed": speedup > 1.0 and loss_gap < LOSS_TOLERANCE,
            "final_loss": losses["accelerated"],
            "accuracy": None,
            "speedup": speedup,
            "plain_ms": 1e3 * plain,
            "accelerated_ms": 1e3 * fast,
            "loss_gap": loss_gap,
            "profile_coverage": coverage,
            "seconds": sum(times["plain"]) + sum(times["accelerated"]),
        }
    )


if __name__ == "__main__":
    main()
