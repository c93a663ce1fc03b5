"""Shared rendering and error handling for the CLI."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from tito.course.catalog import Course, find_course_root, load_course
from tito.course.errors import TitoError

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)

STATE_STYLES = {
    "completed": "green",
    "passed": "green",
    "started": "yellow",
    "available": "cyan",
    "failed": "red",
    "locked": "dim",
}


def handles_errors(command: Callable) -> Callable:
    """Turn a TitoError into one sentence on stderr and its exit code (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except TitoError as error:
            fail(error)
        except KeyboardInterrupt:
            errors.print("Interrupted.")
            raise typer.Exit(130) from None

    return wrapper


def fail(error: TitoError):
    errors.print(f"[bold red]Error:[/] {escape(error.message)}")
    if error.hint:
        errors.print(escape(error.hint))
    raise typer.Exit(error.exit_code)


def warn(message: str) -> None:
    errors.print(f"[yellow]Warning:[/] {escape(message)}")


def styled(state: str) -> str:
    return f"[{STATE_STYLES.get(state, 'white')}]{state}[/]"


def print_json(data) -> None:
    """JSON on stdout, unstyled, so it can be piped to jq."""
    typer.echo(json.dumps(data, indent=2, default=str))


def open_course(ctx: typer.Context) -> Course:
    """The course named by --course (or TITO_COURSE), else the one around the current folder."""
    root = (ctx.obj or {}).get("course") if ctx is not None else None
    if root is not None:
        root = Path(root).resolve()
        if not (root / "modules").is_dir():
            raise TitoError(f"{root} is not a TinyTorch course (it has no modules/ folder).")
    else:
        root = find_course_root()
    return load_course(root)
