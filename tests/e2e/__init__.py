"""End-to-end tests: the real course, copied, released and run through tito in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def tito(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m tito ARGS` in `cwd`, as a user runs it; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "tito", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
