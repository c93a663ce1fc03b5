"""Module files as Jupyter notebooks, with jupytext: .py (percent format) <-> .ipynb.

The .py file stays the source of truth. Jupytext maps each `# %%` header to a cell: the
`[markdown]` kind to a markdown cell, and `key=<JSON>` pairs to the cell's metadata, so
`# %% nbgrader={...}` becomes `cell.metadata["nbgrader"]` and comes back written the same way.

The round trip .py -> .ipynb -> .py is exact for every module, with one normalisation that no
jupytext option removes: writing a .py, jupytext stamps `format_version` and
`jupytext_version` into the YAML header (a metadata filter that drops them is itself written
into the header). So `sync_notebook` keeps the .py's own header as it was: a kernel chosen in
Jupyter is not written back, everything below the header is.

`write_notebook` records the SHA-256 of the .py in the notebook's metadata; `sync_notebook`
refuses to overwrite a .py that changed since (unless forced), so edits made on both sides are
never silently lost.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tito.course.catalog import ModuleSpec
from tito.course.cells import parse_cells, render_cells
from tito.course.errors import CHECK_FAILED, TitoError
from tito.course.progress import write_atomic

PY_FORMAT = "py:percent"
METADATA_KEY = "tito"  # notebook metadata: {"source": "<file>", "source_sha256": "..."}


def notebook_path(module: ModuleSpec) -> Path:
    """`modules/NN_name/name_dev.ipynb`, beside the module file."""
    return module.source_path.with_suffix(".ipynb")


def to_notebook(text: str):
    """A module file's text as an nbformat notebook."""
    import jupytext

    return jupytext.reads(text, fmt=PY_FORMAT)


def to_python(notebook, original: str | None = None) -> str:
    """A notebook as module-file text; `original`'s YAML header is kept (see the docstring)."""
    import jupytext

    notebook.metadata.pop(METADATA_KEY, None)
    text = jupytext.writes(notebook, fmt=PY_FORMAT)
    return keep_header(original, text) if original is not None else text


def write_notebook(module: ModuleSpec) -> Path:
    """Write `<name>_dev.ipynb` beside the module file and return its path."""
    import jupytext

    text = _read(module.source_path)
    notebook = to_notebook(text)
    notebook.metadata[METADATA_KEY] = {"source": module.file, "source_sha256": _sha256(text)}
    path = notebook_path(module)
    write_atomic(path, jupytext.writes(notebook, fmt="ipynb"))
    return path


def sync_notebook(module: ModuleSpec, *, force: bool = False) -> Path:
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
    except TitoError:
        raise
    except Exception as error:  # noqa: BLE001 - nbformat raises several types for bad files
        raise TitoError(f"{path} is not a readable notebook ({error}).") from None
    original = _read(module.source_path)
    recorded = notebook.metadata.get(METADATA_KEY, {}).get("source_sha256")
    if recorded and recorded != _sha256(original) and not force:
        raise TitoError(
            f"{module.file} changed after {path.name} was written; syncing would lose those "
            "changes.",
            hint=f"Write the notebook again (`tito notebook {module.id}`), or add --force to "
            "overwrite the .py with the notebook.",
            exit_code=CHECK_FAILED,
        )
    text = to_python(notebook, original)
    if text != original:
        write_atomic(module.source_path, text)
    # The notebook now matches the .py: record that, so a second sync is not refused.
    notebook.metadata[METADATA_KEY] = {"source": module.file, "source_sha256": _sha256(text)}
    write_atomic(path, jupytext.writes(notebook, fmt="ipynb"))
    return module.source_path


def keep_header(original: str, converted: str) -> str:
    """`converted` with the YAML preamble of `original` (jupytext rewrites its version lines)."""
    old, new = parse_cells(original), parse_cells(converted)
    old_header = old[0] if old and old[0].kind == "preamble" else None
    new_header = new[0] if new and new[0].kind == "preamble" else None
    if new_header is not None:
        new = new[1:]
    if old_header is not None:
        new = [old_header, *new]
    return render_cells(new)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise TitoError(f"{path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TitoError(f"{path} cannot be read ({error}).") from None
