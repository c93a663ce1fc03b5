"""`tito milestone ...`: list, status, run."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from tito.cli.status import milestone_table
from tito.cli.ui import console, handles_errors, open_course, print_json, warn
from tito.course.errors import CHECK_FAILED

app = typer.Typer(help="Milestone demos that run on your own exported code.")


def milestone_heading(title: str, year: int | None) -> str:
    """The title with its year, unless the title already says it ("TinyGPT (GPT, 2018)")."""
    if year is None or str(year) in title:
        return title
    return f"{title} ({year})"


@app.command("list")
@handles_errors
def list_milestones(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Milestones, what each requires, locked or available, best result."""
    from tito.course.workflow import course_status

    course = open_course(ctx)
    data = course_status(course)
    if as_json:
        print_json(data["milestones"])
        return
    console.print(milestone_table(data["milestones"]))
    for row in data["milestones"]:
        spec = course.milestones[row["id"]]
        console.print(f"[bold]{row['id']}[/]: {escape(spec.criterion or spec.description)}")


app.command("status", help="Same as `tito milestone list`.")(list_milestones)


@app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
@handles_errors
def run(
    ctx: typer.Context,
    milestone: Annotated[str, typer.Argument(help="Milestone id, e.g. tinygpt.")],
    force: Annotated[
        bool, typer.Option("--force", help="Run although required modules are incomplete.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the recorded run as JSON.")
    ] = False,
) -> None:
    """Run a milestone demo; other options (--quick, --seed, --steps, ...) go to the script."""
    from tito.course.milestones import locked_by, run_milestone

    course = open_course(ctx)
    spec = course.milestone(milestone)
    if force and locked_by(course, spec):
        warn(f"Running {spec.id} with --force: {', '.join(locked_by(course, spec))} incomplete.")
    console.print(f"[bold]{escape(milestone_heading(spec.title, spec.year))}[/]")
    if spec.criterion:
        console.print(f"Success criterion: {escape(spec.criterion)}")
    result = run_milestone(
        course, spec, list(ctx.args), force=force, echo=lambda line: typer.echo(line)
    )
    if as_json:
        print_json(result.to_dict())
    if result.passed:
        console.print(f"[bold green]Milestone {spec.id} passed[/] in {result.seconds:.1f} s.")
        return
    if result.timed_out:
        console.print(f"[red]Milestone {spec.id} timed out after {result.seconds:.0f} s.[/]")
    elif result.result is None:
        console.print(
            f"[red]Milestone {spec.id} failed:[/] the script ended (exit {result.exit_code}) "
            "without its result line; see the output above."
        )
    else:
        console.print(f"[red]Milestone {spec.id} did not meet its criterion.[/]")
    raise typer.Exit(CHECK_FAILED)
