"""Start-up time of the commands a student runs most: medians of fresh `tito` processes.

    .venv/bin/python -m benchmarks.startup            # 15 runs of each command
    .venv/bin/python -m benchmarks.startup --runs 31 --imports

Each run is a new interpreter, as when a student types the command, on this course (whose
progress file is left as it is). `--imports` adds the slowest imports of `tito status`
(`python -X importtime`), to see where the time goes. Reported, never asserted: machines differ.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "tito --help": ["--help"],
    "tito status": ["status"],
    "tito module list": ["module", "list"],
}


def seconds_of(arguments: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of one run.

    CPU time is what the command itself costs; on a busy machine the wall clock also counts
    the time spent waiting for a core, so both are shown.
    """
    cpu_before = _children_cpu()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tito", *arguments],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started, _children_cpu() - cpu_before


def _children_cpu() -> float:
    try:
        import resource
    except ImportError:  # Windows: no rusage; the CPU column shows 0
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def slowest_imports(count: int = 12) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of the slowest imports of `tito status`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tito", "status"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--imports", action="store_true", help="Show the slowest imports too.")
    args = parser.parse_args()
    seconds_of(["status"])  # warm the file cache and the bytecode
    print(f"python {sys.version.split()[0]}, {args.runs} runs each")
    for name, arguments in COMMANDS.items():
        runs = [seconds_of(arguments) for _ in range(args.runs)]
        wall = sorted(run[0] for run in runs)
        cpu = statistics.median(run[1] for run in runs)
        print(
            f"{name:18} median {statistics.median(wall):.3f} s wall, {cpu:.3f} s CPU  "
            f"(wall min {wall[0]:.3f}, max {wall[-1]:.3f})"
        )
    if args.imports:
        print("slowest imports of `tito status` (cumulative):")
        for micros, module in slowest_imports():
            print(f"  {micros / 1e6:.3f} s  {module}")


if __name__ == "__main__":
    main()
