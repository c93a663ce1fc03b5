"""`tito status`: the course at a glance."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table

from tito.cli.ui import console, handles_errors, open_course, print_json, styled, warn


@handles_errors
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Progress bar, modules, next step and milestones."""
    from tito.course.workflow import course_status

    data = course_status(open_course(ctx))
    for message in data["warnings"]:
        warn(message)
    if as_json:
        print_json(data)
        return
    done, total = data["completed"], data["total"]
    console.print(f"[bold]TinyTorch[/]: {done} of {total} modules completed")
    console.print(ProgressBar(total=max(total, 1), completed=done, width=40))
    modules = Table(show_header=True, header_style="bold")
    for column in ("#", "module", "state", "tests"):
        modules.add_column(column)
    for row in data["modules"]:
        tests = row["tests"] or {}
        counts = f"{tests['passed']}/{tests['total']}" if tests else ""
        modules.add_row(f"{row['number']:02d}", row["title"], styled(row["state"]), counts)
    console.print(modules)
    if data["next"]:
        console.print(f"Next step: `tito module complete {data['next']}`")
    else:
        console.print("[green]Every module is completed.[/]")
    if data["milestones"]:
        console.print(milestone_table(data["milestones"]))


def milestone_table(rows: list[dict]) -> Table:
    table = Table(title="Milestones", header_style="bold")
    for column in ("milestone", "year", "state", "best", "needs"):
        table.add_column(column)
    for row in rows:
        best = row["best"] or {}
        result = best.get("result") or {}
        accuracy = result.get("accuracy")
        shown = f"accuracy {accuracy:.3f}" if isinstance(accuracy, int | float) else ""
        needs = compact_module_ids(row["missing"])
        table.add_row(
            escape(row["title"]), str(row["year"] or ""), styled(row["state"]), shown, needs
        )
    return table


def compact_module_ids(ids: list[str]) -> str:
    """["01_tensor", "02_activations", "03_layers", "05_autograd"] -> "01-03, 05_autograd".

    A week-one student sees every milestone locked; a run of numbers keeps each row one line.
    """
    numbered = sorted((int(i.split("_", 1)[0]), i) for i in ids if i.split("_", 1)[0].isdigit())
    if len(numbered) != len(ids):
        return ", ".join(ids)
    parts, run = [], []
    for number, module_id in numbered:
        if run and number != run[-1][0] + 1:
            parts.append(_run_text(run))
            run = []
        run.append((number, module_id))
    if run:
        parts.append(_run_text(run))
    return ", ".join(parts)


def _run_text(run: list[tuple[int, str]]) -> str:
    if len(run) == 1:
        return run[0][1]
    return f"{run[0][1].split('_', 1)[0]}-{run[-1][1].split('_', 1)[0]}"
