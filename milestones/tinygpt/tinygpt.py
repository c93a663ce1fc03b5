"""Milestone 2018: TinyGPT learns synthetic sequence tasks with your own transformer."""

import os
import sys
import time
from pathlib import Path

# One BLAS thread: TinyGPT's 32-wide matrices are too small to split between threads, and on a
# busy machine a second, busy-waiting thread made each step 2-10x slower (benchmarks/gpt_step).
# OpenBLAS reads this once, when NumPy is first imported, so it is set before that import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
from common import ProgressBar, finish, parse_args, plot_losses, sparkline

from tinytorch.core.autograd import no_grad
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import Adam
from tinytorch.core.training import CosineSchedule, clip_grad_norm
from tinytorch.models.transformer import GPT

CRITERION = 0.95
VOCAB, CONTEXT = 100, 16
TASKS = ("repeat", "copy", "count")  # token 0, 1, 2 mark the task; 3..99 are content
FIRST = len(TASKS)
CONTENT = VOCAB - FIRST


def make_sequence(task: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """CONTEXT + 1 tokens, and a mask of the targets that can be predicted from the past."""
    length = CONTEXT + 1
    predictable = np.zeros(length, dtype=bool)
    if TASKS[task] == "repeat":
        period = int(rng.integers(2, 5))
        pattern = rng.integers(FIRST, VOCAB, size=period)
        body = np.resize(pattern, length - 1)
        # The period is known once the pattern's first token comes back (position 1 + period).
        predictable[2 + period :] = True
    elif TASKS[task] == "copy":
        half = (length - 1) // 2
        first = rng.integers(FIRST, VOCAB, size=half)
        body = np.concatenate([first, first, first])[: length - 1]
        predictable[1 + half :] = True
    else:
        start = int(rng.integers(0, CONTENT))
        body = FIRST + (start + np.arange(length - 1)) % CONTENT
        predictable[2:] = True
    return np.concatenate([[task], body]), predictable


def make_batch(rng: np.random.Generator, size: int):
    pairs = [make_sequence(int(rng.integers(0, len(TASKS))), rng) for _ in range(size)]
    sequences = np.stack([p[0] for p in pairs])
    masks = np.stack([p[1] for p in pairs])
    return sequences[:, :-1], sequences[:, 1:], masks[:, 1:], sequences[:, 0]


def evaluate(model, rng: np.random.Generator, size: int = 600) -> tuple[float, dict]:
    inputs, targets, masks, tasks = make_batch(rng, size)
    model.eval()
    with no_grad():
        predictions = model(inputs).data.argmax(axis=-1)
    model.train()
    correct = (predictions == targets) & masks
    overall = float(correct.sum() / masks.sum())
    per_task = {
        name: float(correct[tasks == i].sum() / max(1, masks[tasks == i].sum()))
        for i, name in enumerate(TASKS)
    }
    return overall, per_task


def show_samples(model, rng: np.random.Generator) -> None:
    for index, name in enumerate(TASKS):
        sequence, predictable = make_sequence(index, rng)
        keep = int(np.argmax(predictable))  # the prompt ends where prediction becomes possible
        prompt = sequence[:keep].tolist()
        output = model.generate(prompt, max_new_tokens=CONTEXT - keep, temperature=0)
        expected = sequence[keep:CONTEXT].tolist()
        produced = output.data[0, keep:].tolist()  # generate gives ids (1, T + new)
        marks = "".join("✓" if a == b else "✗" for a, b in zip(produced, expected))
        print(f"  {name:6s} prompt {prompt}")
        print(f"         model  {produced}  {marks}")


def main() -> None:
    args = parse_args(__doc__, default_steps=2000, quick_steps=1500)
    rng = np.random.default_rng(args.seed)
    np.random.seed(args.seed)
    model = GPT(vocab_size=VOCAB, embed_dim=32, num_layers=2, num_heads=4, max_seq_len=CONTEXT)
    optimizer = Adam(model.parameters(), lr=3e-3)
    schedule = CosineSchedule(3e-3, 3e-4, total_steps=args.steps, warmup_steps=args.steps // 20)
    print(f"TinyGPT: {model.num_parameters():,} parameters, {args.steps} steps, tasks {TASKS}")
    started = time.perf_counter()
    losses = []
    bar = ProgressBar(args.steps, "tinygpt")
    for step in range(args.steps):
        inputs, targets, _, _ = make_batch(rng, 32)
        loss = cross_entropy(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm(model.parameters(), 1.0)
        schedule.apply(optimizer, step)
        optimizer.step()
        losses.append(float(loss.data))
        bar.update(loss=float(np.mean(losses[-20:])))
    bar.close()
    accuracy, per_task = evaluate(model, np.random.default_rng(args.seed + 1000))
    print(f"loss  {sparkline(losses)}  {losses[0]:.3f} -> {np.mean(losses[-20:]):.3f}")
    print("greedy continuations (✓ = the token the task predicts):")
    show_samples(model, np.random.default_rng(args.seed + 2000))
    shown = ", ".join(f"{k} {v:.3f}" for k, v in per_task.items())
    print(f"held-out accuracy: {accuracy:.3f} ({shown}); criterion >= {CRITERION}")
    if args.plot:
        plot_losses(args.plot, losses, "TinyGPT: training loss")
    finish(
        {
            "passed": accuracy >= CRITERION,
            "final_loss": float(np.mean(losses[-20:])),
            "accuracy": accuracy,
            "per_task": per_task,
            "seconds": round(time.perf_counter() - started, 3),
            "steps": args.steps,
        }
    )


if __name__ == "__main__":
    main()
