"""`tito grade`: points per graded test, for one submission or a whole class.

Run in the instructor's course: its test cells (hidden ones included), points and release
records grade the submissions. Grading a failing submission is a success of the grader: the
exit code is 0 unless the input is bad (unknown module, missing folder: 2).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tito.cli.ui import console, handles_errors, open_course, print_json, styled, warn
from tito.course.errors import TitoError


@handles_errors
def grade(
    ctx: typer.Context,
    module: Annotated[
        str | None,
        typer.Argument(help="Module id, number or name (with --all: grade only this module)."),
    ] = None,
    submission: Annotated[
        Path | None,
        typer.Option(
            "--submission",
            help="A student's course copy, or a folder with their *_dev.py / *_dev.ipynb "
            "(default: this course).",
        ),
    ] = None,
    cumulative: Annotated[
        bool,
        typer.Option(
            "--cumulative",
            help="Build earlier modules from the student's own files (default: from the "
            "instructor's reference solutions).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the grade as JSON.")] = False,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write a JUnit XML file (for CI).")
    ] = None,
    all_students: Annotated[
        bool, typer.Option("--all", help="Grade every student folder under --submissions.")
    ] = False,
    submissions: Annotated[
        Path | None,
        typer.Option(
            "--submissions", help="With --all: a folder with one course copy per student."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="With --all: worker processes (default: CPU count)."),
    ] = None,
    csv_path: Annotated[Path, typer.Option("--csv", help="With --all: the CSV to write.")] = Path(
        "grades.csv"
    ),
    junit_dir: Annotated[
        Path | None,
        typer.Option("--junit-dir", help="With --all: write <student>.xml JUnit files here."),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="With --all: write a one-page class report (HTML)."),
    ] = None,
) -> None:
    """Run a module's graded tests and report points (from the cells' nbgrader metadata)."""
    if all_students:
        if submission is not None or junit is not None:
            raise TitoError(
                "--submission and --junit are for one submission; with --all use "
                "--submissions and --junit-dir."
            )
        if submissions is None:
            raise TitoError("--all needs --submissions DIR (one folder per student).")
        options = (workers, csv_path, junit_dir, html, as_json, cumulative)
        _grade_class(ctx, module, submissions, *options)
        return
    if submissions is not None or junit_dir is not None or html is not None:
        raise TitoError("--submissions, --junit-dir and --html go with --all.")
    if module is None:
        raise TitoError("Name the module to grade, or use --all --submissions DIR.")
    _grade_one(ctx, module, submission, cumulative, as_json, junit)


def _grade_one(ctx, module, submission, cumulative, as_json, junit) -> None:
    from tito.course import grading

    course = open_course(ctx)
    if submission is None:
        folder = course.root
    elif not submission.is_dir():
        raise TitoError(f"{submission} is not a folder.")
    else:
        folder = submission.resolve()
    report = grading.grade_module(course, folder, module, cumulative=cumulative)
    for message in report.warnings:
        warn(message)
    if junit:
        grading.write_junit([report], junit, name=report.student)
    if as_json:
        print_json(report.to_dict())
        return
    table = Table(title=f"Grade: {escape(report.student)} / {report.module_id}")
    for column in ("test", "grade id", "result", "points", "detail"):
        table.add_column(column)
    for test in report.tests:
        table.add_row(
            test.name,
            test.grade_id,
            styled(test.outcome),
            f"{test.points:g}/{test.max_points:g}",
            escape(test.message),
        )
    console.print(table)
    if report.status not in ("passed", "failed"):
        console.print(escape(report.message))
    unanswered = sum(not a.answer for a in report.answers)
    if report.answers:
        console.print(
            f"Reflect answers: {len(report.answers) - unanswered} written, {unanswered} blank "
            "(--json shows them)."
        )
    console.print(f"[bold]Total: {report.points:g} / {report.max_points:g} points[/]")


def _grade_class(ctx, module, submissions, workers, csv_path, junit_dir, html, as_json, cumulative):
    from tito.course import grading

    started = time.perf_counter()

    def show(report) -> None:
        if not as_json:
            console.print(
                f"  {escape(report.student)} {report.module_id}: "
                f"{report.points:g}/{report.max_points:g} ({report.status})"
            )

    course = open_course(ctx)
    reports = grading.grade_class(
        course,
        submissions,
        [module] if module else None,
        cumulative=cumulative,
        workers=workers,
        on_done=show,
    )
    grading.write_csv(reports, csv_path)
    written = grading.write_junit_per_student(reports, junit_dir) if junit_dir else []
    if html is not None:
        from tito.course.report import write_html

        write_html(reports, html, title=f"{course.root.name}: class report")
    if as_json:
        print_json([r.to_dict() for r in reports])
        return
    for message in sorted({w for r in reports for w in r.warnings if w == grading.NO_RECORD}):
        warn(message)
    students = len({r.student for r in reports})
    seconds = time.perf_counter() - started
    console.print(f"Graded {students} students ({len(reports)} module grades) in {seconds:.1f} s.")
    console.print(f"CSV: {csv_path}")
    if written:
        console.print(f"JUnit: {len(written)} files in {junit_dir}")
    if html is not None:
        console.print(f"Report: {html}")
