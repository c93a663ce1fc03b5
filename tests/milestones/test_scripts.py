"""Milestone scripts run directly: --quick passes with a JSON line; bad options exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "milestones"))
from common import sparkline  # noqa: E402

SCRIPTS = sorted(p for p in (ROOT / "milestones").glob("*/*.py"))


def run(script: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=ROOT / "milestones",  # not the course root: the script must find it itself
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.parent.name for p in SCRIPTS])
def test_quick_run_meets_its_criterion(script):
    done = run(script, "--quick", "--seed", "1")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["passed"] is True and result["seconds"] >= 0
    assert "accuracy" in result and "final_loss" in result


@pytest.mark.parametrize("script", SCRIPTS[:1], ids=["first"])
def test_unknown_option_is_a_usage_error(script):
    done = run(script, "--no-such-option")
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr


def test_sparkline_shape():
    line = sparkline([10, 5, 2.5, 1.25, 0.6], width=40)
    assert line[0] == "█" and line[-1] == "▁" and len(line) == 5
    assert len(sparkline(range(1000), width=40)) == 40
    assert sparkline([]) == "" and sparkline([float("nan")]) == ""
