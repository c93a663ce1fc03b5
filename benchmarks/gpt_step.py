"""One TinyGPT training step (forward, cross-entropy, backward, Adam): tinytorch vs PyTorch CPU.

    python -m benchmarks.gpt_step [--rounds 9] [--repeats 20] [--batch 8] [--profile 200]

Both frameworks train the same model (vocab 100, embed 32, 4 heads, 2 layers, context 16) on
the same tokens, with the PyTorch twin's weights copied from tinytorch (`benchmarks.gpt`).
Rounds alternate A B A B so both see the same machine state; each round times `--repeats`
steps. Prints the median milliseconds per step, the ratio, and a cProfile top-10 of the
tinytorch step. Both sides use OPENBLAS_NUM_THREADS threads (default 1; set it in the
environment to change). Nothing here is asserted: speed is reported, not tested.
glibc's malloc keeps freed memory for reuse (module 16's `keep_freed_memory()`, called in
main; process-wide, so for both frameworks).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import statistics

# One BLAS thread unless told otherwise, as the TinyGPT milestone runs: its 32-wide matrices
# are too small to split, and a second thread that busy-waits costs 2-10x on a loaded machine.
# OpenBLAS reads this when NumPy is first imported, so it must be set before that import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
THREADS = int(os.environ["OPENBLAS_NUM_THREADS"])

import numpy as np  # noqa: E402

from benchmarks.gpt import (  # noqa: E402
    CONFIGS,
    TorchGPT,
    build,
    interleave,
    tinytorch_step,
    torch_step,
)
from tinytorch.acceleration import keep_freed_memory  # noqa: E402
from tinytorch.core.losses import cross_entropy  # noqa: E402
from tinytorch.core.optimizers import Adam  # noqa: E402

try:
    import torch

    torch.set_num_threads(THREADS)  # the same number of threads on both sides
except ImportError:  # only tinytorch's numbers then
    torch = None


def initial_losses(model, twin, tokens: np.ndarray) -> tuple[float, float | None]:
    """The loss of both models before any step: equal when the weights were copied right."""
    ours = float(cross_entropy(model(tokens[:, :-1]), tokens[:, 1:]).data)
    if twin is None:
        return ours, None
    with torch.no_grad():
        logits = twin(torch.tensor(tokens[:, :-1]))
        theirs = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), torch.tensor(tokens[:, 1:]).reshape(-1)
        )
    return ours, float(theirs)


def profile_steps(step, count: int, top: int = 10) -> str:
    """cProfile of `count` steps, the `top` functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        step()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds (A B A B)")
    parser.add_argument("--repeats", type=int, default=20, help="steps timed per round")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--profile", type=int, default=200, help="tinytorch steps to profile")
    args = parser.parse_args()
    keep_freed_memory()  # module 16's allocator switch, for both frameworks (process-wide)

    config = {**CONFIGS["tinygpt-b8"], "batch": args.batch}
    model, tokens = build(config)
    optimizer = Adam(model.parameters(), lr=1e-3)
    twin = TorchGPT(model, config["heads"]) if torch else None
    ours_loss, theirs_loss = initial_losses(model, twin, tokens)

    def ours():
        tinytorch_step(model, optimizer, tokens)

    theirs = None
    if twin is not None:
        torch.manual_seed(0)
        torch_optimizer = torch.optim.Adam(twin.parameters(), lr=1e-3)
        torch_tokens = torch.tensor(tokens)

        def theirs():
            torch_step(twin, torch_optimizer, torch_tokens)

    a, b = interleave(ours, theirs, args.rounds, args.repeats)
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__ if torch else 'absent'} "
        f"({torch.get_num_threads() if torch else '-'} threads), "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"config: vocab {config['vocab']}, embed {config['dim']}, heads {config['heads']}, "
        f"layers {config['layers']}, context {config['context']}, batch {config['batch']}; "
        f"{args.rounds} rounds x {args.repeats} steps"
    )
    if theirs_loss is not None:
        print(
            f"initial loss: tinytorch {ours_loss:.6f}, PyTorch {theirs_loss:.6f} "
            f"(|diff| {abs(ours_loss - theirs_loss):.1e}, float32)"
        )
    ours_ms = 1e3 * statistics.median(a)
    spread = f"{1e3 * min(a):.2f}-{1e3 * max(a):.2f}"
    print(f"tinytorch: median {ours_ms:.2f} ms/step (rounds {spread})")
    if b:
        theirs_ms = 1e3 * statistics.median(b)
        print(
            f"PyTorch:   median {theirs_ms:.2f} ms/step (rounds {1e3 * min(b):.2f}-"
            f"{1e3 * max(b):.2f})"
        )
        print(
            f"ratio PyTorch / tinytorch time: {theirs_ms / ours_ms:.2f} (above 1: tinytorch faster)"
        )
    if args.profile:
        print(f"\ncProfile of {args.profile} tinytorch steps, top 10 by own time:")
        print(profile_steps(ours, args.profile))


if __name__ == "__main__":
    main()
