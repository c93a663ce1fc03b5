"""Module files as Jupyter notebooks, with jupytext: .py (percent format) <-> .ipynb.

The .py file stays the source of truth. Converting to a notebook keeps cells, markdown and the
nbgrader metadata of the cell headers; `sync_notebook` brings edits made in the notebook back.
jupytext stamps its own version into the YAML header; we keep the .py file's header as it was,
so a round trip without edits changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from tito.course.catalog import ModuleSpec
from tito.course.cells import parse_cells, render_cells
from tito.course.errors import TitoError
from tito.course.progress import write_atomic


def notebook_path(module: ModuleSpec) -> Path:
    return module.source_path.with_suffix(".ipynb")


def write_notebook(module: ModuleSpec) -> Path:
    """Write `<name>_dev.ipynb` beside the module file and return its path."""
    import jupytext

    text = _read(module.source_path)
    notebook = jupytext.reads(text, fmt="py:percent")
    path = notebook_path(module)
    write_atomic(path, jupytext.writes(notebook, fmt="ipynb"))
    return path


def sync_notebook(module: ModuleSpec) -> Path:
    """Bring the notebook's content back into the .py file (the notebook must exist)."""
    import jupytext

    path = notebook_path(module)
    if not path.is_file():
        raise TitoError(
            f"{path.name} does not exist yet.",
            hint=f"Create it with `tito notebook {module.id}`, edit it, then sync.",
        )
    try:
        notebook = jupytext.reads(_read(path), fmt="ipynb")
    except Exception as error:  # noqa: BLE001 - nbformat raises several types for bad files
        raise TitoError(f"{path} is not a readable notebook ({error}).") from None
    text = keep_header(_read(module.source_path), jupytext.writes(notebook, fmt="py:percent"))
    write_atomic(module.source_path, text)
    return module.source_path


def keep_header(original: str, converted: str) -> str:
    """`converted` with the YAML preamble of `original` (jupytext rewrites its version lines)."""
    old, new = parse_cells(original), parse_cells(converted)
    if old and new and old[0].kind == new[0].kind == "preamble":
        new[0] = old[0]
    return render_cells(new)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TitoError(f"{path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TitoError(f"{path} cannot be read ({error}).") from None
