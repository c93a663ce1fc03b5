"""The student copy explains itself: its README, its set-up scripts, no instructor material."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tito.course.catalog import load_course
from tito.course.release import release_student, skip_names
from tito.course.student_copy import INSTRUCTOR_ONLY, student_readme

ROOT = Path(__file__).resolve().parents[2]
# Words a student README must not use: they are about the instructor's side of the course.
INSTRUCTOR_WORDS = re.compile(
    r"grad(e|ing)\b|gradescope|release|reference solution|solutions? (are|is) stripped|"
    r"tests/|scripts/test\.sh|scripts/course\.sh|\.\./|instructor|BEGIN SOLUTION|DESIGN\.md",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    # Released from a copy of the course: a release writes its record into the course.
    course = tmp_path_factory.mktemp("course") / "course"
    shutil.copytree(ROOT, course, ignore=skip_names)
    out = tmp_path_factory.mktemp("release") / "student copy"
    release_student(load_course(course), out)
    return out


def test_readme_is_for_students_only(copy):
    text = (copy / "README.md").read_text(encoding="utf-8")
    assert not INSTRUCTOR_WORDS.findall(text), INSTRUCTOR_WORDS.findall(text)
    for needed in (
        "bash scripts/setup.sh",
        "scripts\\setup.ps1",
        "tito module start 01_tensor --notebook",
        "tito module complete 01_tensor",
        "## When a test fails",
        "not implemented yet",
        "tito milestone run",
        "tito notebook NN --sync --force",
    ):
        assert needed in text, needed


def test_readme_lists_every_module_and_milestone_of_the_course():
    course = load_course(ROOT)
    text = student_readme(course)
    for module_id in course.modules:
        assert f"`{module_id}`" in text
    for milestone_id in course.milestones:
        assert f"`{milestone_id}`" in text


def test_copy_has_the_student_set_up_and_none_of_the_instructor_files(copy):
    assert (copy / "scripts" / "setup.sh").is_file() and (copy / "scripts" / "setup.ps1").is_file()
    for relative in INSTRUCTOR_ONLY:
        assert not (copy / relative).exists(), relative
    setup = (copy / "scripts" / "setup.sh").read_text()
    assert "module complete" not in setup  # sets up; never completes modules for the student
    assert 'editable_mode=compat -e ".[notebook]"' in setup
    if shutil.which("bash") and sys.platform != "win32":  # Windows' bash may be WSL's
        checked = subprocess.run(["bash", "-n", str(copy / "scripts" / "setup.sh")], check=False)
        assert checked.returncode == 0
    ps1 = (copy / "scripts" / "setup.ps1").read_text()
    assert ".venv\\Scripts\\python.exe" in ps1 and "{" in ps1 and "{{" not in ps1


def test_no_file_in_the_copy_points_outside_it(copy):
    for path in copy.rglob("*.md"):
        # Spelled in two parts so this test does not itself contain the forbidden pointer.
        assert "../" + "shared" not in path.read_text(encoding="utf-8"), path


def test_repository_docs_link_only_inside_the_repository():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        assert "shared/DESIGN.md" not in text, path
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if "://" not in target:
                assert (path.parent / target).resolve().is_relative_to(ROOT), (path, target)
                assert (path.parent / target).exists(), (path, target)
