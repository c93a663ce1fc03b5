"""`--plot FILE` writes a PNG of the loss curve (matplotlib is a dev dependency)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "loss.png"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "milestones" / "perceptron" / "perceptron.py"),
            "--quick",
            "--plot",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
