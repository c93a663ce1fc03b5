"""`tito release student OUT` and `tito release gradescope OUT.zip --module ID`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tito.cli.ui import console, handles_errors, open_course

app = typer.Typer(help="Instructor releases of the course.", no_args_is_help=True)


@app.command()
@handles_errors
def student(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="Folder to write the student copy to.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the contents of a non-empty OUT (keeps .git).")
    ] = False,
) -> None:
    """A student copy: solutions stripped, package reduced, progress empty, manifest written."""
    from tito.course.release import MANIFEST, release_student

    summary = release_student(open_course(ctx), out, force=force)
    blocks = sum(summary.stripped.values())
    cells = sum(len(ids) for ids in summary.locked.values())
    console.print(f"Wrote the student release to {summary.out}")
    console.print(f"  {summary.files} files copied")
    console.print(f"  {blocks} solution blocks stripped in {len(summary.stripped)} modules")
    console.print(f"  {len(summary.removed)} exported package files removed")
    answers = sum(summary.answers.values())
    hidden = sum(summary.hidden.values())
    console.print(f"  {cells} locked test cells fingerprinted in {MANIFEST}")
    if answers or hidden:
        console.print(f"  {answers} Reflect answers blanked, {hidden} hidden test blocks removed")
    record = summary.record.relative_to(summary.record.parents[1]) if summary.record else None
    console.print(f"Recorded the release in {record} (commit it: grading checks against it).")


@app.command()
@handles_errors
def gradescope(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="The autograder zip to write (upload it).")],
    module: Annotated[
        list[str],
        typer.Option("--module", help="A module to grade (repeat for several)."),
    ],
) -> None:
    """A Gradescope autograder zip: setup.sh, run_autograder, the instructor's tests."""
    from tito.course.gradescope import build_autograder

    path = build_autograder(open_course(ctx), out, module)
    size = path.stat().st_size / 1024
    console.print(f"Wrote the Gradescope autograder to {path} ({size:.0f} KiB)")
    console.print(
        "Upload it under Configure Autograder (Ubuntu base image); students submit their "
        "*_dev.py or *_dev.ipynb."
    )
