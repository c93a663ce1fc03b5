"""The same GPT trained and sampled in tinytorch and in PyTorch CPU, side by side.

    python -m benchmarks.gpt [--rounds 7] [--json results/gpt.json]

Each measurement alternates the two frameworks (A B A B ...) so that both see the same
machine state, and reports medians and the ratio tinytorch / PyTorch of throughput (higher is
better for tinytorch). PyTorch is optional: without it only tinytorch's numbers are printed.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import Adam
from tinytorch.models.transformer import GPT

try:
    import torch
except ImportError:
    torch = None

CONFIGS = {
    "tinygpt-b8": dict(vocab=100, dim=32, heads=4, layers=2, context=16, batch=8),
    "tinygpt-b32": dict(vocab=100, dim=32, heads=4, layers=2, context=16, batch=32),
    "larger-b16": dict(vocab=256, dim=128, heads=4, layers=4, context=64, batch=16),
}


class TorchGPT(torch.nn.Module if torch else object):
    """PyTorch twin of tinytorch's GPT; parameters copied from a tinytorch model by name."""

    def __init__(self, source: GPT, heads: int):
        super().__init__()
        self.heads = heads
        self.layers = len(source.blocks)
        self.p = torch.nn.ParameterDict(
            {
                name.replace(".", "__"): torch.nn.Parameter(torch.tensor(p.data))
                for name, p in source.named_parameters()
            }
        )

    def get(self, name):
        return self.p[name.replace(".", "__")]

    def linear(self, x, name):
        return x @ self.get(name + ".weight") + self.get(name + ".bias")

    def norm(self, x, name):
        return torch.nn.functional.layer_norm(
            x, (x.shape[-1],), self.get(name + ".gamma"), self.get(name + ".beta"), 1e-5
        )

    def forward(self, tokens, cache=None):
        """Logits for `tokens`; with `cache` (a list of per-layer (k, v), filled in place)
        `tokens` are the new positions after those already cached."""
        batch, length = tokens.shape
        start = cache[0][0].shape[2] if cache and cache[0] else 0
        positions = self.get("position_embedding.weight")[start : start + length]
        x = self.get("token_embedding.weight")[tokens] + positions
        dim = x.shape[-1]
        mask = torch.arange(start + length)[None, :] <= (start + torch.arange(length))[:, None]
        for i in range(self.layers):
            prefix = f"blocks.{i}."
            h = self.norm(x, prefix + "ln1")
            q, k, v = (
                self.linear(h, prefix + f"attention.{n}_proj")
                .reshape(batch, length, self.heads, dim // self.heads)
                .transpose(1, 2)
                for n in "qkv"
            )
            if cache is not None:
                if cache[i] is not None:
                    k = torch.cat([cache[i][0], k], 2)
                    v = torch.cat([cache[i][1], v], 2)
                cache[i] = (k, v)
            scores = (q @ k.transpose(-2, -1) / (dim // self.heads) ** 0.5).masked_fill(~mask, -1e9)
            merged = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(batch, length, dim)
            x = x + self.linear(merged, prefix + "attention.out_proj")
            h = self.norm(x, prefix + "ln2")
            hidden = torch.nn.functional.gelu(
                self.linear(h, prefix + "mlp.fc1"), approximate="tanh"
            )
            x = x + self.linear(hidden, prefix + "mlp.fc2")
        return self.linear(self.norm(x, "ln_f"), "head")


def build(config: dict):
    np.random.seed(0)
    model = GPT(
        config["vocab"], config["dim"], config["layers"], config["heads"], config["context"]
    )
    tokens = np.random.randint(0, config["vocab"], size=(config["batch"], config["context"] + 1))
    return model, tokens


def tinytorch_step(model, optimizer, tokens):
    loss = cross_entropy(model(tokens[:, :-1]), tokens[:, 1:])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def torch_step(model, optimizer, tokens):
    logits = model(tokens[:, :-1])
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1)
    )
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def timed(fn, repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) / repeats


def interleave(a, b, rounds: int, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds per call of a and b, measured alternately; one warm-up round first."""
    timed(a, 2)
    if b:
        timed(b, 2)
    first, second = [], []
    for _ in range(rounds):
        first.append(timed(a, repeats))
        if b:
            second.append(timed(b, repeats))
    return first, second


def bench_training(name: str, config: dict, rounds: int) -> dict:
    model, tokens = build(config)
    optimizer = Adam(model.parameters(), lr=1e-3)
    ours = lambda: tinytorch_step(model, optimizer, tokens)  # noqa: E731
    theirs = None
    if torch:
        twin = TorchGPT(build(config)[0], config["heads"])
        torch_optimizer = torch.optim.Adam(twin.parameters(), lr=1e-3)
        torch_tokens = torch.tensor(tokens)
        theirs = lambda: torch_step(twin, torch_optimizer, torch_tokens)  # noqa: E731
    repeats = 20 if config["dim"] <= 32 else 3
    a, b = interleave(ours, theirs, rounds, repeats)
    tokens_per_step = config["batch"] * config["context"]
    row = {
        "benchmark": f"train {name}",
        "tinytorch_ms": 1e3 * statistics.median(a),
        "tinytorch_tokens_per_s": tokens_per_step / statistics.median(a),
    }
    if b:
        row["torch_ms"] = 1e3 * statistics.median(b)
        row["ratio"] = statistics.median(b) / statistics.median(a)
    return row


def bench_generation(rounds: int, use_cache: bool, new_tokens: int = 100) -> dict:
    config = CONFIGS["tinygpt-b8"]
    model = GPT(config["vocab"], config["dim"], config["layers"], config["heads"], 128)
    prompt = list(range(16))

    def ours():
        return model.generate(prompt, new_tokens, temperature=0, use_cache=use_cache)

    theirs = None
    if torch:
        twin = TorchGPT(model, config["heads"])

        def theirs():
            tokens = torch.tensor([prompt])
            cache = [None] * twin.layers if use_cache else None
            with torch.no_grad():
                logits = twin(tokens, cache)
                for _ in range(new_tokens):
                    tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True)], 1)
                    logits = twin(tokens[:, -1:], cache) if use_cache else twin(tokens)

    a, b = interleave(ours, theirs, rounds, 1)
    row = {
        "benchmark": f"generate {new_tokens} tokens ({'KV cache' if use_cache else 'no cache'})",
        "tinytorch_ms": 1e3 * statistics.median(a),
        "tinytorch_tokens_per_s": new_tokens / statistics.median(a),
    }
    if b:
        row["torch_ms"] = 1e3 * statistics.median(b)
        row["ratio"] = statistics.median(b) / statistics.median(a)
    return row


def matmul_peak(size: int = 1024, repeats: int = 5) -> float:
    """NumPy float32 matmul GFLOP/s on this machine: the physical ceiling for tinytorch."""
    a = np.random.rand(size, size).astype(np.float32)
    b = np.random.rand(size, size).astype(np.float32)
    a @ b
    best = min(timed(lambda: a @ b, 1) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def training_flops(config: dict) -> float:
    """Matmul FLOPs of one training step (forward x3 for forward + backward)."""
    b, t, d, v, layers = (
        config["batch"],
        config["context"],
        config["dim"],
        config["vocab"],
        config["layers"],
    )
    per_layer = 2 * b * t * (4 * d * d + 8 * d * d) + 2 * 2 * b * t * t * d
    return 3 * (layers * per_layer + 2 * b * t * d * v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if torch:
        torch.manual_seed(0)
    rows = [bench_training(name, config, args.rounds) for name, config in CONFIGS.items()]
    for use_cache in (False, True):
        rows.append(bench_generation(max(3, args.rounds // 2), use_cache))
    peak = matmul_peak()
    larger = next(r for r in rows if r["benchmark"] == "train larger-b16")
    achieved = training_flops(CONFIGS["larger-b16"]) / (larger["tinytorch_ms"] / 1e3) / 1e9
    print(
        f"machine: {platform.machine()}, python {platform.python_version()}, "
        f"numpy {np.__version__}, torch {torch.__version__ if torch else 'absent'}"
    )
    print("| benchmark | tinytorch ms | PyTorch ms | tinytorch / PyTorch throughput |")
    print("|---|---|---|---|")
    for row in rows:
        ratio = f"{row['ratio']:.2f}x" if "ratio" in row else "n/a"
        theirs = f"{row['torch_ms']:.2f}" if "torch_ms" in row else "n/a"
        print(f"| {row['benchmark']} | {row['tinytorch_ms']:.2f} | {theirs} | {ratio} |")
    print(
        f"\nlarger-b16 training: {achieved:.2f} GFLOP/s achieved; NumPy float32 matmul peak "
        f"{peak:.1f} GFLOP/s ({100 * achieved / peak:.1f}% of peak)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"rows": rows, "matmul_peak_gflops": peak, "achieved_gflops": achieved}, indent=2
            )
        )


if __name__ == "__main__":
    main()
