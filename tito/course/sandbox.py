"""The grading sandbox: a scratch course that holds only what one grade needs.

- `tinytorch/`: the hand-written part of the instructor's package plus the modules that come
  before the graded one, exported in the sandbox either from the instructor's files (the
  reference package, the default) or from the student's own files (`--cumulative`). Never the
  submission's `tinytorch/`, so a grade does not depend on whether the student ran `complete`.
- `modules/<id>/<file>`: the file that is run, built by grading (the student's cells with the
  instructor's test cells).

Also here: finding a module's file in a submission (a course copy or a folder of files), and
reading a notebook submission (`*_dev.ipynb`) as percent-format text.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tito.course import files
from tito.course.catalog import Course, ModuleSpec
from tito.course.errors import TitoError
from tito.course.release import skip_names


@dataclass(frozen=True)
class Submitted:
    """The text of a module file as handed in, and where it came from."""

    text: str
    path: Path  # the file that was read (.py or .ipynb)
    warnings: tuple[str, ...] = ()


# ── finding a module's file in a submission ──


def find_submission(folder: Path, module: ModuleSpec) -> Submitted | None:
    """The module's file in `folder`: at its course path, or anywhere below (a flat upload).

    When a notebook sits beside the .py and holds edits the .py lacks, the notebook is graded
    (a student who worked only in Jupyter); None when neither exists.
    """
    stem = Path(module.file).stem
    python = _find(folder, module, module.file)
    notebook = python.with_suffix(".ipynb") if python else _find(folder, module, f"{stem}.ipynb")
    if notebook is not None and not notebook.is_file():
        notebook = None
    if python is None and notebook is None:
        return None
    if notebook is None:
        return Submitted(_read(python), python)
    if python is None:
        return Submitted(notebook_text(notebook), notebook)
    return _newer_of(python, notebook)


def _find(folder: Path, module: ModuleSpec, name: str) -> Path | None:
    for candidate in (folder / "modules" / module.id / name, folder / name):
        if candidate.is_file():
            return candidate
    found = []
    for directory, folders, names in os.walk(folder):
        # Hidden folders, virtual environments and zip debris never hold the submission.
        folders[:] = [
            f
            for f in folders
            if not f.startswith(".")
            and f not in ("__MACOSX", "__pycache__", "node_modules")
            and not os.path.exists(os.path.join(directory, f, "pyvenv.cfg"))
        ]
        if name in names:
            found.append(Path(directory) / name)
    return min(found, key=lambda p: (len(p.parts), str(p))) if found else None


def _newer_of(python: Path, notebook: Path) -> Submitted:
    """The .py, unless the notebook holds edits it lacks (see `find_submission`).

    The same comparison as `tito module test` makes (`notebooks.compare_notebook`), but
    grading never brings the notebook's edits into the .py: a submission is read, never
    written. Where tito would refuse (both sides edited, or a notebook tito did not write
    that differs), grading cannot ask the student, so the newer file is graded and a warning
    says so.
    """
    from tito.course.notebooks import CONFLICT, METADATA_KEY, NOTEBOOK_NEWER, compare_notebook

    text = _read(python)
    try:
        book = _read_notebook(notebook)
        fingerprinted = bool(book.metadata.get(METADATA_KEY))
        state, converted = compare_notebook(text, book)
    except TitoError as error:
        return Submitted(text, python, (f"{notebook.name} was not read ({error.message}).",))
    newer = notebook.stat().st_mtime > python.stat().st_mtime
    if state == NOTEBOOK_NEWER or (state == CONFLICT and not fingerprinted and newer):
        return Submitted(
            converted, notebook, (f"Graded {notebook.name}: it holds edits {python.name} lacks.",)
        )
    if state != CONFLICT:
        return Submitted(text, python)  # in step, or only the .py was edited since
    if newer:
        return Submitted(
            converted,
            notebook,
            (f"Both {python.name} and {notebook.name} were edited; graded the newer notebook.",),
        )
    return Submitted(
        text, python, (f"Both {python.name} and {notebook.name} were edited; graded the .py.",)
    )


def notebook_text(path: Path) -> str:
    """A notebook's cells as percent-format text (jupytext)."""
    from tito.course.notebooks import to_python

    return to_python(_read_notebook(path))


def _read_notebook(path: Path):
    from tito.course.notebooks import parse_notebook

    return parse_notebook(_read(path), path.name)


def _read(path: Path) -> str:
    return files.read_text(path, failure=f"{path.name} cannot be read as UTF-8 text")


# ── the package ──


def sandbox_course(course: Course, root: Path) -> Course:
    """`course`'s modules re-rooted at `root` (files need not exist there)."""
    modules = {
        mid: dataclasses.replace(spec, folder=root / "modules" / mid)
        for mid, spec in course.modules.items()
    }
    return Course(root=root, modules=modules, milestones={})


def earlier_modules(course: Course, module: ModuleSpec) -> list[ModuleSpec]:
    """Every module before `module` in course order, and its prerequisites wherever they
    stand: what a student who reached `module` has exported."""
    order = list(course.modules)
    wanted = set(order[: order.index(module.id)])
    wanted.update(spec.id for spec in course.prerequisites_of(module))
    return [spec for mid, spec in course.modules.items() if mid in wanted]


def build_package(course: Course, root: Path, sources: dict[str, str]) -> list[str]:
    """Write `root/tinytorch`: the course's hand-written package with `sources` (module id ->
    module text) exported into it, in course order; returns one warning per module that could
    not be exported (its part stays out)."""
    from tito.course.export import plan_export, plan_removal, write_plan

    shutil.copytree(course.package_dir, root / "tinytorch", ignore=skip_names)
    scratch = sandbox_course(course, root)
    for spec in reversed(list(scratch.modules.values())):  # the package students start with
        write_plan(plan_removal(scratch, spec))
    warnings = []
    for mid, spec in scratch.modules.items():
        if mid not in sources:
            continue
        try:
            write_plan(plan_export(scratch, spec, sources[mid]))
        except TitoError as error:
            warnings.append(f"{mid} could not be exported ({error.message}); it is left out.")
    return warnings


def reference_sources(course: Course, module: ModuleSpec) -> dict[str, str]:
    """The instructor's files of the modules before `module`."""
    return {spec.id: _read(spec.source_path) for spec in earlier_modules(course, module)}


def copy_package(package_root: Path, root: Path) -> None:
    """Copy a built `package_root/tinytorch` into a sandbox at `root`."""
    shutil.copytree(package_root / "tinytorch", root / "tinytorch")
