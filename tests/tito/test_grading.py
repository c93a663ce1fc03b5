"""Grading with the instructor's tests: correct, wrong, cheating, tampered, hanging and
hard-coded submissions; prerequisites from the reference package or the student's own files;
notebooks; a class with a worker pool."""

from __future__ import annotations

import ast
import csv
import json
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from tests.coursekit import add_module, make_course
from tito.cli.main import app
from tito.course.catalog import load_course
from tito.course.grading import HIDDEN_FAILED, grade_class, grade_module
from tito.course.release import release_student

SOURCE = '''
# %%
#| default_exp core.alpha
#| export
def double(x):
    """Twice x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION


def slow():
    """Zero, quickly."""
    ### BEGIN SOLUTION
    return 0
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-double", "locked": true, "points": 6}
def test_double():
    assert double(2) == 4, "double(2) should be 4"
    ### BEGIN HIDDEN TESTS
    assert double(5) == 10, "SECRET-HIDDEN-MESSAGE"
    ### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test-slow", "locked": true, "points": 4}
async def test_slow():
    assert slow() == 0

# %% [markdown]
# **Q1.** Why is doubling cheap?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-cheap", "solution": true}
# ### BEGIN SOLUTION
# One multiply per element.
# ### END SOLUTION
'''
BETA = '''
# %%
#| default_exp core.beta
#| export
from tinytorch.core.alpha import double


def quad(x):
    """Four times x, with double."""
    ### BEGIN SOLUTION
    return double(double(x))
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-quad", "locked": true, "points": 5}
def test_quad():
    assert quad(3) == 12, f"quad(3) should be 12, got {quad(3)}"
'''
CORRECT = {"test-double": ("passed", 6.0), "test-slow": ("passed", 4.0)}
SOLVED = {"# YOUR CODE HERE\n    raise NotImplementedError()": None}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    base = tmp_path_factory.mktemp("grading")
    root = make_course(base / "course")
    add_module(root, "01_alpha", SOURCE, test_timeout=3)
    add_module(root, "02_beta", BETA, test_timeout=3, prerequisites=["01_alpha"])
    course = load_course(root)
    release_student(course, base / "release")
    return course


@pytest.fixture(scope="module")
def release(course):
    return course.root.parent / "release"


def solve(text, answers=("return 2 * x", "return 0")):
    for answer in answers:
        text = text.replace("# YOUR CODE HERE\n    raise NotImplementedError()", answer, 1)
    return text


def submission(release, folder, name, edit=None, module="01_alpha/alpha_dev.py"):
    """A student's copy: the release with the solutions written, then `edit` applied."""
    copy = folder / name
    shutil.copytree(release, copy)
    path = copy / "modules" / module
    text = solve(path.read_text()) if "alpha" in module else path.read_text()
    path.write_bytes((edit(text) if edit else text).encode())
    return copy


def grade(course, folder, module="01_alpha", **options):
    return grade_module(course, folder, module, **options)


def outcomes(report):
    return {t.grade_id: (t.outcome, t.points) for t in report.tests}


def return_first(text):
    """The cheat of issue 15: every test function returns at its first line."""
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    for node in reversed(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test_"
        ):
            first = node.body[0]
            lines.insert(first.lineno - 1, " " * first.col_offset + "return\n")
    return "".join(lines)


def test_correct_submission_scores_full_and_answers_are_collected(course, release, tmp_path):
    edit = lambda t: t.replace("# YOUR ANSWER HERE", "# Each element is multiplied once.")  # noqa: E731
    report = grade(course, submission(release, tmp_path, "alice", edit))
    assert outcomes(report) == CORRECT
    assert (report.points, report.max_points) == (10.0, 10.0) and report.warnings == []
    assert report.source == "modules/01_alpha/alpha_dev.py"
    [answer] = report.answers
    assert answer.grade_id == "reflect-cheap" and "Why is doubling cheap?" in answer.question
    assert answer.answer == "Each element is multiplied once."
    assert grade(course, release).answers[0].answer == ""  # YOUR ANSWER HERE is no answer


def test_untouched_release_scores_zero_with_not_implemented(course, release):
    report = grade(course, release)
    assert report.points == 0.0 and report.max_points == 10.0
    assert {t.message for t in report.tests} == {
        "not implemented yet: double",
        "not implemented yet: slow",
    }


def test_the_90_of_90_cheat_scores_zero_with_the_readme_command(
    course, release, tmp_path, monkeypatch
):
    """Issue 15: tests made to return at once and release.json deleted: every test is the
    instructor's again, the solutions are missing, and the edited cells are reported."""
    cheat = tmp_path / "mallory"
    shutil.copytree(release, cheat)
    (cheat / "release.json").unlink()
    path = cheat / "modules" / "01_alpha" / "alpha_dev.py"
    path.write_text(return_first(path.read_text()))
    monkeypatch.chdir(course.root)
    result = CliRunner().invoke(app, ["grade", "01_alpha", "--submission", str(cheat), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["points"], data["max_points"]) == (0.0, 10.0)
    assert {t["outcome"] for t in data["tests"]} == {"modified"}
    # Even with the edit undone on the cells' side, the real tests run: zero without solutions.
    honest = grade(course, release)
    assert honest.points == 0.0


def test_hard_coded_submission_loses_the_cell_and_sees_no_hidden_source(course, release, tmp_path):
    hard = submission(
        release, tmp_path, "hardy", lambda t: t.replace("return 2 * x", "return 4", 1)
    )
    report = grade(course, hard)
    double = next(t for t in report.tests if t.grade_id == "test-double")
    assert (double.outcome, double.points, double.max_points) == ("failed", 0.0, 6.0)
    assert double.message == HIDDEN_FAILED and double.traceback == ""
    assert double.hidden and double.failed_in_hidden
    text = json.dumps(report.to_dict())
    assert "SECRET-HIDDEN-MESSAGE" not in text and "double(5)" not in text
    # A visible failure still shows its message and traceback.
    wrong = submission(release, tmp_path, "wrong", lambda t: t.replace("2 * x", "3 * x", 1))
    row = next(t for t in grade(course, wrong).tests if t.grade_id == "test-double")
    assert row.message == "double(2) should be 4" and "assert double(2) == 4" in row.traceback
    assert not row.failed_in_hidden


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace('assert double(2) == 4, "double(2) should be 4"', "assert True"),
        lambda t: t.replace('"locked": true, "points": 6', '"locked": true, "points": 60'),
        lambda t: t.replace('"locked": true, "points": 6', '"locked": false, "points": 6'),
    ],
    ids=["test-code", "points", "unlocked"],
)
def test_tampered_locked_cell_scores_zero(course, release, tmp_path, edit):
    report = grade(course, submission(release, tmp_path, "carol", edit))
    assert outcomes(report) == {"test-double": ("modified", 0.0), "test-slow": ("passed", 4.0)}
    assert report.max_points == 10.0  # the instructor's points, not the edited ones


def test_redefined_or_duplicated_locked_test_scores_zero(course, release, tmp_path):
    shadow = "\n# %%\ndef test_double():\n    pass\n"
    report = grade(course, submission(release, tmp_path, "dan", lambda t: t + shadow))
    double = next(t for t in report.tests if t.grade_id == "test-double")
    assert (double.outcome, double.points) == ("modified", 0.0)
    assert "defined again outside its locked cell" in double.message
    copy_cell = (
        '\n# %% nbgrader={"grade": true, "grade_id": "test-double", "locked": true, "points": 6}'
        "\ndef test_double():\n    pass\n"
    )
    report = grade(course, submission(release, tmp_path, "dina", lambda t: t + copy_cell))
    assert outcomes(report)["test-double"] == ("modified", 0.0)


def test_added_graded_cell_is_not_counted(course, release, tmp_path):
    extra = '\n# %% nbgrader={"grade": true, "grade_id": "bonus", "points": 100}\n'
    extra += "def test_bonus():\n    pass\n"
    report = grade(course, submission(release, tmp_path, "eve", lambda t: t + extra))
    assert outcomes(report) == CORRECT
    assert report.warnings == ["Graded cells not in the course were not counted: bonus."]


def test_layout_noise_is_not_tampering(course, release, tmp_path):
    report = grade(course, submission(release, tmp_path, "win", lambda t: t.replace("\n", "\r\n")))
    assert outcomes(report) == CORRECT


def test_hanging_submission_is_killed_and_scores_zero_for_it(course, release, tmp_path):
    hang = submission(
        release,
        tmp_path,
        "frank",
        lambda t: t.replace("    return 0\n", "    import time\n    time.sleep(60)\n", 1),
    )
    report = grade(course, hang)
    assert report.status == "timeout"
    assert outcomes(report) == {"test-double": ("passed", 6.0), "test-slow": ("timeout", 0.0)}


def test_missing_locked_cell_missing_file_and_broken_file(course, release, tmp_path):
    gone = submission(
        release,
        tmp_path,
        "gina",
        lambda t: t.split('# %% nbgrader={"grade": true, "grade_id": "test-slow"')[0],
    )
    assert outcomes(grade(course, gone))["test-slow"] == ("missing", 0.0)
    broken = submission(release, tmp_path, "hal", lambda t: t.replace("def slow():", "def slow(:"))
    report = grade(course, broken)
    assert report.status == "load_error" and (report.points, report.max_points) == (0, 10)
    assert {t.outcome for t in report.tests} == {"load_error"}
    empty = tmp_path / "nobody"
    empty.mkdir()
    report = grade(course, empty)
    assert report.status == "missing" and report.max_points == 10.0 and report.points == 0
    assert "No alpha_dev.py" in report.message


def test_later_module_is_graded_on_its_own_without_a_package(course, release, tmp_path):
    """02 imports 01 from tinytorch: the sandbox builds it from the instructor's reference,
    whatever the submission's tinytorch/ holds (nothing here, or a wrong 01)."""
    flat = tmp_path / "flat"
    flat.mkdir()
    beta = (release / "modules" / "02_beta" / "beta_dev.py").read_text()
    beta = solve(beta, ["return double(double(x))"])
    (flat / "beta_dev.py").write_text(beta)
    (flat / "alpha_dev.py").write_text(solve(solve("")) or "")  # an empty 01 of theirs
    report = grade(course, flat, "02_beta")
    assert outcomes(report) == {"test-quad": ("passed", 5.0)}, report.message
    (flat / "tinytorch" / "core").mkdir(parents=True)
    (flat / "tinytorch" / "core" / "alpha.py").write_text("def double(x):\n    return 0\n")
    assert grade(course, flat, "02_beta").points == 5.0
    # --cumulative: their own 01 (empty here, so the import fails) decides.
    report = grade(course, flat, "02_beta", cumulative=True)
    assert report.points == 0.0 and report.status == "load_error"
    alpha = (release / "modules" / "01_alpha" / "alpha_dev.py").read_text()
    (flat / "alpha_dev.py").write_text(solve(alpha, ["return 3 * x", "return 0"]))
    report = grade(course, flat, "02_beta", cumulative=True)
    assert outcomes(report) == {"test-quad": ("failed", 0.0)}
    assert "got 27" in report.tests[0].message


def test_notebook_submission_is_graded(course, release, tmp_path):
    pytest.importorskip("jupytext")
    import jupytext

    from tito.course.notebooks import to_notebook

    student = tmp_path / "nora"
    shutil.copytree(release, student)
    path = student / "modules" / "01_alpha" / "alpha_dev.py"
    notebook = to_notebook(solve(path.read_text()))  # the edits live only in the notebook
    notebook.metadata["tito"] = {
        "source_sha256": __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    }
    path.with_suffix(".ipynb").write_text(jupytext.writes(notebook, fmt="ipynb"))
    report = grade(course, student)
    assert outcomes(report) == CORRECT and report.source.endswith(".ipynb")
    assert any("holds edits" in w for w in report.warnings)
    flat = tmp_path / "upload"
    flat.mkdir()
    shutil.move(path.with_suffix(".ipynb"), flat / "alpha_dev.ipynb")
    assert outcomes(grade(course, flat)) == CORRECT


def test_a_notebook_saved_later_without_edits_does_not_hide_the_py_work(course, release, tmp_path):
    """Jupyter saves a notebook it only opened: newer on disk, but the work is in the .py."""
    pytest.importorskip("jupytext")
    import os

    from tito.course.notebooks import write_notebook

    student = tmp_path / "pia"
    shutil.copytree(release, student)
    notebook = write_notebook(load_course(student).modules["01_alpha"])  # the unsolved file
    path = student / "modules" / "01_alpha" / "alpha_dev.py"
    path.write_text(solve(path.read_text()))
    later = path.stat().st_mtime + 60
    os.utime(notebook, (later, later))
    before = notebook.read_bytes(), path.read_bytes()
    report = grade(course, student)
    assert outcomes(report) == CORRECT and report.source.endswith(".py"), report.warnings
    assert not report.warnings
    assert (notebook.read_bytes(), path.read_bytes()) == before  # grading wrote nothing


def test_older_release_and_fixed_test_after_release(tmp_path):
    root = make_course(tmp_path / "course")
    add_module(root, "01_alpha", SOURCE, test_timeout=3)
    release_student(load_course(root), tmp_path / "first")
    path = root / "modules" / "01_alpha" / "alpha_dev.py"
    path.write_text(path.read_text().replace("should be 4", "must be 4"))  # a fixed message
    release_student(load_course(root), tmp_path / "second")
    assert len(list((root / "releases").glob("*.json"))) == 2
    old = submission(tmp_path / "first", tmp_path, "olga")
    report = grade(load_course(root), old)
    assert outcomes(report) == CORRECT  # its cells match the release it came from
    assert any("older release" in w for w in report.warnings)
    (old / "release.json").unlink()  # without it, the cells still match a recorded release
    report = grade(load_course(root), old)
    assert outcomes(report) == CORRECT and report.warnings == []


def test_cli_single_grade_json_junit_and_exit_codes(course, release, tmp_path, monkeypatch):
    monkeypatch.chdir(course.root)
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
    assert message.startswith("failed: ") and "double(2) should be 4" in message
    table = runner.invoke(app, ["grade", "01", "--submission", str(wrong)])
    assert "Total: 4 / 10 points" in table.output
    assert "Reflect answers: 0 written, 1 blank" in table.output
    unknown = runner.invoke(app, ["grade", "99", "--submission", str(wrong)])
    assert unknown.exit_code == 2 and "no module '99'" in unknown.output
    missing = runner.invoke(app, ["grade", "01", "--submission", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "is not a folder" in missing.output


def test_class_with_workers_csv_junit_and_html(course, release, tmp_path, monkeypatch):
    monkeypatch.chdir(course.root)
    folder = tmp_path / "class"
    folder.mkdir()
    for i in range(4):
        wrong = (lambda t: t.replace("2 * x", "3 * x")) if i % 2 else None
        submission(release, folder, f"student{i:02d}", wrong)
    (folder / "zz-empty").mkdir()  # a student who handed in nothing usable
    out, junit_dir, html = tmp_path / "grades.csv", tmp_path / "junit", tmp_path / "r.html"
    args = ["grade", "--all", "01_alpha", "--submissions", str(folder), "--csv", str(out)]
    args += ["--junit-dir", str(junit_dir), "--html", str(html), "--workers", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["student"] for r in rows] == [f"student{i:02d}" for i in range(4)] + ["zz-empty"]
    assert {(r["module"], r["max"]) for r in rows} == {("01_alpha", "10")}
    assert [r["points"] for r in rows] == ["10", "4", "10", "4", "0"]
    assert len(list(junit_dir.glob("*.xml"))) == 5
    suite = ET.parse(junit_dir / "student01.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    page = html.read_text()
    assert "student03" in page and "Pass rate of every test" in page and "<script" not in page
    sequential = grade_class(course, folder, ["01_alpha"], workers=1)
    assert [(r.student, r.points) for r in sequential] == [
        (r["student"], float(r["points"])) for r in rows
    ]


def test_class_bad_input_exits_2(course, tmp_path, monkeypatch):
    monkeypatch.chdir(course.root)
    runner = CliRunner()
    missing = runner.invoke(app, ["grade", "--all", "--submissions", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "is not a folder" in missing.output
    workers = runner.invoke(
        app, ["grade", "--all", "--submissions", str(tmp_path), "--workers", "0"]
    )
    assert workers.exit_code == 2 and "--workers" in workers.output
    assert runner.invoke(app, ["grade", "--all"]).exit_code == 2
    html_alone = runner.invoke(app, ["grade", "01", "--html", "x.html"])
    assert html_alone.exit_code == 2 and re.search("go with --all", html_alone.output)


def test_class_without_a_module_grades_what_was_handed_in(course, release, tmp_path):
    folder = tmp_path / "uploads" / "uma"
    folder.mkdir(parents=True)
    alpha = (release / "modules" / "01_alpha" / "alpha_dev.py").read_text()
    (folder / "alpha_dev.py").write_text(solve(alpha))
    reports = grade_class(course, folder.parent, workers=1)
    assert [(r.student, r.module_id, r.points) for r in reports] == [("uma", "01_alpha", 10.0)]
