"""Grading: correct, wrong, tampered and hanging submissions; a class with a worker pool."""

from __future__ import annotations

import csv
import json
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
CORRECT = {"test-double": ("passed", 6.0), "test-slow": ("passed", 4.0)}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    base = tmp_path_factory.mktemp("grading")
    root = make_course(base / "course")
    add_module(root, "01_alpha", SOURCE, test_timeout=2)
    release_student(load_course(root), base / "release")
    return base / "release"


def submission(release, folder, name, edit=None):
    """A student's copy: the release with both solutions written, then `edit` applied."""
    copy = folder / name
    shutil.copytree(release, copy)
    path = copy / "modules" / "01_alpha" / "alpha_dev.py"
    text = path.read_text()
    text = text.replace("raise NotImplementedError()", "return 2 * x", 1)
    text = text.replace("raise NotImplementedError()", "return 0", 1)
    path.write_bytes((edit(text) if edit else text).encode())
    return copy


def grade(folder, manifest=True):
    return grade_module(
        folder, "01_alpha", read_manifest(folder / "release.json") if manifest else None
    )


def outcomes(report):
    return {t.grade_id: (t.outcome, t.points) for t in report.tests}


def test_correct_submission_scores_full(release, tmp_path):
    report = grade(submission(release, tmp_path, "alice"))
    assert outcomes(report) == CORRECT
    assert (report.points, report.max_points) == (10.0, 10.0) and report.warnings == []


def test_untouched_release_scores_zero_with_not_implemented(release):
    report = grade(release)
    assert report.points == 0.0 and report.max_points == 10.0
    assert {t.message for t in report.tests} == {
        "not implemented yet: double",
        "not implemented yet: slow",
    }


def test_wrong_submission_loses_that_tests_points(release, tmp_path):
    report = grade(submission(release, tmp_path, "bob", lambda t: t.replace("2 * x", "3 * x")))
    assert outcomes(report) == {"test-double": ("failed", 0.0), "test-slow": ("passed", 4.0)}


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace("assert double(2) == 4", "assert True"),
        lambda t: t.replace('"locked": true, "points": 6', '"locked": true, "points": 60'),
        lambda t: t.replace('"locked": true, "points": 6', '"locked": false, "points": 6'),
    ],
    ids=["test-code", "points", "unlocked"],
)
def test_tampered_locked_cell_scores_zero(release, tmp_path, edit):
    report = grade(submission(release, tmp_path, "carol", edit))
    assert outcomes(report) == {"test-double": ("modified", 0.0), "test-slow": ("passed", 4.0)}
    assert report.max_points == 10.0  # the release's points, not the edited ones


def test_redefined_or_duplicated_locked_test_scores_zero(release, tmp_path):
    shadow = "\n# %%\ndef test_double():\n    pass\n"
    report = grade(submission(release, tmp_path, "dan", lambda t: t + shadow))
    double = next(t for t in report.tests if t.grade_id == "test-double")
    assert (double.outcome, double.points) == ("modified", 0.0)
    assert "defined again outside its locked cell" in double.message
    copy_cell = (
        '\n# %% nbgrader={"grade": true, "grade_id": "test-double", "locked": true, "points": 6}'
        "\ndef test_double():\n    pass\n"
    )
    report = grade(submission(release, tmp_path, "dina", lambda t: t + copy_cell))
    assert outcomes(report)["test-double"] == ("modified", 0.0)


def test_added_graded_cell_is_not_counted(release, tmp_path):
    extra = '\n# %% nbgrader={"grade": true, "grade_id": "bonus", "points": 100}\n'
    extra += "def test_bonus():\n    pass\n"
    report = grade(submission(release, tmp_path, "eve", lambda t: t + extra))
    assert outcomes(report) == CORRECT
    assert report.warnings == ["Graded cells not in the release were not counted: bonus."]


def test_layout_noise_is_not_tampering(release, tmp_path):
    report = grade(submission(release, tmp_path, "win", lambda t: t.replace("\n", "\r\n")))
    assert outcomes(report) == CORRECT


def test_hanging_submission_is_killed_and_scores_zero_for_it(release, tmp_path):
    hang = submission(
        release,
        tmp_path,
        "frank",
        lambda t: t.replace("    return 0\n", "    import time\n    time.sleep(60)\n", 1),
    )
    started = time.perf_counter()
    report = grade(hang)
    assert time.perf_counter() - started < 30
    assert report.status == "timeout"
    assert outcomes(report) == {"test-double": ("passed", 6.0), "test-slow": ("timeout", 0.0)}


def test_missing_locked_cell_and_broken_file(release, tmp_path):
    gone = submission(
        release,
        tmp_path,
        "gina",
        lambda t: t.split('# %% nbgrader={"grade": true, "grade_id": "test-slow"')[0],
    )
    assert outcomes(grade(gone))["test-slow"] == ("missing", 0.0)
    broken = submission(release, tmp_path, "hal", lambda t: t.replace("def slow():", "def slow(:"))
    report = grade(broken)
    assert report.status == "load_error" and (report.points, report.max_points) == (0, 10)
    assert {t.outcome for t in report.tests} == {"load_error"}


def test_without_manifest_points_come_from_the_submission_with_a_warning(release, tmp_path):
    report = grade(submission(release, tmp_path, "ivy"), manifest=False)
    assert outcomes(report) == CORRECT
    assert "edited test cells cannot be detected" in report.warnings[0]


def test_cli_single_grade_json_junit_and_exit_codes(release, tmp_path):
    wrong = submission(release, tmp_path, "jo", lambda t: t.replace("2 * x", "3 * x"))
    runner = CliRunner()
    junit = tmp_path / "jo.xml"
    args = ["grade", "01", "--submission", str(wrong), "--json", "--junit", str(junit)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output  # a failing submission is a successful grading
    data = json.loads(result.stdout)
    assert (data["points"], data["max_points"], data["student"]) == (4.0, 10.0, "jo")
    case = ET.parse(junit).getroot().find("testsuite/testcase[@name='test_double']")
    message = case.find("failure").get("message")
    assert message.startswith("failed: ") and "double(2) == 4" in message
    table = runner.invoke(app, ["grade", "01", "--submission", str(wrong)])
    assert "Total: 4 / 10 points" in table.output
    unknown = runner.invoke(app, ["grade", "99", "--submission", str(wrong)])
    assert unknown.exit_code == 2 and "no module '99'" in unknown.output
    bad = runner.invoke(app, ["grade", "01", "--submission", str(wrong), "--manifest", "nope.json"])
    assert bad.exit_code == 2 and "does not exist" in bad.output


def test_class_of_twenty_with_workers_csv_and_junit(release, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for i in range(20):
        wrong = (lambda t: t.replace("2 * x", "3 * x")) if i % 2 else None
        submission(release, folder, f"student{i:02d}", wrong)
    (folder / "zz-empty").mkdir()  # a student who handed in nothing usable
    out = tmp_path / "grades.csv"
    junit_dir = tmp_path / "junit"
    args = ["grade", "--all", "--submissions", str(folder), "--csv", str(out)]
    args += ["--manifest", str(release / "release.json"), "--junit-dir", str(junit_dir)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["student"] for r in rows] == [f"student{i:02d}" for i in range(20)] + ["zz-empty"]
    assert {(r["module"], r["max"]) for r in rows} == {("01_alpha", "10")}
    assert [r["points"] for r in rows[:3]] == ["10", "4", "10"] and rows[-1]["points"] == "0"
    assert len(list(junit_dir.glob("*.xml"))) == 21
    root = ET.parse(junit_dir / "student01.xml").getroot()
    suite = root.find("testsuite")
    assert (root.get("name"), suite.get("name")) == ("student01", "01_alpha")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    points = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert (points["points"], points["max_points"]) == ("4", "10")
    failure = suite.find("testcase[@name='test_double']/failure")
    assert failure.get("type") == "failed" and "AssertionError" in failure.text
    assert suite.find("testcase[@name='test_slow']/failure") is None
    empty = ET.parse(junit_dir / "zz-empty.xml").getroot().find("testsuite")
    assert empty.get("errors") == "2" and "modules" in empty.find("testcase/error").get("message")
    sequential = grade_class(folder, ["01_alpha"], workers=1)
    assert [(r.student, r.points) for r in sequential] == [
        (r["student"], float(r["points"])) for r in rows
    ]


def test_class_bad_input_exits_2(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["grade", "--all", "--submissions", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "is not a folder" in missing.output
    workers = runner.invoke(
        app, ["grade", "--all", "--submissions", str(tmp_path), "--workers", "0"]
    )
    assert workers.exit_code == 2 and "--workers" in workers.output
    assert runner.invoke(app, ["grade", "--all"]).exit_code == 2
