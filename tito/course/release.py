"""The student release: a copy of the course with solutions stripped and the package reduced.

Every `### BEGIN SOLUTION ... ### END SOLUTION` block of a module file becomes
`# YOUR CODE HERE` plus `raise NotImplementedError()` at the block's indentation (the nbgrader
convention). Every part of `tinytorch/` that a module exports is removed, because students
export it themselves; what no module exports stays: the hand-written `tinytorch/__init__.py`,
any other hand-written file, and the package `__init__.py` files tito created (so
`tinytorch.core` is a package from the first day; export would only recreate them). Progress
starts empty. `release.json` records, per module, a SHA-256 fingerprint of every locked graded
cell, so that grading can tell when a student edited a test.

The copy is built in a hidden folder beside OUT and moved into place only when complete, so a
failure leaves OUT as it was.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tito import __version__
from tito.course import files
from tito.course.catalog import Course, load_course
from tito.course.cells import (
    HIDDEN_BEGIN,
    HIDDEN_END,
    SOLUTION_BEGIN,
    SOLUTION_END,
    Cell,
    cell_tests,
    parse_cells,
    split_lines,
)
from tito.course.errors import TitoError
from tito.course.student_copy import adapt_for_students

MANIFEST = "release.json"
# The instructor's record of every release, committed with the course (see docs/grading.md).
RELEASES = "releases"
MANIFEST_VERSION = 1
FINGERPRINT = (
    "sha256 of the cell's nbgrader grade_id, grade, locked and points (JSON, sorted keys), a "
    "newline, and the cell body with line ends normalised to LF, trailing spaces removed from "
    "every line and blank lines at both ends dropped"
)
# Skipped at any depth: tool state, caches, compiled files, and notebooks (generated from the
# instructor's .py, so they would carry the solutions).
SKIP_ANYWHERE = frozenset(
    {".git", ".tito", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
)
SKIP_ANYWHERE_SUFFIXES = (".egg-info", ".ipynb", ".pyc")
# Skipped only at the course root: virtual environments, build output, and the developers'
# test suite (it checks the complete reference package, which a student copy never has).
SKIP_AT_ROOT = frozenset({".venv", "venv", "build", "dist", "tests", RELEASES})
ANSWER_PLACEHOLDER = "YOUR ANSWER HERE"
# Left where a hidden block was: students see that more checks run when they are graded.
HIDDEN_PLACEHOLDER = "# (hidden tests run here when your work is graded)"
KEEP_ON_FORCE = ".git"  # OUT may be a clone of the students' repository


@dataclass(frozen=True)
class GradedCell:
    """One graded cell of a module file, as grading needs it."""

    grade_id: str
    points: float | None  # None when the metadata holds no valid number
    locked: bool
    tests: tuple[str, ...]  # the top-level test functions it defines
    fingerprint: str
    line: int


@dataclass
class ReleaseSummary:
    """What `release_student` wrote."""

    out: Path
    files: int = 0  # files copied into the release
    stripped: dict[str, int] = field(default_factory=dict)  # module id -> solution blocks
    answers: dict[str, int] = field(default_factory=dict)  # module id -> Reflect answers
    hidden: dict[str, int] = field(default_factory=dict)  # module id -> hidden test blocks
    locked: dict[str, list[str]] = field(default_factory=dict)  # module id -> locked grade ids
    removed: list[str] = field(default_factory=list)  # package files students start without
    manifest: dict = field(default_factory=dict)
    record: Path | None = None  # releases/<id>.json in the instructor's course


# ── solutions, answers and hidden tests ──


@dataclass(frozen=True)
class StudentText:
    """A module file as students receive it, and what was taken out of it."""

    text: str
    solutions: int  # code solution blocks replaced by `raise NotImplementedError()`
    answers: int  # Reflect answers replaced by `YOUR ANSWER HERE`
    hidden: dict[str, int]  # grade_id -> hidden test blocks removed from that cell


def strip_solutions(text: str, path: str | Path) -> tuple[str, int]:
    """Replace each solution block by `raise NotImplementedError()`; count the blocks."""
    student = student_text(text, path)
    return student.text, student.solutions


def student_text(text: str, path: str | Path) -> StudentText:
    """The student version of a module file; an unbalanced marker is an error at file:line.

    Code cells: `### BEGIN SOLUTION` ... `### END SOLUTION` becomes `# YOUR CODE HERE` and
    `raise NotImplementedError()` at the marker's indentation, and a `### BEGIN HIDDEN TESTS`
    ... `### END HIDDEN TESTS` block (only in a locked graded cell) becomes one comment saying
    hidden tests run at grading. Markdown cells: `# ### BEGIN SOLUTION` ... `# ### END
    SOLUTION` (a Reflect answer) becomes `# YOUR ANSWER HERE`.
    """
    out: list[str] = []
    solutions = answers = 0
    hidden: dict[str, int] = {}
    for cell in parse_cells(text, path):
        if cell.header is not None:
            out.append(cell.header)
        body, blocks = strip_cell(cell, path)
        out.append(body)
        if cell.kind == "markdown":
            answers += blocks.get("solution", 0)
        else:
            solutions += blocks.get("solution", 0)
        if blocks.get("hidden"):
            grade_id = cell.nbgrader.get("grade_id")
            hidden[grade_id if isinstance(grade_id, str) else ""] = blocks["hidden"]
    return StudentText("".join(out), solutions, answers, hidden)


def _marker(line: str, markdown: bool) -> str | None:
    """Which marker a line is: SOLUTION_BEGIN, ..., or None. In markdown the marker is
    commented (`# ### BEGIN SOLUTION`), as jupytext writes markdown in a .py file."""
    stripped = line.strip()
    if markdown:
        stripped = stripped[1:].strip() if stripped.startswith("#") else stripped
    if stripped in (SOLUTION_BEGIN, SOLUTION_END, HIDDEN_BEGIN, HIDDEN_END):
        return stripped
    return None


def strip_cell(
    cell: Cell, path: str | Path, *, keep_hidden: bool = False
) -> tuple[str, dict[str, int]]:
    """A cell's body as students get it (or, with `keep_hidden`, as grading runs it: solutions
    stripped, hidden tests kept), and how many blocks of each kind it held."""
    markdown = cell.kind == "markdown"
    keep = keep_hidden
    out: list[str] = []
    open_kind, open_line = None, 0
    counts: dict[str, int] = {}
    for offset, line in enumerate(split_lines(cell.body, keepends=True)):
        number = cell.body_line + offset
        marker = _marker(line, markdown) if cell.kind != "raw" else None
        if marker in (SOLUTION_BEGIN, HIDDEN_BEGIN):
            kind = "solution" if marker == SOLUTION_BEGIN else "hidden"
            _check_open(marker, kind, open_kind, open_line, number, path, cell)
            open_kind, open_line = kind, number
            out.append(line if keep and kind == "hidden" else _placeholder(line, kind, markdown))
        elif marker in (SOLUTION_END, HIDDEN_END):
            kind = "solution" if marker == SOLUTION_END else "hidden"
            if open_kind != kind:
                begin = SOLUTION_BEGIN if kind == "solution" else HIDDEN_BEGIN
                raise TitoError(f"{path}:{number}: '{marker}' without a '{begin}' before it.")
            open_kind = None
            counts[kind] = counts.get(kind, 0) + 1
            if keep and kind == "hidden":
                out.append(line)
        elif open_kind is None or (keep and open_kind == "hidden"):
            out.append(line)
    if open_kind is not None:
        end = SOLUTION_END if open_kind == "solution" else HIDDEN_END
        begin = SOLUTION_BEGIN if open_kind == "solution" else HIDDEN_BEGIN
        raise TitoError(
            f"{path}:{open_line}: '{begin}' is never closed (in the cell that starts on line "
            f"{cell.line}).",
            hint=f"Add '{end}' at the end of the block, in the same cell.",
        )
    return "".join(out), counts


def _check_open(marker, kind, open_kind, open_line, number, path, cell: Cell) -> None:
    if open_kind is not None:
        raise TitoError(
            f"{path}:{number}: '{marker}' inside the block opened at line {open_line}; "
            "solution and hidden-test blocks cannot nest.",
            hint="Close the first block before opening another.",
        )
    meta = cell.nbgrader
    test_cell = cell.kind != "markdown" and meta.get("grade") and meta.get("locked")
    if kind == "hidden" and not test_cell:
        raise TitoError(
            f"{path}:{number}: hidden tests must stand inside a locked graded test cell.",
            hint='Give the cell nbgrader={"grade": true, "locked": true, ...} metadata.',
        )


def _placeholder(line: str, kind: str, markdown: bool) -> str:
    """What a block becomes in the student copy, at the marker line's indentation."""
    indent = line[: len(line) - len(line.lstrip())]
    newline = line[len(line.rstrip("\r\n")) :] or "\n"
    if markdown:
        return f"{indent}# {ANSWER_PLACEHOLDER}{newline}"
    if kind == "hidden":
        return f"{indent}{HIDDEN_PLACEHOLDER}{newline}"
    return f"{indent}# YOUR CODE HERE{newline}{indent}raise NotImplementedError(){newline}"


# ── graded cells and fingerprints ──


def cell_fingerprint(cell: Cell) -> str:
    """SHA-256 of what makes a graded cell: its grading metadata and its code (see FINGERPRINT).

    Whitespace at line ends and blank lines around the body do not count, so an editor that
    trims spaces or a checkout with CRLF line ends does not make a test look edited; the key
    order of the JSON and extra nbgrader keys (schema_version, checksum) do not count either.
    """
    meta = cell.nbgrader
    head = json.dumps({key: meta.get(key) for key in ("grade_id", "grade", "locked", "points")})
    lines = [line.rstrip() for line in split_lines(cell.body)]
    body = "\n".join(lines).strip("\n")
    return hashlib.sha256(f"{head}\n{body}".encode()).hexdigest()


def graded_cells(cells: list[Cell], path: str | Path) -> dict[str, GradedCell]:
    """Every graded code cell by grade_id; a missing or repeated grade_id is an error."""
    found: dict[str, GradedCell] = {}
    for cell in cells:
        if cell.kind != "code" or not cell.nbgrader.get("grade"):
            continue
        graded = read_graded_cell(cell, path)
        if not graded.grade_id:
            raise TitoError(
                f"{path}:{cell.line}: this graded cell has no grade_id.",
                hint='Add one, e.g. nbgrader={"grade": true, "grade_id": "test-x"}.',
            )
        if graded.grade_id in found:
            raise TitoError(
                f"{path}:{cell.line}: grade_id '{graded.grade_id}' is already used by the cell "
                f"on line {found[graded.grade_id].line}; every graded cell needs its own."
            )
        points = graded.points
        if points is None:
            raise TitoError(
                f"{path}:{cell.line}: nbgrader 'points' must be a number >= 0, "
                f"not {cell.nbgrader.get('points')!r}."
            )
        found[graded.grade_id] = graded
    return found


def read_graded_cell(cell: Cell, path: str | Path) -> GradedCell:
    """One graded cell as written, unchecked (grading reads students' files with it)."""
    meta = cell.nbgrader
    grade_id = meta.get("grade_id")
    points = meta.get("points", 0) or 0
    valid = not isinstance(points, bool) and isinstance(points, int | float) and points >= 0
    return GradedCell(
        grade_id=grade_id if isinstance(grade_id, str) else "",
        points=float(points) if valid else None,
        locked=bool(meta.get("locked")),
        tests=tuple(t.name for t in cell_tests(cell)),
        fingerprint=cell_fingerprint(cell),
        line=cell.line,
    )


def module_manifest(
    relative: str, cells: dict[str, GradedCell], hidden: dict[str, int] | None = None
) -> dict:
    """The manifest entry of one module file (what students received, never test source)."""
    return {
        "file": relative,
        "cells": {gid: cell.fingerprint for gid, cell in cells.items() if cell.locked},
        "points": {gid: cell.points for gid, cell in cells.items()},
        "tests": {gid: list(cell.tests) for gid, cell in cells.items()},
        "hidden": dict(hidden or {}),
    }


# ── the release ──


def release_student(course: Course, out: Path, *, force: bool = False) -> ReleaseSummary:
    """Write the student copy of `course` to `out`; nothing is written if a file is invalid."""
    out = Path(os.path.abspath(out))
    _check_destination(course, out, force)
    modules = _strip_all(course)  # every marker or metadata error is found before any write
    try:
        return _write_release(course, out, modules)
    except OSError as error:
        raise TitoError(
            f"Could not write the release to {out} ({error.strerror or error}).",
            hint="Check that its parent folder exists and is writable.",
        ) from None


def _write_release(course: Course, out: Path, modules: dict[str, _Stripped]) -> ReleaseSummary:
    """Build the release in a hidden folder beside `out`, then move it into place; record it
    in the instructor's course (`releases/<id>.json`) so that grading finds it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tito-tmp", dir=out.parent))
    try:
        summary = ReleaseSummary(out=out, files=_copy_course(course.root, staging))
        entries = {}
        for module_id, item in modules.items():
            files.write_text(staging / item.relative, item.student.text)
            summary.stripped[module_id] = item.student.solutions
            summary.answers[module_id] = item.student.answers
            summary.hidden[module_id] = sum(item.student.hidden.values())
            summary.locked[module_id] = [gid for gid, c in item.cells.items() if c.locked]
            entries[module_id] = module_manifest(item.relative, item.cells, item.student.hidden)
        summary.removed = _reduce_package(staging)
        summary.files += adapt_for_students(staging)  # the student's README and set-up scripts
        released_at = datetime.now(UTC)
        body = json.dumps(entries, sort_keys=True).encode()
        release_id = f"{released_at:%Y%m%dT%H%M%SZ}-{hashlib.sha256(body).hexdigest()[:8]}"
        summary.manifest = {
            "manifest_version": MANIFEST_VERSION,
            "release_id": release_id,
            "tito_version": __version__,
            "released_at": released_at.isoformat(timespec="microseconds"),
            "fingerprint": FINGERPRINT,
            "modules": entries,
        }
        text = json.dumps(summary.manifest, indent=2) + "\n"
        files.write_text(staging / MANIFEST, text)
        summary.record = _write_record(course.root, release_id, text)
        try:
            _move_into_place(staging, out)
        except BaseException:
            summary.record.unlink(missing_ok=True)  # no record of a release that never was
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _write_record(root: Path, release_id: str, text: str) -> Path:
    """`releases/<id>.json` in the instructor's course, written atomically."""
    path = root / RELEASES / f"{release_id}.json"
    files.write_atomic(path, text)
    return path


def _check_destination(course: Course, out: Path, force: bool) -> None:
    root = course.root.resolve()
    real = out.resolve()
    if real == root or root in real.parents:
        raise TitoError(f"{out} is inside the course; choose a folder outside it.")
    if real in root.parents:
        raise TitoError(f"{out} contains the course itself; choose a folder outside it.")
    if out.exists() and not out.is_dir():
        raise TitoError(f"{out} exists and is not a folder.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise TitoError(
            f"{out} is not empty.",
            hint=f"Choose an empty folder, or add --force to replace its contents "
            f"(a {KEEP_ON_FORCE} folder in it is kept).",
        )


@dataclass(frozen=True)
class _Stripped:
    relative: str
    student: StudentText
    cells: dict[str, GradedCell]


def _strip_all(course: Course) -> dict[str, _Stripped]:
    """Per module: its path, its student text, and its graded cells as students get them."""
    stripped = {}
    for module in course.modules.values():
        relative = module.source_path.relative_to(course.root).as_posix()
        text = files.read_text(
            module.source_path,
            what="The module file",
            failure=f"{relative} cannot be read as UTF-8 text",
        )
        student = student_text(text, relative)
        # Checked on the instructor's text, so an error names the line they see; fingerprinted
        # on the student's text, which is what submissions are compared with.
        instructor = graded_cells(parse_cells(text, relative), relative)
        cells = graded_cells(parse_cells(student.text, relative), relative)
        _check_still_python(student.text, relative, instructor)
        stripped[module.id] = _Stripped(relative, student, cells)
    return stripped


def _check_still_python(student: str, relative: str, instructor: dict[str, GradedCell]) -> None:
    """A graded cell must stay valid Python once its hidden tests are taken out."""
    for cell in parse_cells(student, relative):
        grade_id = cell.nbgrader.get("grade_id")
        if cell.kind != "code" or not cell.nbgrader.get("grade"):
            continue
        try:
            ast.parse(cell.body)
        except SyntaxError as error:
            line = instructor[grade_id].line if grade_id in instructor else cell.line
            raise TitoError(
                f"{relative}:{line}: the test cell '{grade_id}' is not valid Python in the "
                f"student copy ({error.msg}).",
                hint="Keep at least one visible statement in a test function that holds "
                "hidden tests.",
            ) from None


# ── release records (the instructor's side) ──


def read_records(root: Path) -> list[dict]:
    """Every release recorded under `root/releases/`, oldest first (unreadable ones skipped).

    A student copy has no records but its own `release.json`, which stands in for them when
    a student grades their own copy (an instructor's course never holds one).
    """
    folder = root / RELEASES
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not paths and (root / MANIFEST).is_file():
        paths = [root / MANIFEST]
    records = []
    for path in paths:
        try:
            records.append(read_manifest(path))
        except TitoError:
            continue
    return sorted(records, key=lambda r: (str(r.get("released_at", "")), r.get("release_id", "")))


def skip_names(folder: str, names: list[str]) -> set[str]:
    """`shutil.copytree` ignore function: what a release (or a course copy) leaves out."""
    skipped = set()
    at_root = _is_course_root(Path(folder))
    for name in names:
        path = Path(folder, name)
        if (
            name in SKIP_ANYWHERE
            or name.endswith(SKIP_ANYWHERE_SUFFIXES)
            or name == ".ipynb_checkpoints"
            or ".tito-tmp" in name  # a temporary file of an interrupted export
            or (at_root and name in SKIP_AT_ROOT)
            or (path.is_dir() and (path / "pyvenv.cfg").is_file())  # any virtual environment
        ):
            skipped.add(name)
    return skipped


SKIP = skip_names  # the name other code (tests/e2e) copies the course with


def _is_course_root(folder: Path) -> bool:
    return (folder / "modules").is_dir() and (folder / "tinytorch").is_dir()


def _copy_course(root: Path, staging: Path) -> int:
    copied = 0

    def copy(source: str, target: str) -> str:
        nonlocal copied
        copied += 1
        return shutil.copy2(source, target)

    shutil.copytree(root, staging, ignore=skip_names, copy_function=copy, dirs_exist_ok=True)
    return copied


def _reduce_package(copy_root: Path) -> list[str]:
    """Remove every module's exported part from the copy's package; list deleted files."""
    from tito.course.export import plan_removal, write_plan

    copy = load_course(copy_root)
    removed = []
    for module in reversed(list(copy.modules.values())):
        plan = plan_removal(copy, module)
        write_plan(plan)
        removed += [
            f.path.relative_to(copy_root).as_posix() for f in plan.files if f.new_text is None
        ]
    return sorted(removed)


def _move_into_place(staging: Path, out: Path) -> None:
    """Make `out` hold exactly what `staging` holds (keeping `out/.git`)."""
    if not out.exists():
        files.replace(staging, out)
        return
    for child in out.iterdir():
        if child.name == KEEP_ON_FORCE:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for child in staging.iterdir():
        files.replace(child, out / child.name)


# ── reading the manifest ──


def read_manifest(path: Path) -> dict:
    """Load and check a `release.json`; a problem is a TitoError naming the file."""
    data = files.read_json(
        path, what="The release manifest", failure=f"The release manifest {path} cannot be read"
    )
    modules = data.get("modules") if isinstance(data, dict) else None
    if not isinstance(modules, dict) or not all(
        isinstance(entry, dict)
        and isinstance(entry.get("cells"), dict)
        and isinstance(entry.get("points"), dict)
        for entry in modules.values()
    ):
        raise TitoError(
            f"The release manifest {path} is not one tito wrote (no 'modules' with 'cells' and "
            "'points').",
            hint="Use a releases/<id>.json that `tito release student` wrote.",
        )
    return data


def hidden_tests_note(root: Path, module_id: str) -> str | None:
    """In a student copy: one sentence saying that hidden tests run at grading, if the
    release removed any from this module (read from the copy's release.json)."""
    try:
        data = files.read_json(root / MANIFEST)
        hidden = data["modules"][module_id].get("hidden") or {}
        count = sum(int(n) for n in hidden.values())
    except (TitoError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not count:
        return None
    cells = len(hidden)
    return (
        f"{cells} test cell{'s' if cells > 1 else ''} of this module also hold hidden tests; "
        "they run when your work is graded, so make your code right for any input, not only "
        "for the visible asserts."
    )
