"""Issue 15's done-when checks on the real course: the 90/90 cheat scores 0 with the README's
command, and correct files for 02-05 score full points with no package in the submission."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tito.test_grading import return_first
from tito.course.catalog import load_course
from tito.course.grading import grade_module
from tito.course.release import HIDDEN_PLACEHOLDER, SKIP, release_student

ROOT = Path(__file__).resolve().parents[2]
HIDDEN_BLOCK = re.compile(
    r"^([ \t]*)### BEGIN HIDDEN TESTS[^\n]*\n.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n", re.M | re.S
)


@pytest.fixture(scope="module")
def instructor(tmp_path_factory):
    """A copy of the course (a release records itself there), released once."""
    base = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT, base / "course", ignore=SKIP)
    course = load_course(base / "course")
    release_student(course, base / "student")
    return course, base / "student"


def solved(path: Path) -> str:
    """A student's correct file: the reference solutions, without the hidden tests (which the
    student never saw)."""
    return HIDDEN_BLOCK.sub(lambda m: f"{m.group(1)}{HIDDEN_PLACEHOLDER}\n", path.read_text())


def test_the_90_of_90_cheat_scores_zero(instructor, tmp_path):
    course, student = instructor
    cheat = tmp_path / "cheat"
    shutil.copytree(student, cheat)
    (cheat / "release.json").unlink()
    tensor = cheat / "modules" / "01_tensor" / "tensor_dev.py"
    tensor.write_text(return_first(tensor.read_text()))
    command = [sys.executable, "-m", "tito", "grade", "01_tensor", "--submission", str(cheat)]
    done = subprocess.run(
        [*command, "--json"], cwd=course.root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["points"] == 0 and report["max_points"] > 0
    assert {t["outcome"] for t in report["tests"]} == {"modified"}


@pytest.mark.parametrize("module_id", ["02_activations", "03_layers", "04_losses", "05_autograd"])
def test_correct_files_score_full_points_without_a_package(instructor, tmp_path, module_id):
    course, _ = instructor
    upload = tmp_path / "upload"  # what a student uploads: their files, no tinytorch/
    upload.mkdir()
    module = course.modules[module_id]
    (upload / module.file).write_text(solved(module.source_path))
    report = grade_module(course, upload, module_id)
    assert report.max_points > 0
    assert report.points == report.max_points, [(t.name, t.message) for t in report.tests]
    assert not (upload / "tinytorch").exists()
