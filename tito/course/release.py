"""The student release: a copy of the course with solutions stripped and the package reduced.

Every `### BEGIN SOLUTION ... ### END SOLUTION` block becomes `# YOUR CODE HERE` plus
`raise NotImplementedError()` at the block's indentation (the nbgrader convention); every part
of `tinytorch/` that a module exports is removed (students export it themselves), while what
no module exports (the hand-written `tinytorch/__init__.py`, package folders) stays; progress
starts empty. `release.json` records the SHA-256 of every locked graded cell, so grading can
tell when a student edited a test.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tito import __version__
from tito.course.catalog import Course, load_course
from tito.course.cells import SOLUTION_BEGIN, SOLUTION_END, Cell, parse_cells
from tito.course.errors import TitoError

MANIFEST = "release.json"
SKIP = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    ".tito",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "*.egg-info",
    "build",
    "dist",
    ".ipynb_checkpoints",
    "*.ipynb",
    "*.pyc",
    "tests",  # the developers' suite checks the reference package, not a student's
)


@dataclass
class ReleaseSummary:
    out: Path
    stripped: dict[str, int] = field(default_factory=dict)  # module id -> solution blocks
    locked: dict[str, dict] = field(default_factory=dict)  # module id -> grade_id -> sha256
    removed: list[str] = field(default_factory=list)  # package files students start without


def strip_solutions(text: str, path: str | Path) -> tuple[str, int]:
    """Replace each solution block by `raise NotImplementedError()`; count the blocks."""
    out: list[str] = []
    begin_line, indent, count = None, "", 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        marker = line.strip()
        if marker == SOLUTION_BEGIN:
            if begin_line is not None:
                raise TitoError(
                    f"{path}:{number}: '{SOLUTION_BEGIN}' inside the block opened at line "
                    f"{begin_line} (solution blocks cannot nest)."
                )
            begin_line, indent = number, line[: len(line) - len(line.lstrip())]
            newline = "\r\n" if line.endswith("\r\n") else "\n"
            out.append(
                f"{indent}# YOUR CODE HERE{newline}{indent}raise NotImplementedError(){newline}"
            )
        elif marker == SOLUTION_END:
            if begin_line is None:
                raise TitoError(f"{path}:{number}: '{SOLUTION_END}' without a matching begin.")
            begin_line, count = None, count + 1
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise TitoError(f"{path}:{begin_line}: '{SOLUTION_BEGIN}' is never closed.")
    return "".join(out), count


def cell_fingerprint(cell: Cell) -> str:
    """SHA-256 of a cell's header and code, ignoring surrounding blank lines."""
    text = (cell.header or "").strip() + "\n" + cell.body.strip()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def locked_cells(cells: list[Cell]) -> dict[str, str]:
    """grade_id -> fingerprint for every locked, graded cell."""
    found = {}
    for index, cell in enumerate(cells):
        meta = cell.nbgrader
        if cell.kind == "code" and meta.get("grade") and meta.get("locked"):
            found[str(meta.get("grade_id") or f"cell-{index}")] = cell_fingerprint(cell)
    return found


def graded_points(cells: list[Cell]) -> dict[str, float]:
    """grade_id -> points for every graded cell."""
    return {
        str(cell.nbgrader.get("grade_id") or f"cell-{index}"): float(
            cell.nbgrader.get("points") or 0
        )
        for index, cell in enumerate(cells)
        if cell.kind == "code" and cell.nbgrader.get("grade")
    }


def release_student(course: Course, out: Path, *, force: bool = False) -> ReleaseSummary:
    """Write the student copy of `course` to `out`; nothing is written if a file is invalid."""
    out = out.resolve()
    _check_destination(course, out, force)
    stripped = _strip_all(course)  # every error is found before anything is written
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(course.root, out, ignore=SKIP)
    summary = ReleaseSummary(out=out)
    for module_id, (relative, text, count, cells) in stripped.items():
        (out / relative).write_text(text, encoding="utf-8")
        summary.stripped[module_id] = count
        summary.locked[module_id] = {
            "file": relative,
            "cells": locked_cells(cells),
            "points": graded_points(cells),
        }
    summary.removed = _reduce_package(out)
    _write_manifest(summary)
    return summary


def _check_destination(course: Course, out: Path, force: bool) -> None:
    if out == course.root or course.root in out.parents:
        raise TitoError(f"{out} is inside the course; choose a folder outside it.")
    if out.exists() and not out.is_dir():
        raise TitoError(f"{out} exists and is not a folder.")
    if out.exists() and any(out.iterdir()) and not force:
        raise TitoError(
            f"{out} is not empty.", hint="Choose an empty folder, or add --force to replace it."
        )


def _strip_all(course: Course) -> dict[str, tuple[str, str, int, list[Cell]]]:
    stripped = {}
    for module in course.modules.values():
        relative = module.source_path.relative_to(course.root).as_posix()
        text = module.source_path.read_text(encoding="utf-8")
        student, count = strip_solutions(text, relative)
        stripped[module.id] = (relative, student, count, parse_cells(student, relative))
    return stripped


def _reduce_package(out: Path) -> list[str]:
    """Remove every module's exported part from the copy's package."""
    from tito.course.export import plan_removal, write_plan

    copy = load_course(out)
    removed = []
    for module in reversed(list(copy.modules.values())):
        plan = plan_removal(copy, module)
        write_plan(plan)
        removed += [f.path.relative_to(out).as_posix() for f in plan.files if f.new_text is None]
    return sorted(removed)


def _write_manifest(summary: ReleaseSummary) -> None:
    manifest = {
        "tito_version": __version__,
        "released_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "modules": summary.locked,
    }
    (summary.out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def read_manifest(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TitoError(f"The release manifest {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TitoError(f"The release manifest {path} cannot be read ({error}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("modules"), dict):
        raise TitoError(f"The release manifest {path} has no 'modules' mapping.")
    return data
