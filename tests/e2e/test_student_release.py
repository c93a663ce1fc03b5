"""The real course, released to students: module 01 fails until its solution is put back."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tito(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tito", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_release_then_complete_first_module(tmp_path):
    out = tmp_path / "student"
    done = tito(ROOT, "release", "student", str(out))
    assert done.returncode == 0, done.stderr
    assert not (out / "tinytorch" / "core" / "tensor.py").exists()
    assert (out / "release.json").is_file() and not (out / ".tito").exists()

    failing = tito(out, "module", "complete", "01_tensor")
    assert failing.returncode == 1
    assert "not implemented yet: Tensor.__init__" in failing.stdout
    assert not (out / "tinytorch" / "core" / "tensor.py").exists()

    shutil.copy(ROOT / "modules" / "01_tensor" / "tensor_dev.py", out / "modules" / "01_tensor")
    passing = tito(out, "module", "complete", "01_tensor")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert (out / "tinytorch" / "core" / "tensor.py").exists()
    graded = tito(out, "grade", "01_tensor", "--json")
    assert graded.returncode == 0 and '"points": 90.0' in graded.stdout
