"""A student works through the whole released course in order, from the student copy alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e import tito
from tito.course.catalog import load_course
from tito.course.release import SKIP

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_every_module_fails_as_a_stub_then_completes_with_its_solution(tmp_path):
    """Each module, in course order: its stubs fail with "not implemented yet" (not an import
    error or a missing prerequisite: the earlier modules are done), then the solution passes
    and exports. This is the path a student takes; it also catches given code that needs a
    later module, or a test that only passes with the instructor's package."""
    course, out = tmp_path / "course", tmp_path / "student"
    shutil.copytree(ROOT, course, ignore=SKIP)  # a release records itself in its course
    released = tito(course, "release", "student", str(out))
    assert released.returncode == 0, released.stdout + released.stderr
    for module in load_course(ROOT).modules.values():
        stub = tito(out, "module", "complete", module.id)
        assert stub.returncode == 1, f"{module.id}:\n{stub.stdout}{stub.stderr}"
        assert "not implemented yet" in stub.stdout, f"{module.id}:\n{stub.stdout}{stub.stderr}"
        shutil.copy(module.source_path, out / "modules" / module.id)
        solved = tito(out, "module", "complete", module.id)
        assert solved.returncode == 0, f"{module.id}:\n{solved.stdout}{solved.stderr}"
    status = tito(out, "status")
    assert status.returncode == 0 and "16/16" in status.stdout.replace(" ", ""), status.stdout
