"""`tito grade`: points per graded test, for one submission or a whole class."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tito.cli.ui import console, handles_errors, print_json, warn
from tito.course.errors import TitoError


@handles_errors
def grade(
    ctx: typer.Context,
    module: Annotated[
        str | None, typer.Argument(help="Module id (all graded ones with --all).")
    ] = None,
    submission: Annotated[
        Path | None, typer.Option("--submission", help="A student's course folder.")
    ] = None,
    manifest: Annotated[
        Path | None, typer.Option("--manifest", help="release.json (default: the submission's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the grades as JSON.")] = False,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write a JUnit XML file.")] = None,
    all_students: Annotated[
        bool, typer.Option("--all", help="Grade every student folder under --submissions.")
    ] = False,
    submissions: Annotated[
        Path | None, typer.Option("--submissions", help="Folder of student folders.")
    ] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes.")] = None,
    csv_path: Annotated[Path, typer.Option("--csv", help="CSV to write with --all.")] = Path(
        "grades.csv"
    ),
    junit_dir: Annotated[
        Path | None, typer.Option("--junit-dir", help="One JUnit file per student (--all).")
    ] = None,
) -> None:
    """Run a module's graded tests and report points (from the cells' nbgrader metadata)."""
    from tito.course import grading

    if all_students:
        if submissions is None:
            raise TitoError("--all needs --submissions DIR (one folder per student).")
        given = grading.read_manifest(manifest) if manifest else None
        reports = grading.grade_class(
            submissions, [module] if module else None, manifest=given, workers=workers
        )
        grading.write_csv(reports, csv_path)
        for student in sorted({r.student for r in reports}):
            mine = [r for r in reports if r.student == student]
            if junit_dir is not None:
                grading.write_junit(mine, junit_dir / f"{student}.xml")
        if as_json:
            print_json([r.to_dict() for r in reports])
        else:
            console.print(f"Graded {len({r.student for r in reports})} students: {csv_path}")
        return
    if module is None:
        raise TitoError("Name the module to grade, or use --all --submissions DIR.")
    root = (submission or Path((ctx.obj or {}).get("course") or ".")).resolve()
    report = grading.grade_module(root, module, grading.load_manifest_for(root, manifest))
    for message in report.warnings:
        warn(message)
    if junit:
        grading.write_junit([report], junit)
    if as_json:
        print_json(report.to_dict())
        return
    table = Table(title=f"Grades: {report.student} / {report.module_id}")
    for column in ("test", "grade id", "result", "points", "detail"):
        table.add_column(column)
    for test in report.tests:
        table.add_row(
            test.name,
            test.grade_id or "",
            test.outcome,
            f"{test.points:g}/{test.max_points:g}",
            escape(test.message),
        )
    console.print(table)
    console.print(f"Total: {report.points:g} / {report.max_points:g} points")
