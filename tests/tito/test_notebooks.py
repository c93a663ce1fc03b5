"""Notebooks: a lossless round trip for every module, sync back, and a real kernel runs them."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from typer.testing import CliRunner

from tests.coursekit import add_module, make_course
from tito.cli.main import app
from tito.course.catalog import load_course
from tito.course.cells import parse_cells
from tito.course.notebooks import (
    IN_SYNC,
    NO_NOTEBOOK,
    NOTEBOOK_NEWER,
    notebook_path,
    sync_from_notebook_if_newer,
    sync_notebook,
    write_notebook,
)

ROOT = Path(__file__).resolve().parents[2]
MODULES = list(load_course(ROOT).modules.values())
FIXTURE = """
# %% [markdown]
# # Alpha
# A fixture module that imports the course's own package.

# %% nbgrader={"grade": false, "grade_id": "alpha", "locked": false, "solution": true}
from tinytorch.core.alpha import double

# %% nbgrader={"grade": true, "grade_id": "test-alpha", "locked": true, "points": 2}
def test_alpha():
    assert double(21) == 42
    print("ALPHA-TEST-RAN")

if __name__ == "__main__":
    test_alpha()
"""


def copy_module(module, tmp_path):
    """The module file alone in a temporary folder, and a spec pointing at it."""
    folder = tmp_path / module.id
    folder.mkdir()
    (folder / module.file).write_bytes(module.source_path.read_bytes())
    return dataclasses.replace(module, folder=folder)


@pytest.mark.parametrize("module", MODULES, ids=[m.id for m in MODULES])
def test_round_trip_is_lossless(tmp_path, module):
    spec = copy_module(module, tmp_path)
    notebook = nbformat.read(write_notebook(spec), as_version=4)
    # every cell header's nbgrader metadata becomes that cell's metadata
    headers = [c.nbgrader for c in parse_cells(spec.source_path.read_text()) if c.nbgrader]
    assert [c.metadata["nbgrader"] for c in notebook.cells if "nbgrader" in c.metadata] == headers
    assert any(c.cell_type == "markdown" for c in notebook.cells)
    sync_notebook(spec)
    assert spec.source_path.read_bytes() == module.source_path.read_bytes()


@pytest.fixture
def course(tmp_path):
    root = make_course(tmp_path / "course")
    (root / "tinytorch" / "core").mkdir()
    (root / "tinytorch" / "core" / "__init__.py").write_text("")
    (root / "tinytorch" / "core" / "alpha.py").write_text("def double(x):\n    return 2 * x\n")
    add_module(root, "01_alpha", FIXTURE)
    return load_course(root)


def test_edit_in_notebook_syncs_back_through_the_cli(course):
    runner = CliRunner()
    result = runner.invoke(app, ["--course", str(course.root), "notebook", "01"])
    assert result.exit_code == 0, result.output
    spec = course.modules["01_alpha"]
    notebook = nbformat.read(notebook_path(spec), as_version=4)
    notebook.cells[0].source = "# Alpha\nEdited in Jupyter."
    nbformat.write(notebook, notebook_path(spec))
    result = runner.invoke(app, ["--course", str(course.root), "notebook", "01", "--sync"])
    assert result.exit_code == 0, result.output
    text = spec.source_path.read_text()
    assert "# # Alpha\n# Edited in Jupyter.\n" in text
    assert text.count("nbgrader=") == 2 and text.endswith("    test_alpha()\n")


def test_sync_refuses_to_lose_edits_made_to_the_py(course):
    spec = course.modules["01_alpha"]
    write_notebook(spec)
    edited = spec.source_path.read_text().replace("double(21)", "double(20) + 2")
    spec.source_path.write_text(edited)
    runner = CliRunner()
    refused = runner.invoke(app, ["--course", str(course.root), "notebook", "01", "--sync"])
    assert refused.exit_code == 1 and "changed after" in refused.output
    assert spec.source_path.read_text() == edited
    forced = runner.invoke(
        app, ["--course", str(course.root), "notebook", "01", "--sync", "--force"]
    )
    assert forced.exit_code == 0 and "double(21)" in spec.source_path.read_text()


def execute(notebook_file: Path, cwd: Path) -> str:
    """Run a notebook in a real ipykernel with `cwd` as its working folder; all its output."""
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(notebook_file, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return "".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )


def test_fixture_notebook_runs_its_tests_in_a_real_kernel(course):
    # The kernel starts in the course root, so `tinytorch` is this course's package.
    printed = execute(write_notebook(course.modules["01_alpha"]), course.root)
    assert "ALPHA-TEST-RAN" in printed


def test_tensor_notebook_runs_its_tests_in_a_real_kernel(tmp_path):
    spec = copy_module(load_course(ROOT).modules["01_tensor"], tmp_path)
    printed = execute(write_notebook(spec), ROOT)
    assert "All tests passed for module 01_tensor." in printed


# -- the notebook as the place the student works ------------------------------------------

STUB = """
# %% nbgrader={"grade": false, "grade_id": "impl", "locked": false, "solution": true}
def triple(x):
    ### BEGIN SOLUTION
    raise NotImplementedError()
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test-triple", "locked": true, "points": 1}
def test_triple():
    assert triple(2) == 6

if __name__ == "__main__":
    test_triple()
"""


@pytest.fixture
def stub_course(tmp_path):
    root = make_course(tmp_path / "course")
    add_module(root, "01_triple", STUB)
    return load_course(root)


def edit_notebook(spec, old: str, new: str) -> None:
    """What a student does in Jupyter: change a cell's code and save."""
    notebook = nbformat.read(notebook_path(spec), as_version=4)
    cell = next(c for c in notebook.cells if old in c.source)
    cell.source = cell.source.replace(old, new)
    cell.outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    cell.execution_count = 3
    cell.metadata["collapsed"] = False  # what a front end adds; not an edit
    nbformat.write(notebook, notebook_path(spec))


def invoke(course, *args):
    return CliRunner().invoke(app, ["--course", str(course.root), *args])


def test_complete_uses_the_notebook_when_only_it_was_edited(stub_course):
    spec = stub_course.modules["01_triple"]
    started = invoke(stub_course, "module", "start", "01", "--notebook")
    assert started.exit_code == 0, started.output
    assert "triple_dev.ipynb" in started.output and notebook_path(spec).is_file()
    edit_notebook(spec, "raise NotImplementedError()", "return 3 * x")
    result = invoke(stub_course, "module", "complete", "01")
    assert result.exit_code == 0, result.output
    assert "Using your notebook" in result.output and "Completed 01_triple" in result.output
    assert "return 3 * x" in spec.source_path.read_text()
    # the notebook now matches the .py: the next run says nothing about it
    again = invoke(stub_course, "module", "test", "01")
    assert again.exit_code == 0 and "notebook" not in again.output


def test_edits_on_both_sides_are_refused_naming_both(stub_course):
    spec = stub_course.modules["01_triple"]
    write_notebook(spec)
    edit_notebook(spec, "raise NotImplementedError()", "return 3 * x")
    py_text = spec.source_path.read_text().replace("raise NotImplementedError()", "return x * 3")
    spec.source_path.write_text(py_text)
    for command in (["module", "test", "01"], ["module", "complete", "01"]):
        result = invoke(stub_course, *command)
        assert result.exit_code == 1, result.output
        assert "triple_dev.py" in result.output and "triple_dev.ipynb" in result.output
        assert "tito notebook 01_triple --sync --force" in result.output
        assert "Traceback" not in result.output
    assert spec.source_path.read_text() == py_text  # nothing was overwritten
    # picking the notebook's side resolves it
    assert invoke(stub_course, "notebook", "01", "--sync", "--force").exit_code == 0
    assert invoke(stub_course, "module", "complete", "01").exit_code == 0


def test_a_newer_py_is_used_and_the_stale_notebook_named(stub_course):
    spec = stub_course.modules["01_triple"]
    write_notebook(spec)
    spec.source_path.write_text(
        spec.source_path.read_text().replace("raise NotImplementedError()", "return 3 * x")
    )
    result = invoke(stub_course, "module", "test", "01")
    assert result.exit_code == 0, result.output
    assert "older than triple_dev.py" in result.output
    # nothing holds edits the .py lacks, so writing the notebook again is allowed
    assert invoke(stub_course, "notebook", "01").exit_code == 0


def test_start_and_notebook_never_overwrite_notebook_edits(stub_course):
    spec = stub_course.modules["01_triple"]
    write_notebook(spec)
    edit_notebook(spec, "raise NotImplementedError()", "return 3 * x")
    edited = notebook_path(spec).read_bytes()
    started = invoke(stub_course, "module", "start", "01", "--notebook")
    assert started.exit_code == 0, started.output
    assert "Kept triple_dev.ipynb" in started.output
    refused = invoke(stub_course, "notebook", "01")
    assert refused.exit_code == 1 and "would lose them" in refused.output
    assert notebook_path(spec).read_bytes() == edited
    assert invoke(stub_course, "notebook", "01", "--force").exit_code == 0
    assert "return 3 * x" not in notebook_path(spec).read_text()


def test_sync_from_notebook_if_newer_needs_only_a_folder(tmp_path, stub_course):
    """What grading calls on a submission: a module file and a notebook, no course object."""
    spec = stub_course.modules["01_triple"]
    write_notebook(spec)
    assert sync_from_notebook_if_newer(spec.source_path).state == IN_SYNC
    edit_notebook(spec, "raise NotImplementedError()", "return 3 * x")
    result = sync_from_notebook_if_newer(spec.source_path)
    assert result.synced and result.state == NOTEBOOK_NEWER and not result.conflict
    assert "return 3 * x" in spec.source_path.read_text()
    lone = tmp_path / "lone" / "x_dev.py"
    lone.parent.mkdir()
    lone.write_text("x = 1\n")
    assert sync_from_notebook_if_newer(lone).state == NO_NOTEBOOK


def test_a_notebook_tito_did_not_write_is_never_guessed(stub_course):
    spec = stub_course.modules["01_triple"]
    notebook = jupytext.reads(spec.source_path.read_text().replace("raise", "return 1 #"), "py")
    nbformat.write(notebook, notebook_path(spec))
    result = sync_from_notebook_if_newer(spec.source_path)
    assert result.conflict and "triple_dev.ipynb" in str(result.error())


def test_a_half_saved_notebook_is_one_sentence(stub_course):
    spec = stub_course.modules["01_triple"]
    notebook_path(spec).write_text('{"cells": [')
    result = invoke(stub_course, "module", "test", "01")
    assert result.exit_code == 2 and "not a readable notebook" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", [["notebook", "01"], ["notebook", "01", "--sync"]])
def test_notebooks_without_jupytext_are_one_sentence(course, monkeypatch, args):
    """A broken environment (jupytext uninstalled): each notebook path says how to fix it."""
    runner = CliRunner()
    if args[-1] == "--sync":
        assert runner.invoke(app, ["--course", str(course.root), "notebook", "01"]).exit_code == 0
    monkeypatch.setitem(sys.modules, "jupytext", None)  # every import of it now fails
    result = runner.invoke(app, ["--course", str(course.root), *args])
    assert result.exit_code == 2, result.output
    assert "need jupytext" in result.output and "pip install jupytext" in result.output
    assert "Traceback" not in result.output
