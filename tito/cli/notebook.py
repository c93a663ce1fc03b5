"""`tito notebook ID [--sync]`."""

from __future__ import annotations

from typing import Annotated

import typer

from tito.cli.ui import console, handles_errors, open_course


@handles_errors
def notebook(
    ctx: typer.Context,
    module: Annotated[str, typer.Argument(help="Module id, number or name.")],
    sync: Annotated[
        bool, typer.Option("--sync", help="Bring edits made in the notebook back into the .py.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace a notebook that holds edits; with --sync, overwrite a .py that "
            "changed since.",
        ),
    ] = False,
) -> None:
    """Write the module as a Jupyter notebook (.ipynb), or sync the notebook back."""
    from tito.course.notebooks import sync_notebook, write_notebook

    course = open_course(ctx)
    spec = course.module(module)
    if sync:
        path = sync_notebook(spec, force=force)
        console.print(f"Synced the notebook into {path.relative_to(course.root).as_posix()}.")
    else:
        path = write_notebook(spec, force=force)
        console.print(
            f"Wrote {path.relative_to(course.root).as_posix()} (open it with Jupyter; "
            f"`tito module test {spec.id}` and `complete` use its edits)."
        )
