"""`tito module check` on the real course: every module must come out clean (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tito.course.catalog import load_course
from tito.course.check import SOLUTION_LINES_TARGET, check_course, check_module

ROOT = Path(__file__).resolve().parents[2]
COURSE = load_course(ROOT)


@pytest.mark.parametrize("module_id", list(COURSE.modules))
def test_module_check_is_clean(module_id):
    result = check_module(COURSE, COURSE.modules[module_id])
    assert result.clean, f"{len(result.findings)} findings:\n" + "\n".join(
        str(finding) for finding in result.findings
    )


def test_course_has_enough_for_students_to_write():
    lines = check_course(COURSE).total.solution_lines
    assert lines >= SOLUTION_LINES_TARGET, (
        f"the course has {lines} solution lines; issue 14 asks for {SOLUTION_LINES_TARGET}"
    )
