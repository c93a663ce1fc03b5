"""Milestone: the KV cache gives the same tokens, at least 3x faster."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
from common import ProgressBar, finish, parse_args

from tinytorch.models.transformer import GPT

CRITERION = 3.0


def timed_generate(model, prompt, steps: int, use_cache: bool, **options):
    started = time.perf_counter()
    tokens = model.generate(prompt, steps, use_cache=use_cache, **options)
    return tokens.data[0].tolist(), time.perf_counter() - started


def main() -> None:
    args = parse_args(__doc__, default_steps=200, quick_steps=100)  # steps = new tokens
    np.random.seed(args.seed)
    model = GPT(vocab_size=256, embed_dim=128, num_layers=4, num_heads=4, max_seq_len=256)
    prompt = np.random.default_rng(args.seed).integers(0, 256, size=16).tolist()
    print(f"GPT with {model.num_parameters():,} parameters; {args.steps} new tokens per run")
    runs = {False: [], True: []}
    identical = True
    bar = ProgressBar(6, "generating")
    for _ in range(3):  # alternate: both see the same machine state
        for use_cache in (False, True):
            tokens, seconds = timed_generate(model, prompt, args.steps, use_cache, temperature=0)
            runs[use_cache].append((tokens, seconds))
            bar.update(cache=str(use_cache), seconds=seconds)
    bar.close()
    greedy = [tokens for tokens, _ in runs[False] + runs[True]]
    identical = all(t == greedy[0] for t in greedy)
    sampled = [
        model.generate(
            prompt, 40, temperature=0.8, top_k=20, rng=np.random.default_rng(3), use_cache=use_cache
        )
        for use_cache in (False, True)
    ]
    identical = identical and np.array_equal(sampled[0].data, sampled[1].data)
    plain = float(np.median([s for _, s in runs[False]]))
    cached = float(np.median([s for _, s in runs[True]]))
    speedup = plain / cached
    print(f"without cache: {plain * 1e3:8.1f} ms  ({args.steps / plain:7.1f} tokens/s)")
    print(f"with cache:    {cached * 1e3:8.1f} ms  ({args.steps / cached:7.1f} tokens/s)")
    print(f"speed-up {speedup:.1f}x (criterion >= {CRITERION}x); identical tokens: {identical}")
    finish(
        {
            "passed": identical and speedup >= CRITERION,
            "final_loss": None,
            "accuracy": 1.0 if identical else 0.0,
            "speedup": speedup,
            "seconds_without_cache": plain,
            "seconds_with_cache": cached,
            "seconds": plain + cached,
            "new_tokens": args.steps,
        }
    )


if __name__ == "__main__":
    main()
