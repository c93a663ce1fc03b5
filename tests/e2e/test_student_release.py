"""The real course, released to students: module 01 fails until its solution is put back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.e2e import tito
from tito.course.catalog import load_course
from tito.course.cells import SOLUTION_BEGIN, read_cells
from tito.course.export import HEADER_PREFIX
from tito.course.release import SKIP

ROOT = Path(__file__).resolve().parents[2]
TENSOR = ROOT / "modules" / "01_tensor" / "tensor_dev.py"


def test_release_then_complete_first_module(tmp_path):
    out = tmp_path / "student"
    course = tmp_path / "course"  # a release records itself in the course: not in this repo
    shutil.copytree(ROOT, course, ignore=SKIP)
    done = tito(course, "release", "student", str(out))
    assert done.returncode == 0, done.stdout + done.stderr

    # no solution and no exported code is left; progress starts empty
    for module in load_course(out).modules.values():
        assert SOLUTION_BEGIN not in module.source_path.read_text(), module.id
    generated = [p for p in (out / "tinytorch").rglob("*.py") if HEADER_PREFIX in p.read_text()]
    assert generated == [] and (out / "tinytorch" / "__init__.py").is_file()
    assert not (out / ".tito").exists() and (out / "milestones").is_dir()

    # the manifest lists exactly the locked graded cells of 01, with their points
    manifest = json.loads((out / "release.json").read_text())
    entry = manifest["modules"]["01_tensor"]
    locked = [
        c.nbgrader["grade_id"]
        for c in read_cells(TENSOR)
        if c.nbgrader.get("grade") and c.nbgrader.get("locked")
    ]
    assert locked and list(entry["cells"]) == locked
    assert entry["file"] == "modules/01_tensor/tensor_dev.py"
    assert all(len(sha) == 64 for sha in entry["cells"].values())

    failing = tito(out, "module", "complete", "01_tensor")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "not implemented yet: Tensor.__init__" in failing.stdout
    assert not (out / "tinytorch" / "core" / "tensor.py").exists()

    shutil.copy(TENSOR, out / "modules" / "01_tensor")
    passing = tito(out, "module", "complete", "01_tensor")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert (out / "tinytorch" / "core" / "tensor.py").exists()

    # the reference solution, graded against the release's manifest, earns every point
    graded = tito(out, "grade", "01_tensor", "--json")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    report = json.loads(graded.stdout)
    assert report["points"] == report["max_points"] == sum(entry["points"].values())
    assert report["warnings"] == []
