"""`tito system doctor`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tito.cli.ui import console, handles_errors, print_json
from tito.course.catalog import find_course_root
from tito.course.errors import CHECK_FAILED

app = typer.Typer(help="Check the environment and the course.")


@app.command()
@handles_errors
def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Python and package versions, course structure, package import, drift."""
    from pathlib import Path

    from tito.course.doctor import run_checks

    given = (ctx.obj or {}).get("course")
    root = Path(given).resolve() if given else find_course_root()
    checks = run_checks(root)
    failed = [c for c in checks if not c.ok]
    if as_json:
        print_json([c.__dict__ for c in checks])
    else:
        table = Table(title=f"tito doctor: {root}")
        for column in ("check", "result", "detail"):
            table.add_column(column, overflow="fold")
        for check in checks:
            mark = "[green]ok[/]" if check.ok else "[red]FAIL[/]"
            table.add_row(check.name, mark, escape(check.detail))
        console.print(table)
    if failed:
        raise typer.Exit(CHECK_FAILED)
