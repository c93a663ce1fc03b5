"""`tito status`: the course at a glance."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table

from tito.cli.ui import console, handles_errors, open_course, print_json, styled, warn
from tito.course.catalog import MODULE_FOLDER
from tito.course.progress import milestone_headline


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
    # A bar is an inline renderable: alone it shares its line with what follows, so it goes
    # into a one-row grid, which always ends its line.
    bar = Table.grid(padding=(0, 1))
    bar.add_row(ProgressBar(total=max(total, 1), completed=done, width=40), f"{done}/{total}")
    console.print(bar)
    modules = Table(show_header=True, header_style="bold")
    for column in ("#", "module", "state", "tests"):
        modules.add_column(column)
    for row in data["modules"]:
        tests = row["tests"] or {}
        counts = f"{tests['passed']}/{tests['total']}" if tests else ""
        modules.add_row(f"{row['number']:02d}", row["title"], styled(row["state"]), counts)
    console.print(modules)
    if data["next_command"]:
        console.print(f"Next step: `{data['next_command']}`")
    else:
        console.print("[green]Every module is completed.[/]")
    if data["milestones"]:
        console.print(milestone_table(data["milestones"]))


def milestone_table(rows: list[dict]) -> Table:
    table = Table(title="Milestones", header_style="bold")
    for column in ("milestone", "year", "state", "best", "needs"):
        table.add_column(column)
    for row in rows:
        shown = best_result(row["best"])
        needs = compact_module_ids(row["missing"])
        table.add_row(
            escape(row["title"]), str(row["year"] or ""), styled(row["state"]), shown, needs
        )
    return table


def best_result(best: dict | None) -> str:
    """A best run's headline: its accuracy, or for a speed milestone (no accuracy) its speedup."""
    headline = milestone_headline((best or {}).get("result") or {})
    if headline is None:
        return ""
    name, value = headline
    return f"accuracy {value:.3f}" if name == "accuracy" else f"{value:.2f}x faster"


def compact_module_ids(ids: list[str]) -> str:
    """["01_tensor", "02_activations", "03_layers", "05_autograd"] -> "01-03, 05_autograd".

    A week-one student sees every milestone locked; a run of numbers keeps each row one line.
    """
    matches = [MODULE_FOLDER.match(module_id) for module_id in ids]
    if not all(matches):
        return ", ".join(ids)
    runs: list[list[str]] = []
    for number, module_id in sorted((int(m.group(1)), m.group(0)) for m in matches):
        if runs and number == int(runs[-1][-1][:2]) + 1:
            runs[-1].append(module_id)
        else:
            runs.append([module_id])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0][:2]}-{run[-1][:2]}" for run in runs)
