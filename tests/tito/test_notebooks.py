"""Notebooks: a lossless round trip for every module, sync back, and a real kernel runs them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from tests.coursekit import add_module, make_course
from tito.cli.main import app
from tito.course.catalog import load_course
from tito.course.cells import parse_cells
from tito.course.notebooks import notebook_path, sync_notebook, write_notebook

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
