"""`tito release student OUT`."""

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
    console.print(f"  {cells} locked test cells fingerprinted in {MANIFEST}")
