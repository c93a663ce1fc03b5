"""Student release: solutions stripped, package reduced, manifest; markers validated."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.coursekit import add_module, make_course
from tito.cli.main import app
from tito.course.catalog import load_course
from tito.course.errors import TitoError
from tito.course.export import plan_export, write_plan
from tito.course.release import release_student, strip_solutions

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
'''


def test_strip_keeps_indentation_and_counts():
    text, count = strip_solutions(
        "def f():\n    x = 1\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n", "f.py"
    )
    assert count == 1
    assert text == "def f():\n    x = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("### BEGIN SOLUTION\nx\n### BEGIN SOLUTION\n### END SOLUTION\n", 3),
        ("x = 1\n### END SOLUTION\n", 2),
        ("x = 1\n\n### BEGIN SOLUTION\nx\n", 3),
    ],
    ids=["nested", "end-without-begin", "never-closed"],
)
def test_unbalanced_markers_name_file_and_line(text, line):
    with pytest.raises(TitoError, match=rf"m\.py:{line}: "):
        strip_solutions(text, "m.py")


@pytest.fixture
def course(tmp_path):
    root = make_course(tmp_path / "course")
    add_module(root, "01_alpha", SOURCE, exports=["double"])
    course = load_course(root)
    write_plan(plan_export(course, course.modules["01_alpha"]))
    (root / "tinytorch" / "keep.py").write_text("KEEP = 1\n")  # exported by no module
    return course


def test_release_strips_reduces_and_fingerprints(course, tmp_path):
    out = tmp_path / "release"
    summary = release_student(course, out)
    student = (out / "modules" / "01_alpha" / "alpha_dev.py").read_text()
    assert "return 2 * x" not in student and "raise NotImplementedError()" in student
    assert not (out / "tinytorch" / "core" / "alpha.py").exists()
    assert (out / "tinytorch" / "keep.py").exists() and (out / "tinytorch" / "__init__.py").exists()
    assert not (out / ".tito").exists()
    manifest = json.loads((out / "release.json").read_text())
    entry = manifest["modules"]["01_alpha"]
    assert list(entry["cells"]) == ["test-double"] and entry["points"] == {"test-double": 5.0}
    assert summary.stripped == {"01_alpha": 1}


def test_release_refuses_non_empty_or_inside(course, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "x").write_text("")
    with pytest.raises(TitoError, match="is not empty"):
        release_student(course, out)
    release_student(course, out, force=True)
    assert not (out / "x").exists()
    with pytest.raises(TitoError, match="inside the course"):
        release_student(course, course.root / "release")


def test_bad_markers_write_nothing(course, tmp_path):
    source = course.modules["01_alpha"].source_path
    source.write_text(source.read_text().replace("    ### END SOLUTION\n", ""))
    out = tmp_path / "never"
    result = CliRunner().invoke(app, ["--course", str(course.root), "release", "student", str(out)])
    assert result.exit_code == 2 and "is never closed" in result.output
    assert not out.exists()
