"""Grading: correct, wrong, tampered and hanging submissions; a class with a worker pool."""

from __future__ import annotations

import csv
import shutil
import time
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from tests.coursekit import add_module, make_course
from tito.cli.main import app
from tito.course.catalog import load_course
from tito.course.grading import grade_class, grade_module
from tito.course.release import read_manifest, release_student

SOURCE = """
# %%
#| default_exp core.alpha
#| export
def double(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION


def slow():
    ### BEGIN SOLUTION
    return 0
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-double", "locked": true, "points": 6}
def test_double():
    assert double(2) == 4

# %% nbgrader={"grade": true, "grade_id": "test-slow", "locked": true, "points": 4}
def test_slow():
    assert slow() == 0
"""


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    base = tmp_path_factory.mktemp("grading")
    root = make_course(base / "course")
    add_module(root, "01_alpha", SOURCE, test_timeout=3)
    release_student(load_course(root), base / "release")
    return base / "release"


def submission(release, tmp_path, name, edit=None):
    folder = tmp_path / name
    shutil.copytree(release, folder)
    path = folder / "modules" / "01_alpha" / "alpha_dev.py"
    text = path.read_text()
    text = text.replace("raise NotImplementedError()", "return 2 * x", 1)
    text = text.replace("raise NotImplementedError()", "return 0", 1)
    path.write_text(edit(text) if edit else text)
    return folder


def grade(folder):
    return grade_module(folder, "01_alpha", read_manifest(folder / "release.json"))


def test_correct_submission_scores_full(release, tmp_path):
    report = grade(submission(release, tmp_path, "alice"))
    assert (report.points, report.max_points) == (10.0, 10.0)


def test_wrong_submission_loses_that_tests_points(release, tmp_path):
    report = grade(submission(release, tmp_path, "bob", lambda t: t.replace("2 * x", "3 * x")))
    outcomes = {t.grade_id: (t.outcome, t.points) for t in report.tests}
    assert outcomes == {"test-double": ("failed", 0.0), "test-slow": ("passed", 4.0)}


def test_tampered_locked_cell_scores_zero(release, tmp_path):
    cheat = submission(
        release, tmp_path, "carol", lambda t: t.replace("assert double(2) == 4", "assert True")
    )
    report = grade(cheat)
    double = next(t for t in report.tests if t.grade_id == "test-double")
    assert double.outcome == "modified" and double.points == 0.0 and report.points == 4.0


def test_hanging_submission_is_killed_and_scores_zero_for_it(release, tmp_path):
    hang = submission(
        release,
        tmp_path,
        "dave",
        lambda t: t.replace("    return 0\n", "    import time\n    time.sleep(60)\n", 1),
    )
    started = time.perf_counter()
    report = grade(hang)
    assert time.perf_counter() - started < 30
    slow = next(t for t in report.tests if t.grade_id == "test-slow")
    assert slow.outcome == "timeout" and slow.points == 0.0 and report.points == 6.0


def test_missing_locked_cell_and_broken_file(release, tmp_path):
    gone = submission(
        release,
        tmp_path,
        "erin",
        lambda t: t.split('# %% nbgrader={"grade": true, "grade_id": "test-slow"')[0],
    )
    outcomes = {t.grade_id: t.outcome for t in grade(gone).tests}
    assert outcomes["test-slow"] == "missing"
    broken = submission(release, tmp_path, "frank", lambda t: t + "\ndef oops(:\n")
    report = grade(broken)
    assert report.points == 0 and report.max_points == 10 and report.status == "load_error"


def test_class_of_twenty_with_workers_csv_and_junit(release, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for i in range(20):
        wrong = (lambda t: t.replace("2 * x", "3 * x")) if i % 2 else None
        submission(release, folder, f"student{i:02d}", wrong)
    out = tmp_path / "grades.csv"
    result = CliRunner().invoke(
        app,
        [
            "grade",
            "--all",
            "--submissions",
            str(folder),
            "--csv",
            str(out),
            "--junit-dir",
            str(tmp_path / "junit"),
            "--workers",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 20
    points = {r["student"]: float(r["points"]) for r in rows}
    assert points["student00"] == 10.0 and points["student01"] == 4.0
    suite = ET.parse(tmp_path / "junit" / "student01.xml").getroot()[0]
    assert suite.get("failures") == "1" and len(suite.findall("testcase")) == 2
    sequential = grade_class(folder, workers=1)
    assert sorted((r.student, r.points) for r in sequential) == sorted(points.items())
