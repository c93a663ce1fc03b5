"""The same GPT trained and sampled in tinytorch and in PyTorch CPU, side by side.

    python -m benchmarks.gpt [--rounds 7] [--threads 1] [--only larger-b16 wide-b8]
                             [--json results/gpt.json]

Each measurement alternates the two frameworks (A B A B ...) so that both see the same
machine state, and reports medians and the ratio tinytorch / PyTorch of throughput (higher is
better for tinytorch). PyTorch is optional: without it only tinytorch's numbers are printed.
Every training workload is measured three ways, interleaved: tinytorch's GPT as module 13
builds it, the same GPT after module 16's `accelerate(model)`, and PyTorch. Generation
(greedy, batch 1) runs at two sizes (`GENERATION`: TinyGPT and the larger configuration), five
ways interleaved: tinytorch and PyTorch each without and with a KV cache, and tinytorch's
accelerated model with the cache; every run must give the same tokens.

Threads are pinned the same way on both sides before anything is measured: `--threads N`
(default 1) sets NumPy's BLAS library with threadpoolctl (module 16's `set_blas_threads`) and
PyTorch's intra-op pool with `torch.set_num_threads(N)`. glibc's malloc is told to keep freed
memory (module 16's `keep_freed_memory()`, process-wide, so for both frameworks) in this
process and in every memory child: importing tinytorch no longer does it.
With more than one thread an interleaved loop is unfair (each library's worker threads spin
on the cores the other needs between steps), so `--alone` also times each framework's step in
a fresh process of its own, one framework after the other.

Memory of one training step, measured two ways:

- tinytorch alone, with tracemalloc (which sees NumPy's allocations but not PyTorch's C++
  ones): the peak of the bytes allocated during one step after a warm-up step.
- both frameworks by the same method, the resident set size (RSS): each framework and
  configuration runs in a fresh interpreter that imports the same modules (NumPy, tinytorch,
  PyTorch) and trains a tiny throwaway model for two steps (so that library code is paged in
  and one-time initialisation is done), then reads its RSS, builds the model and optimizer,
  takes a warm-up step, resets the kernel's peak-RSS counter (/proc/self/clear_refs) and
  takes the measured step. Reported: the peak RSS of that step minus the RSS before the model
  was built, i.e. weights, gradients, optimizer state, the step's activations and whatever
  the allocator keeps. Linux only (elsewhere the RSS columns read n/a).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from tinytorch.acceleration import accelerate, keep_freed_memory, set_blas_threads
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import Adam
from tinytorch.models.transformer import GPT

try:
    import torch
except ImportError:
    torch = None

ROOT = Path(__file__).resolve().parents[1]

CONFIGS = {
    "tinygpt-b8": dict(vocab=100, dim=32, heads=4, layers=2, context=16, batch=8),
    "tinygpt-b32": dict(vocab=100, dim=32, heads=4, layers=2, context=16, batch=32),
    "larger-b16": dict(vocab=256, dim=128, heads=4, layers=4, context=64, batch=16),
    "wide-b8": dict(vocab=512, dim=256, heads=8, layers=4, context=128, batch=8),
    "long-b4": dict(vocab=256, dim=128, heads=4, layers=4, context=256, batch=4),
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
                self.linear(h, prefix + "mlp.linear1"), approximate="tanh"
            )
            x = x + self.linear(hidden, prefix + "mlp.linear2")
        return self.linear(self.norm(x, "ln_f"), "lm_head")


def build(config: dict, fused: bool = False):
    np.random.seed(0)
    model = GPT(
        config["vocab"], config["dim"], config["layers"], config["heads"], config["context"]
    )
    if fused:
        accelerate(model)  # module 16: fused ops by module swap, the same weights
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


def interleave(fns: dict, rounds: int, repeats: int) -> dict:
    """Seconds per call of each function, measured in turn (A B C A B C ...); one warm-up."""
    for fn in fns.values():
        timed(fn, 2 if repeats > 1 else 1)
    seconds = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            seconds[name].append(timed(fn, repeats))
    return seconds


def _repeats(config: dict) -> int:
    """Training steps per timed round: enough that a round of a small model is not all noise."""
    return 20 if config["dim"] <= 32 else 3 if config["dim"] * config["context"] <= 8192 else 1


def bench_training(name: str, config: dict, rounds: int) -> list[dict]:
    """Rows for tinytorch as built and after accelerate(), each against PyTorch (interleaved)."""
    frameworks = {"plain": "tinytorch", "accelerated": "tinytorch-accelerated", "torch": "torch"}
    fns = {
        label: _trainer(framework, config)
        for label, framework in frameworks.items()
        if torch or framework != "torch"
    }
    seconds = interleave(fns, rounds, _repeats(config))
    tokens_per_step = config["batch"] * config["context"]
    rows = []
    for label in ("plain", "accelerated"):
        row = {
            "benchmark": f"train {name}" + (" accelerated" if label == "accelerated" else ""),
            "tinytorch_ms": 1e3 * statistics.median(seconds[label]),
            "tinytorch_tokens_per_s": tokens_per_step / statistics.median(seconds[label]),
        }
        if torch:
            row["torch_ms"] = 1e3 * statistics.median(seconds["torch"])
            ratios = [t / ours for t, ours in zip(seconds["torch"], seconds[label], strict=True)]
            row["ratio"] = statistics.median(ratios)  # per round: both saw the same machine
        rows.append(row)
    return rows


# Generation workloads: a model size (a training config's vocab, width, heads, layers), its
# context, and a prompt and a number of new tokens that stay within that context.
GENERATION = {
    "tinygpt": dict(config="tinygpt-b8", context=128, prompt=16, new_tokens=100),
    "larger": dict(config="larger-b16", context=64, prompt=16, new_tokens=48),
}


def _generation_model(config: dict, context: int, fused: bool) -> GPT:
    """The GPT of `config` with `context` positions, weights from seed 0 (accelerated if asked)."""
    np.random.seed(0)
    model = GPT(config["vocab"], config["dim"], config["layers"], config["heads"], context)
    return accelerate(model) if fused else model


def bench_generation(rounds: int, name: str = "tinygpt") -> list[dict]:
    """Greedy generation at one size of GENERATION: tinytorch and PyTorch, without and with a
    KV cache, and the same model after accelerate() with the cache.

    The five runs alternate in one loop, so the cache's speed-up over recomputing is measured
    in the same machine state as the comparison with PyTorch; every run must produce the
    tokens of tinytorch without a cache. PyTorch runs with one thread here: at batch 1 there
    is nothing to split, and an idle second thread busy-waits (on a loaded 2-core machine it
    made PyTorch's generation up to 30x slower).
    """
    spec = GENERATION[name]
    config, new_tokens = CONFIGS[spec["config"]], spec["new_tokens"]
    model = _generation_model(config, spec["context"], fused=False)
    fast = _generation_model(config, spec["context"], fused=True)
    prompt = list(range(spec["prompt"]))

    def ours(gpt, use_cache):
        def run():
            ids = gpt.generate(prompt, new_tokens, temperature=0, use_cache=use_cache)
            return ids.data[0].tolist()  # a Tensor (1, prompt + new); compared as a list below

        return run

    def theirs(use_cache):
        def run():
            tokens = torch.tensor([prompt])
            cache = [None] * twin.layers if use_cache else None
            with torch.no_grad():
                logits = twin(tokens, cache)
                for step in range(new_tokens):
                    tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True)], 1)
                    if step < new_tokens - 1:  # as tinytorch: no logits after the last token
                        logits = twin(tokens[:, -1:], cache) if use_cache else twin(tokens)
            return tokens[0].tolist()

        return run

    runs = {
        ("tinytorch", False): ours(model, False),
        ("tinytorch", True): ours(model, True),
        ("accelerated", True): ours(fast, True),
    }
    threads = None
    if torch:
        twin = TorchGPT(model, config["heads"])
        runs[("torch", False)], runs[("torch", True)] = theirs(False), theirs(True)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        tokens = {key: fn() for key, fn in runs.items()}  # warm-up, and the tokens to compare
        seconds = {key: [] for key in runs}
        for _ in range(rounds):
            for key, fn in runs.items():
                seconds[key].append(timed(fn, 1))
    finally:
        if threads:
            torch.set_num_threads(threads)
    median = {key: statistics.median(values) for key, values in seconds.items()}
    size = (
        f"{name}: V{config['vocab']} E{config['dim']} L{config['layers']} H{config['heads']}, "
        f"context {spec['context']}"
    )
    rows = []
    for ours_key, label in (
        (("tinytorch", False), "no cache"),
        (("tinytorch", True), "KV cache"),
        (("accelerated", True), "KV cache, accelerated"),
    ):
        use_cache = ours_key[1]
        row = {
            "benchmark": (
                f"generate {new_tokens} tokens from a {spec['prompt']}-token prompt "
                f"({size}; {label})"
            ),
            "generation": name,
            "tinytorch_ms": 1e3 * median[ours_key],
            "tinytorch_tokens_per_s": new_tokens / median[ours_key],
            "same_tokens_as_no_cache": tokens[ours_key] == tokens[("tinytorch", False)],
        }
        if torch:  # against PyTorch in the same mode (without or with its cache)
            row["torch_ms"] = 1e3 * median[("torch", use_cache)]
            ratios = [
                t / o for t, o in zip(seconds[("torch", use_cache)], seconds[ours_key], strict=True)
            ]
            row["ratio"] = statistics.median(ratios)  # per round: both saw the same machine
            row["same_tokens_as_torch"] = tokens[ours_key] == tokens[("torch", use_cache)]
        if use_cache:
            row["speedup_over_own_recompute"] = median[("tinytorch", False)] / median[ours_key]
            if torch:
                row["torch_speedup_over_own_recompute"] = (
                    median[("torch", False)] / median[("torch", True)]
                )
        rows.append(row)
    return rows


def _proc_status_kib(field: str) -> int | None:
    """VmRSS (resident now) or VmHWM (peak resident) of this process in KiB, Linux only."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Set this process's peak RSS (VmHWM, ru_maxrss) back to its current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _trainer(framework: str, config: dict):
    """A function taking one training step of a new model of `config` in `framework`."""
    model, tokens = build(config, fused=framework == "tinytorch-accelerated")
    if framework == "torch":
        twin = TorchGPT(model, config["heads"])
        del model  # only the copy PyTorch trains stays alive
        optimizer = torch.optim.Adam(twin.parameters(), lr=1e-3)
        torch_tokens = torch.tensor(tokens)
        return lambda: torch_step(twin, optimizer, torch_tokens)
    optimizer = Adam(model.parameters(), lr=1e-3)
    return lambda: tinytorch_step(model, optimizer, tokens)


def memory_child(framework: str, name: str) -> None:
    """Run in a fresh interpreter (see measure_rss): print one training step's RSS as JSON."""
    # First train a tiny throwaway model: that pages in the library code a training step
    # uses and does the frameworks' one-time initialisation (PyTorch's is about 75 MB of
    # mostly code pages), which would otherwise be counted against the first model built.
    keep_freed_memory()  # as in the timed process, for both frameworks
    tiny = _trainer(framework, dict(vocab=10, dim=8, heads=2, layers=1, context=4, batch=2))
    tiny()
    tiny()
    del tiny
    gc.collect()
    before_build = _proc_status_kib("VmRSS")
    step = _trainer(framework, CONFIGS[name])
    step()  # warm-up: gradients and optimizer state exist from here on
    before_step = _proc_status_kib("VmRSS")
    if before_build is None or before_step is None or not _reset_peak_rss():
        print(json.dumps(None))
        return
    step()
    peak = _proc_status_kib("VmHWM")
    print(json.dumps({"footprint_kib": peak - before_build, "step_growth_kib": peak - before_step}))


ALONE = ("tinytorch", "tinytorch-accelerated", "torch")


def alone_child(framework: str, name: str, threads: int, rounds: int) -> None:
    """Run in a fresh interpreter (see time_alone): print the median step time in ms."""
    set_blas_threads(threads)
    keep_freed_memory()
    if torch:
        torch.set_num_threads(threads)
    config = CONFIGS[name]
    step = _trainer(framework, config)
    for _ in range(2):  # warm-up: gradients, optimizer state and the allocator's pools exist
        step()
    print(json.dumps(1e3 * statistics.median(timed(step, _repeats(config)) for _ in range(rounds))))


def time_alone(framework: str, name: str, threads: int, rounds: int) -> float:
    """alone_child in a new interpreter: no other library's threads in the process."""
    code = (
        "from benchmarks.gpt import alone_child; "
        f"alone_child({framework!r}, {name!r}, {threads}, {rounds})"
    )
    return json.loads(_child(code, f"timing {framework} {name} alone"))


def bench_alone(names: list[str], threads: int, rounds: int) -> list[dict]:
    """Each framework's training step timed in its own process, in turn (no interleaving)."""
    rows = []
    for name in names:
        row = {"benchmark": f"train {name}, alone, {threads} thread(s)"}
        for framework in ALONE if torch else ALONE[:2]:
            row[framework] = time_alone(framework, name, threads, rounds)
        rows.append(row)
    return rows


def _child(code: str, what: str) -> str:
    """Run `code` in a new interpreter at the repository's root; its last line of output."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": path},
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def measure_rss(framework: str, name: str) -> dict | None:
    """memory_child in a new interpreter: a fresh process has no allocator history."""
    code = f"from benchmarks.gpt import memory_child; memory_child({framework!r}, {name!r})"
    return json.loads(_child(code, f"memory measurement of {framework} {name}"))


def tracemalloc_step_mb(config: dict, fused: bool = False) -> float:
    """tinytorch: the peak bytes NumPy and Python allocate during one step after a warm-up."""
    model, tokens = build(config, fused)
    optimizer = Adam(model.parameters(), lr=1e-3)
    tinytorch_step(model, optimizer, tokens)
    tracemalloc.start()
    try:
        tinytorch_step(model, optimizer, tokens)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def bench_memory(name: str, config: dict, rounds: int) -> dict:
    """Peak memory of one training step: tracemalloc (tinytorch), RSS (both; median of rounds)."""
    row = {
        "benchmark": f"memory train {name}",
        "tinytorch_tracemalloc_mb": tracemalloc_step_mb(config),
        "tinytorch-accelerated_tracemalloc_mb": tracemalloc_step_mb(config, fused=True),
    }
    frameworks = ["tinytorch", "tinytorch-accelerated"] + (["torch"] if torch else [])
    runs = {framework: [] for framework in frameworks}
    for _ in range(rounds):  # alternate, like the timings
        for framework in frameworks:
            runs[framework].append(measure_rss(framework, name))
    for framework, results in runs.items():
        if not results or any(r is None for r in results):  # no rounds, or not Linux
            continue
        label = framework
        row[f"{label}_rss_mb"] = statistics.median(r["footprint_kib"] for r in results) * 1024 / 1e6
        row[f"{label}_step_growth_mb"] = (
            statistics.median(r["step_growth_kib"] for r in results) * 1024 / 1e6
        )
    if "tinytorch_rss_mb" in row and "torch_rss_mb" in row:
        row["rss_ratio"] = row["torch_rss_mb"] / row["tinytorch_rss_mb"]
        row["rss_ratio_accelerated"] = row["torch_rss_mb"] / row["tinytorch-accelerated_rss_mb"]
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
    parser.add_argument("--threads", type=int, default=1, help="BLAS / intra-op threads, both")
    parser.add_argument("--only", nargs="*", choices=sorted(CONFIGS), help="training workloads")
    parser.add_argument(
        "--memory-rounds", type=int, default=3, help="fresh processes per row; 0 skips memory"
    )
    parser.add_argument("--no-generation", action="store_true", help="skip the generation rows")
    parser.add_argument(
        "--alone",
        action="store_true",
        help="also time each framework's training step in a process of its own (fair at >1 thread)",
    )
    args = parser.parse_args()
    pinned = set_blas_threads(args.threads)
    if args.threads > 1:
        print(
            "note: with more than one thread the two libraries' worker threads compete between "
            "alternated steps; compare each framework timed alone (--alone)."
        )
    memory_kept = keep_freed_memory()
    if torch:
        torch.manual_seed(0)
        torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the memory children inherit it
    configs = {name: CONFIGS[name] for name in (args.only or CONFIGS)}
    rows = [
        row for name, config in configs.items() for row in bench_training(name, config, args.rounds)
    ]
    if not args.no_generation:
        rows += [row for name in GENERATION for row in bench_generation(args.rounds, name)]
    alone = bench_alone(list(configs), args.threads, args.rounds) if args.alone else []
    memory = []
    if args.memory_rounds > 0:  # 0 skips the memory table (each round starts new processes)
        memory = [
            bench_memory(name, config, args.memory_rounds) for name, config in configs.items()
        ]
    peak = matmul_peak()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__ if torch else 'absent'}; threads {args.threads} on both sides "
        f"(NumPy BLAS pinned: {pinned}); malloc keeps freed memory: {memory_kept}"
    )
    print("| benchmark | tinytorch ms | PyTorch ms | tinytorch / PyTorch throughput |")
    print("|---|---|---|---|")
    for row in rows:
        ratio = f"{row['ratio']:.2f}x" if "ratio" in row else "n/a"
        theirs = f"{row['torch_ms']:.2f}" if "torch_ms" in row else "n/a"
        print(f"| {row['benchmark']} | {row['tinytorch_ms']:.2f} | {theirs} | {ratio} |")
    for row in alone:
        theirs = row.get("torch")
        for framework in ALONE[:2]:
            ratio = f"{theirs / row[framework]:.2f}x" if theirs else "n/a"
            label = row["benchmark"] + (", accelerated" if "accelerated" in framework else "")
            shown = f"{theirs:.2f}" if theirs else "n/a"
            print(f"| {label} | {row[framework]:.2f} | {shown} | {ratio} |")
    for row in rows:
        if "speedup_over_own_recompute" not in row:
            continue
        line = (
            f"KV cache ({row['generation']}"
            f"{', accelerated' if 'accelerated' in row['benchmark'] else ''}): tinytorch "
            f"{row['speedup_over_own_recompute']:.2f}x faster than its own generation without a "
            f"cache (same tokens: {row['same_tokens_as_no_cache']})"
        )
        if torch:
            line += (
                f"; PyTorch {row['torch_speedup_over_own_recompute']:.2f}x over its own; "
                f"same tokens as PyTorch: {row['same_tokens_as_torch']}"
            )
        print(line)
    achieved = None
    larger = [r for r in rows if r["benchmark"] == "train larger-b16"]
    if larger:
        achieved = training_flops(CONFIGS["larger-b16"]) / (larger[0]["tinytorch_ms"] / 1e3) / 1e9
        print(
            f"larger-b16 training: {achieved:.2f} GFLOP/s achieved; NumPy float32 matmul peak "
            f"{peak:.1f} GFLOP/s ({100 * achieved / peak:.1f}% of peak)"
        )
    if memory:
        print(
            "\n| one training step, MB (10^6 bytes) | tracemalloc peak (plain / accelerated) "
            "| tinytorch RSS (plain / accelerated) | PyTorch RSS | PyTorch / tinytorch RSS "
            "(plain / accelerated) |"
        )
        print("|---|---|---|---|---|")
        for row in memory:
            traced = (
                f"{row['tinytorch_tracemalloc_mb']:.1f} / "
                f"{row['tinytorch-accelerated_tracemalloc_mb']:.1f}"
            )
            ours = (
                f"{row['tinytorch_rss_mb']:.1f} / {row['tinytorch-accelerated_rss_mb']:.1f}"
                if "tinytorch_rss_mb" in row
                else "n/a"
            )
            theirs = f"{row['torch_rss_mb']:.1f}" if "torch_rss_mb" in row else "n/a"
            ratio = (
                f"{row['rss_ratio']:.2f}x / {row['rss_ratio_accelerated']:.2f}x"
                if "rss_ratio" in row
                else "n/a"
            )
            print(f"| {row['benchmark']} | {traced} | {ours} | {theirs} | {ratio} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "rows": rows,
                    "alone": alone,
                    "memory": memory,
                    "matmul_peak_gflops": peak,
                    "achieved_gflops": achieved,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
