"""Notebooks: a lossless round trip for every module, and a real kernel runs one."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from tests.coursekit import add_module, make_course
from tito.cli.main import app
from tito.course.catalog import load_course
from tito.course.notebooks import notebook_path, sync_notebook, write_notebook

ROOT = Path(__file__).resolve().parents[2]
MODULES = list(load_course(ROOT).modules.values())


@pytest.mark.parametrize("module", MODULES, ids=[m.id for m in MODULES])
def test_round_trip_is_lossless(tmp_path, module):
    folder = tmp_path / module.id
    folder.mkdir()
    copy = folder / module.file
    copy.write_text(module.source_path.read_text())
    spec = type(module)(**{**module.__dict__, "folder": folder})
    notebook = nbformat.read(write_notebook(spec), as_version=4)
    graded = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded, "nbgrader metadata reaches the notebook's cells"
    sync_notebook(spec)
    assert copy.read_text() == module.source_path.read_text()


def test_edit_in_notebook_syncs_back_and_cli(tmp_path):
    root = make_course(tmp_path / "course")
    add_module(
        root,
        "01_alpha",
        """
        # %% [markdown]
        # Alpha

        # %%
        def test_alpha():
            print("ALPHA-RAN")

        if __name__ == "__main__":
            test_alpha()
        """,
    )
    runner = CliRunner()
    assert runner.invoke(app, ["--course", str(root), "notebook", "01"]).exit_code == 0
    spec = load_course(root).modules["01_alpha"]
    notebook = nbformat.read(notebook_path(spec), as_version=4)
    notebook.cells[0].source = "Alpha, edited in Jupyter"
    nbformat.write(notebook, notebook_path(spec))
    result = runner.invoke(app, ["--course", str(root), "notebook", "01", "--sync"])
    assert result.exit_code == 0, result.output
    assert "# Alpha, edited in Jupyter" in spec.source_path.read_text()


def test_generated_notebook_executes_in_a_real_kernel(tmp_path):
    nbclient = pytest.importorskip("nbclient")
    source = ROOT / "modules" / "01_tensor"
    spec = load_course(ROOT).modules["01_tensor"]
    folder = tmp_path / "01_tensor"
    folder.mkdir()
    (folder / spec.file).write_text((source / spec.file).read_text())
    copy = type(spec)(**{**spec.__dict__, "folder": folder})
    notebook = nbformat.read(write_notebook(copy), as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    printed = "".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )
    assert "All tests passed for module 01_tensor." in printed
