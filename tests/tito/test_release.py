"""Student release: solutions stripped, package reduced, manifest; markers validated."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from tests.coursekit import add_module, make_course
from tito import __version__
from tito.cli.main import app
from tito.course.catalog import load_course
from tito.course.cells import parse_cells
from tito.course.errors import TitoError
from tito.course.export import plan_export, write_plan
from tito.course.release import cell_fingerprint, release_student, strip_solutions

SOURCE = '''
# %%
#| default_exp core.alpha
#| export
def double(x):
    """Twice x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-double", "locked": true, "points": 5}
def test_double():
    assert double(2) == 4

# %% nbgrader={"grade": true, "grade_id": "answer", "locked": false, "points": 1}
def test_answer():
    assert True
'''


def test_strip_keeps_indentation_line_ends_and_counts():
    text, count = strip_solutions(
        "def f():\n    x = 1\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n", "f.py"
    )
    assert count == 1
    assert text == "def f():\n    x = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    crlf, _ = strip_solutions("if a:\r\n  ### BEGIN SOLUTION\r\n  b\r\n  ### END SOLUTION\r\n", "g")
    assert crlf == "if a:\r\n  # YOUR CODE HERE\r\n  raise NotImplementedError()\r\n"


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        ("### BEGIN SOLUTION\nx\n    ### BEGIN SOLUTION\n### END SOLUTION\n", 3, "cannot nest"),
        ("x = 1\n### END SOLUTION\n", 2, "without a"),
        ("x = 1\n\n### BEGIN SOLUTION\nx\n", 3, "never closed"),
        # a form feed is no line end for Python, so it must not shift the line numbers
        ("s = '\x0c'\n### END SOLUTION\n", 2, "without a"),
    ],
    ids=["nested", "end-without-begin", "never-closed", "form-feed"],
)
def test_unbalanced_markers_name_file_and_line(text, line, why):
    with pytest.raises(TitoError, match=rf"^m\.py:{line}: .*{why}"):
        strip_solutions(text, "m.py")


@pytest.fixture
def course(tmp_path):
    root = make_course(tmp_path / "course")
    add_module(root, "01_alpha", SOURCE, exports=["double"])
    course = load_course(root)
    write_plan(plan_export(course, course.modules["01_alpha"]))
    (root / "tinytorch" / "keep.py").write_text("KEEP = 1\n")  # exported by no module
    (root / "milestones" / "demo.py").write_text("print('demo')\n")
    (root / "tito").mkdir()
    (root / "tito" / "tool.py").write_text("TOOL = 1\n")
    return course


def _junk(root):
    """Things a release must leave out, at the places they turn up."""
    for folder in (".git", ".tito", ".venv", "tests", "tinytorch/__pycache__", "x.egg-info"):
        (root / folder).mkdir(parents=True)
        (root / folder / "f").write_text("junk")
    (root / "env311").mkdir()
    (root / "env311" / "pyvenv.cfg").write_text("home = /usr\n")  # a venv under any name
    (root / "modules" / "01_alpha" / "alpha_dev.ipynb").write_text("{}")  # has the solutions
    (root / "modules" / "01_alpha" / ".ipynb_checkpoints").mkdir()


def test_release_strips_reduces_and_fingerprints(course, tmp_path):
    _junk(course.root)
    out = tmp_path / "release"
    summary = release_student(course, out)
    student = (out / "modules" / "01_alpha" / "alpha_dev.py").read_text()
    assert "return 2 * x" not in student
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()\n" in student
    # the package: exported files gone; hand-written files and tito's package folders stay
    assert not (out / "tinytorch" / "core" / "alpha.py").exists()
    assert (out / "tinytorch" / "core" / "__init__.py").exists()
    assert (out / "tinytorch" / "keep.py").exists()
    assert (out / "tinytorch" / "__init__.py").read_text() == (
        course.root / "tinytorch" / "__init__.py"
    ).read_text()
    assert summary.removed == ["tinytorch/core/alpha.py"]
    # milestones and toolchain intact; state, caches, venvs, notebooks and tests left out
    assert (out / "milestones" / "demo.py").exists() and (out / "tito" / "tool.py").exists()
    for left_out in (".git", ".tito", ".venv", "env311", "tests", "tinytorch/__pycache__"):
        assert not (out / left_out).exists(), left_out
    assert not (out / "x.egg-info").exists()
    assert not list(out.rglob("*.ipynb")) and not list(out.rglob(".ipynb_checkpoints"))
    assert not [p for p in out.parent.iterdir() if "tito-tmp" in p.name]  # staging cleaned up
    manifest = json.loads((out / "release.json").read_text())
    assert manifest["tito_version"] == __version__ and manifest["released_at"]
    entry = manifest["modules"]["01_alpha"]
    assert entry["file"] == "modules/01_alpha/alpha_dev.py"
    assert list(entry["cells"]) == ["test-double"]  # locked and graded only
    assert entry["points"] == {"test-double": 5.0, "answer": 1.0}
    assert entry["tests"] == {"test-double": ["test_double"], "answer": ["test_answer"]}
    locked = next(c for c in parse_cells(student) if c.nbgrader.get("grade_id") == "test-double")
    assert entry["cells"]["test-double"] == cell_fingerprint(locked)
    assert summary.stripped == {"01_alpha": 1} and summary.locked == {"01_alpha": ["test-double"]}
    in_release = [p for p in out.rglob("*") if p.is_file() and p.name != "release.json"]
    assert summary.files == len(in_release) + len(summary.removed)


def test_fingerprint_ignores_layout_noise_but_not_edits():
    header = '# %% nbgrader={"grade": true, "grade_id": "t", "locked": true, "points": 5}\n'
    body = "def test_t():\n    assert f(2) == 4\n"

    def fingerprint(text):
        return cell_fingerprint(parse_cells(text)[0])

    same = fingerprint(header + body)
    reordered = '# %% nbgrader={"points": 5, "locked": true, "grade_id": "t", "grade": true}\n'
    assert fingerprint(reordered + body + "\n\n") == same
    assert fingerprint((header + body).replace("\n", "\r\n")) == same
    assert fingerprint(header + body.replace("4\n", "4   \n")) == same
    assert fingerprint(header.replace('"points": 5', '"points": 50') + body) != same
    assert fingerprint(header + body.replace("== 4", "== 4 or True")) != same


def test_release_refuses_bad_destinations(course, tmp_path):
    out = tmp_path / "busy"
    (out / ".git").mkdir(parents=True)
    (out / ".git" / "HEAD").write_text("ref")
    (out / "old.txt").write_text("")
    with pytest.raises(TitoError, match="is not empty"):
        release_student(course, out)
    release_student(course, out, force=True)  # replaces the contents, keeps the clone's .git
    assert not (out / "old.txt").exists() and (out / ".git" / "HEAD").read_text() == "ref"
    assert (out / "release.json").exists()
    with pytest.raises(TitoError, match="inside the course"):
        release_student(course, course.root / "release")
    with pytest.raises(TitoError, match="contains the course"):
        release_student(course, tmp_path, force=True)
    assert course.modules["01_alpha"].source_path.exists()
    (tmp_path / "a-file").write_text("")
    with pytest.raises(TitoError, match="Could not write the release"):
        release_student(course, tmp_path / "a-file" / "release")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("    ### END SOLUTION\n", ""), r"alpha_dev\.py:6: .*never closed"),
        (
            lambda t: t.replace('"grade_id": "answer"', '"grade_id": "test-double"'),
            r"alpha_dev\.py:14: grade_id 'test-double' is already used by the cell on line 10",
        ),
    ],
    ids=["unbalanced", "duplicate-grade-id"],
)
def test_bad_module_writes_nothing(course, tmp_path, edit, message):
    source = course.modules["01_alpha"].source_path
    source.write_text(edit(source.read_text()))
    out = tmp_path / "never"
    result = CliRunner().invoke(app, ["--course", str(course.root), "release", "student", str(out)])
    assert result.exit_code == 2
    assert re.search(message, " ".join(result.output.split())), result.output
    assert not out.exists() and not [p for p in tmp_path.iterdir() if "tito-tmp" in p.name]


def test_cli_reports_what_it_wrote(course, tmp_path):
    out = tmp_path / "student"
    result = CliRunner().invoke(app, ["--course", str(course.root), "release", "student", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 solution blocks stripped in 1 modules" in result.output
    assert "1 locked test cells fingerprinted in release.json" in result.output


HIDDEN = '''
# %%
#| default_exp core.alpha
#| export
def double(x):
    """Twice x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-double", "locked": true, "points": 5}
async def test_double():
    assert double(2) == 4, "double(2) should be 4"
    ### BEGIN HIDDEN TESTS
    assert double(7) == 14, "HIDDEN-CHECK"
    ### END HIDDEN TESTS

# %% [markdown]
# **Q1 (memory).** How much memory does doubling a float32 array of n items take?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-memory", "solution": true}
# ### BEGIN SOLUTION
# MODEL-ANSWER: 4n bytes for the result.
# ### END SOLUTION
'''


def test_hidden_tests_and_answers_never_reach_the_copy(tmp_path):
    root = make_course(tmp_path / "course")
    add_module(root, "01_alpha", HIDDEN)
    summary = release_student(load_course(root), tmp_path / "out")
    copy = tmp_path / "out"
    everything = "".join(p.read_text(errors="replace") for p in copy.rglob("*") if p.is_file())
    for secret in ("HIDDEN-CHECK", "double(7)", "MODEL-ANSWER", "BEGIN HIDDEN", "2 * x"):
        assert secret not in everything, secret
    student = (copy / "modules" / "01_alpha" / "alpha_dev.py").read_text()
    assert "    # (hidden tests run here when your work is graded)\n" in student
    assert "# %% [markdown] nbgrader=" in student and "# YOUR ANSWER HERE\n" in student
    assert (summary.stripped, summary.answers, summary.hidden) == (
        {"01_alpha": 1},
        {"01_alpha": 1},
        {"01_alpha": 1},
    )
    # the async test is recorded (a regex over `def test_` missed it), hidden counts too
    entry = json.loads((copy / "release.json").read_text())["modules"]["01_alpha"]
    assert entry["tests"] == {"test-double": ["test_double"]}
    assert entry["hidden"] == {"test-double": 1}
    # the instructor's course keeps a record; the copy does not carry the records folder
    [record] = (root / "releases").glob("*.json")
    assert summary.record == record
    assert json.loads(record.read_text()) == json.loads((copy / "release.json").read_text())
    assert not (copy / "releases").exists()
    # in the copy, `tito module test` says hidden tests run at grading
    result = CliRunner().invoke(app, ["--course", str(copy), "module", "test", "01"])
    assert result.exit_code == 1  # the stub is not written yet
    assert "hidden tests" in result.output and "when your work is graded" in result.output


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("    ### END HIDDEN TESTS\n", ""),
            r"alpha_dev\.py:13: '### BEGIN HIDDEN TESTS' is never closed",
        ),
        (
            lambda t: t.replace(
                "# MODEL-ANSWER: 4n bytes for the result.\n# ### END SOLUTION\n", ""
            ),
            r"alpha_dev\.py:21: '### BEGIN SOLUTION' is never closed",
        ),
        (
            lambda t: t.replace("    ### BEGIN SOLUTION\n    return 2 * x\n", "    return 2 * x\n"),
            r"alpha_dev\.py:7: '### END SOLUTION' without",
        ),
        (
            lambda t: t.replace('"locked": true, "points": 5', '"locked": false, "points": 5'),
            r"alpha_dev\.py:13: hidden tests must stand inside a locked graded test cell",
        ),
        (
            lambda t: t.replace('    assert double(2) == 4, "double(2) should be 4"\n', ""),
            r"alpha_dev\.py:10: the test cell 'test-double' is not valid Python in the student",
        ),
    ],
    ids=["hidden-open", "answer-open", "end-alone", "hidden-unlocked", "hidden-only-body"],
)
def test_bad_markers_name_file_and_line(tmp_path, edit, message):
    root = make_course(tmp_path / "course")
    add_module(root, "01_alpha", edit(HIDDEN.lstrip("\n")))
    with pytest.raises(TitoError) as raised:
        release_student(load_course(root), tmp_path / "out")
    assert re.search(message, raised.value.message), raised.value.message
    assert not (tmp_path / "out").exists() and not (root / "releases").exists()
