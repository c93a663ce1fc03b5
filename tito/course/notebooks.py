"""Module files as Jupyter notebooks, with jupytext: .py (percent format) <-> .ipynb.

The .py file is what tito tests, exports and grades; the notebook is a second place to edit
it. Jupytext maps each `# %%` header to a cell: the `[markdown]` kind to a markdown cell, and
`key=<JSON>` pairs to the cell's metadata, so `# %% nbgrader={...}` becomes
`cell.metadata["nbgrader"]` and comes back written the same way.

The round trip .py -> .ipynb -> .py is exact for every module, with one normalisation that no
jupytext option removes: writing a .py, jupytext stamps `format_version` and
`jupytext_version` into the YAML header. So the .py's own header is kept as it was: a kernel
chosen in Jupyter is not written back, everything below the header is.

`write_notebook` records two fingerprints in the notebook's metadata: the SHA-256 of the .py
as it was, and of its cells (everything below the header). Later, comparing them tells which
side changed since (`notebook_state`):

- only the notebook: its edits are brought into the .py (`sync_from_notebook_if_newer`, which
  `tito module test/complete` call first), so the student's work is what runs;
- only the .py: the notebook is out of date and the .py is used;
- both, differently: tito refuses and names both files and the commands that pick a side.

Nothing here overwrites work: `write_notebook` refuses to replace a notebook holding edits the
.py does not have, and `sync_notebook` one whose .py changed since, unless forced.

The comparison itself (`compare_notebook`) works on texts and reads or writes no file: grading
asks it about a submission, which it must never write into (see `sandbox.py`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from tito.course import files
from tito.course.catalog import ModuleSpec
from tito.course.cells import parse_cells, render_cells
from tito.course.errors import CHECK_FAILED, TitoError

PY_FORMAT = "py:percent"
# notebook metadata: {"source": "<file>", "source_sha256": "...", "cells_sha256": "..."}
METADATA_KEY = "tito"
# Cell metadata that Jupyter front ends add while a student works (collapsing a cell, running
# it, locking it in the UI). Not course content: dropped before a notebook becomes a .py, so
# opening and running a notebook does not count as an edit.
UI_METADATA = frozenset(
    {
        "collapsed",
        "scrolled",
        "execution",
        "ExecuteTime",
        "jupyter",
        "editable",
        "deletable",
        "trusted",
        "vscode",
    }
)

# The states `notebook_state` reports.
NO_NOTEBOOK = "no_notebook"
IN_SYNC = "in_sync"
NOTEBOOK_NEWER = "notebook_newer"
SOURCE_NEWER = "source_newer"
CONFLICT = "conflict"


@dataclass(frozen=True)
class SyncResult:
    """Which side of a module holds the work, and what was done about it.

    `state` is one of NO_NOTEBOOK, IN_SYNC, NOTEBOOK_NEWER (after a sync: `synced` is True),
    SOURCE_NEWER or CONFLICT; `message` is one line for the user ("" when nothing to say).
    """

    state: str
    source: Path
    notebook: Path
    message: str = ""
    synced: bool = False

    @property
    def conflict(self) -> bool:
        return self.state == CONFLICT

    def error(self) -> TitoError:
        """The refusal for a conflict: both files named, and the commands that pick a side."""
        module_id = self.source.parent.name
        return TitoError(
            f"Both {self.source.name} and {self.notebook.name} were edited since the notebook "
            "was written, and they differ; tito will not guess which one holds your work.",
            hint=(
                f"Keep the notebook: `tito notebook {module_id} --sync --force`. "
                f"Keep the .py: `tito notebook {module_id} --force` (rewrites the notebook). "
                f"Files: {self.source} and {self.notebook}."
            ),
            exit_code=CHECK_FAILED,
        )


def _jupytext():
    """The jupytext module; without it, one TitoError that says how to install it."""
    try:
        import jupytext
    except ImportError:
        raise TitoError(
            "Notebooks need jupytext, which is not installed in this environment.",
            hint='Install it: pip install jupytext (it comes with pip install -e ".[dev]").',
        ) from None
    return jupytext


def notebook_path(module: ModuleSpec | Path) -> Path:
    """`modules/NN_name/name_dev.ipynb`, beside the module file."""
    source = module if isinstance(module, Path) else module.source_path
    return source.with_suffix(".ipynb")


def to_notebook(text: str):
    """A module file's text as an nbformat notebook."""
    jupytext = _jupytext()

    return jupytext.reads(text, fmt=PY_FORMAT)


def to_python(notebook, original: str | None = None) -> str:
    """A notebook as module-file text; `original`'s YAML header is kept (see the docstring)."""
    jupytext = _jupytext()

    notebook.metadata.pop(METADATA_KEY, None)
    for cell in notebook.cells:
        for key in UI_METADATA & set(cell.metadata):
            del cell.metadata[key]
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
    text = jupytext.writes(notebook, fmt=PY_FORMAT)
    return keep_header(original, text) if original is not None else text


def write_notebook(module: ModuleSpec, *, force: bool = False) -> Path:
    """Write `<name>_dev.ipynb` beside the module file and return its path.

    A notebook holding edits that the .py does not have is not replaced unless `force`.
    """
    jupytext = _jupytext()

    path = notebook_path(module)
    state = notebook_state(module.source_path)
    if state.conflict and not force:
        raise state.error()
    if state.state == NOTEBOOK_NEWER and not force:
        raise TitoError(
            f"{path.name} holds edits that {module.file} does not have; writing the notebook "
            "again would lose them.",
            hint=f"Bring them into the .py with `tito notebook {module.id} --sync`, or add "
            "--force to replace the notebook with the .py.",
            exit_code=CHECK_FAILED,
        )
    text = files.read_text(module.source_path, what="The module file")
    # Fingerprint the notebook's own conversion back to a .py, not the .py itself: for a file
    # jupytext would format differently, an untouched notebook must still count as untouched.
    converted = to_python(to_notebook(text), text)
    notebook = to_notebook(text)
    notebook.metadata[METADATA_KEY] = _fingerprints(module.file, text, converted)
    files.write_atomic(path, jupytext.writes(notebook, fmt="ipynb"))
    return path


def ensure_notebook(module: ModuleSpec) -> tuple[Path, str]:
    """The module's notebook, written only when missing or out of date; plus a note.

    A notebook that is current is left alone (so its outputs stay); one holding edits is
    never replaced: tito brings them in when the module is tested.
    """
    state = notebook_state(module.source_path)
    if state.state in (NO_NOTEBOOK, SOURCE_NEWER):
        return write_notebook(module), ""
    if state.state == NOTEBOOK_NEWER:
        note = (
            f"Kept {state.notebook.name}: it holds edits that {module.file} does not have yet "
            "(test and complete bring them in)."
        )
        return state.notebook, note
    if state.conflict:
        return state.notebook, f"Kept {state.notebook.name}. {state.error()}"
    return state.notebook, ""


def sync_notebook(module: ModuleSpec, *, force: bool = False) -> Path:
    """Bring the notebook's content back into the .py file (the notebook must exist)."""
    path = notebook_path(module)
    if not path.is_file():
        raise TitoError(
            f"{path.name} does not exist yet.",
            hint=f"Create it with `tito notebook {module.id}`, edit it, then sync.",
        )
    notebook = read_notebook(path)
    original = files.read_text(module.source_path, what="The module file")
    recorded = notebook.metadata.get(METADATA_KEY, {}).get("source_sha256")
    if recorded and recorded != _sha256(original) and not force:
        raise TitoError(
            f"{module.file} changed after {path.name} was written; syncing would lose those "
            "changes.",
            hint=f"Write the notebook again (`tito notebook {module.id} --force`), or add "
            "--force to overwrite the .py with the notebook.",
            exit_code=CHECK_FAILED,
        )
    _sync(module.source_path, path, notebook, original)
    return module.source_path


def notebook_state(source: Path) -> SyncResult:
    """Compare a module file with the notebook beside it; reads only, writes nothing."""
    source = Path(source)
    path = notebook_path(source)
    if not path.is_file():
        return SyncResult(NO_NOTEBOOK, source, path)
    notebook = read_notebook(path)
    original = files.read_text(source, what="The module file")
    state, _ = compare_notebook(original, notebook)
    if state == SOURCE_NEWER:
        return SyncResult(
            SOURCE_NEWER,
            source,
            path,
            f"{path.name} is older than {source.name}; using the .py "
            f"(`tito notebook {source.parent.name}` writes the notebook again).",
        )
    return SyncResult(state, source, path)


def compare_notebook(original: str, notebook) -> tuple[str, str]:
    """Which side changed since tito wrote the notebook: IN_SYNC, NOTEBOOK_NEWER, SOURCE_NEWER
    or CONFLICT, and the notebook as module-file text (`original`'s header kept).

    Works on what it is given and touches no file. A notebook without tito's fingerprints (not
    written by tito) counts as CONFLICT unless it converts to `original`'s cells.
    """
    recorded = notebook.metadata.get(METADATA_KEY, {})  # read first: to_python drops it
    text = to_python(notebook, original)
    if _cells_sha256(text) == _cells_sha256(original):
        return IN_SYNC, text
    source_changed = recorded.get("source_sha256") != _sha256(original)
    notebook_changed = recorded.get("cells_sha256") != _cells_sha256(text)
    if "cells_sha256" not in recorded:
        # Written by an older tito (one fingerprint): the notebook changed if the .py did not.
        notebook_changed = not source_changed or not recorded
    if not notebook_changed and not source_changed:
        return IN_SYNC, text  # a conversion quirk, not an edit
    if notebook_changed and not source_changed:
        return NOTEBOOK_NEWER, text
    if source_changed and not notebook_changed:
        return SOURCE_NEWER, text
    return CONFLICT, text


def sync_from_notebook_if_newer(source: Path) -> SyncResult:
    """Bring a notebook's edits into its module file when only the notebook changed.

    The one call tito's test and complete make before running a module file: after it, unless
    the result is a conflict, the .py holds the student's latest work. It needs no course; a
    conflict is returned, not raised (`error()`). Grading compares the same way but writes
    nothing (`compare_notebook`).
    """
    state = notebook_state(source)
    if state.state != NOTEBOOK_NEWER:
        return state
    notebook = read_notebook(state.notebook)
    original = files.read_text(state.source, what="The module file")
    _sync(state.source, state.notebook, notebook, original)
    return SyncResult(
        NOTEBOOK_NEWER,
        state.source,
        state.notebook,
        f"Using your notebook: brought the edits in {state.notebook.name} into "
        f"{state.source.name}.",
        synced=True,
    )


def read_notebook(path: Path):
    """An .ipynb file as an nbformat notebook; a broken file is one TitoError."""
    return parse_notebook(files.read_text(path, what="The notebook"), str(path))


def parse_notebook(text: str, shown: str):
    """The text of an .ipynb file as an nbformat notebook; `shown` names it in an error."""
    jupytext = _jupytext()
    try:
        return jupytext.reads(text, fmt="ipynb")
    except Exception as error:  # noqa: BLE001 - nbformat raises several types for bad files
        raise TitoError(
            f"{shown} is not a readable notebook ({error}).",
            hint="Save it again in Jupyter (a half-saved file looks like this), then retry.",
        ) from None


def _sync(source: Path, path: Path, notebook, original: str) -> None:
    """Write the notebook's code into `source`; record in the notebook that both now match."""
    jupytext = _jupytext()

    text = to_python(notebook, original)
    if text != original:
        files.write_atomic(source, text)
    notebook.metadata[METADATA_KEY] = _fingerprints(source.name, text, text)
    files.write_atomic(path, jupytext.writes(notebook, fmt="ipynb"))


def _fingerprints(file: str, source_text: str, notebook_text: str) -> dict:
    """The .py as written, and the notebook's cells as they convert back to a .py."""
    return {
        "source": file,
        "source_sha256": _sha256(source_text),
        "cells_sha256": _cells_sha256(notebook_text),
    }


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


def _cells_sha256(text: str) -> str:
    """The fingerprint of everything below the YAML header (Jupyter may rewrite the header)."""
    cells = parse_cells(text)
    if cells and cells[0].kind == "preamble":
        cells = cells[1:]
    return _sha256(render_cells(cells))
