"""The `tito` application: one Typer app per command group."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tito import __version__
from tito.cli import grade, milestone, module, notebook, release, status, system

app = typer.Typer(
    name="tito",
    help="TinyTorch course toolchain: build a deep-learning framework, module by module.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(module.app, name="module")
app.add_typer(milestone.app, name="milestone")
app.add_typer(system.app, name="system")
app.command("status")(status.status)
app.command("notebook")(notebook.notebook)
app.add_typer(release.app, name="release")
app.command("grade")(grade.grade)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tito {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    course: Annotated[
        Path | None,
        typer.Option(
            "--course",
            envvar="TITO_COURSE",
            help="The course folder (default: the one around the current folder).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    ctx.obj = {"course": course}


def use_utf8_output() -> None:
    """Make stdout and stderr UTF-8 whatever the console's code page.

    A Windows console or a redirected output is often cp1252, which cannot encode rich's table
    borders, a check mark or a student's non-ASCII output: printing one would end the command
    with UnicodeEncodeError. `errors="replace"` keeps even a stray lone surrogate printable.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:  # replaced by a test harness or an IDE with a plain object
            continue
        try:
            reconfigure(encoding="utf-8", errors="replace")
        except (ValueError, OSError):  # a closed or detached stream: nothing to print to
            continue


def run() -> None:
    use_utf8_output()
    app()
