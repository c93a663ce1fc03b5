"""`tito module ...`: list, start, test, complete, reset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tito.cli.ui import console, handles_errors, open_course, print_json, styled, warn
from tito.course.errors import CHECK_FAILED, TitoError

app = typer.Typer(help="Work on course modules: list, start, test, complete, reset, check.")

ModuleArg = Annotated[str, typer.Argument(help="Module id, number or name (01_tensor, 1, tensor).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Go ahead although prerequisites are not completed.")
]


@app.command("list")
@handles_errors
def list_modules(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every module: number, id, title and state (locked / available / started / completed)."""
    from tito.course.workflow import course_status

    status = course_status(open_course(ctx))
    for message in status["warnings"]:
        warn(message)
    if as_json:
        print_json(status["modules"])
        return
    table = Table(title="TinyTorch modules")
    for column in ("#", "module", "title", "state"):
        table.add_column(column)
    for row in status["modules"]:
        table.add_row(f"{row['number']:02d}", row["id"], row["title"], styled(row["state"]))
    console.print(table)


@app.command()
@handles_errors
def start(
    ctx: typer.Context,
    module: ModuleArg,
    notebook: Annotated[bool, typer.Option("--notebook", help="Also write the .ipynb.")] = False,
    force: ForceOpt = False,
) -> None:
    """Check prerequisites, mark the module started and show the file to edit."""
    from tito.course.workflow import start_module

    course = open_course(ctx)
    spec = course.module(module)
    for message in start_module(course, spec, force=force):
        warn(message)
    path = spec.source_path.relative_to(course.root)
    console.print(f"Started [bold]{spec.id}[/]: {escape(spec.title)}")
    if notebook:
        from tito.course.notebooks import write_notebook

        path = write_notebook(spec).relative_to(course.root)
    console.print(f"Edit [bold]{path}[/], then run `tito module complete {spec.id}`.")


@app.command()
@handles_errors
def test(ctx: typer.Context, module: ModuleArg, as_json: JsonOpt = False) -> None:
    """Run the module's inline tests in isolation; exit 1 if any fails."""
    from tito.course.progress import mark_tested, update_progress
    from tito.course.runner import run_module_tests
    from tito.course.workflow import summarize

    course = open_course(ctx)
    spec = course.module(module)
    report = run_module_tests(course, spec)
    update_progress(course.state_dir, mark_tested(spec.id, summarize(report)))
    if as_json:
        print_json(report.to_dict())
    else:
        render_report(report)
        from tito.course.release import hidden_tests_note

        note = hidden_tests_note(course.root, spec.id)
        if note:
            console.print(f"[dim]{note}[/]")
    if not report.passed:
        raise typer.Exit(CHECK_FAILED)


@app.command()
@handles_errors
def complete(
    ctx: typer.Context,
    module: Annotated[str | None, typer.Argument(help="Module id, number or name.")] = None,
    all_modules: Annotated[bool, typer.Option("--all", help="Complete every module.")] = False,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Test, export into tinytorch, check the export imports, record progress."""
    from tito.course.workflow import complete_module

    course = open_course(ctx)
    if all_modules == (module is not None):
        raise TitoError("Name one module, or use --all.", hint="Example: tito module complete 01")
    specs = list(course.modules.values()) if all_modules else [course.module(module)]
    results = []
    for spec in specs:
        result = complete_module(course, spec, force=force)
        results.append(result)
        if not as_json:
            render_completion(result)
        if not result.completed:
            break
    if as_json:
        print_json([_completion_dict(r) for r in results])
    if not all(r.completed for r in results):
        raise typer.Exit(CHECK_FAILED)


@app.command()
@handles_errors
def reset(
    ctx: typer.Context,
    module: ModuleArg,
    restore_source: Annotated[
        bool, typer.Option("--restore-source", help="Also restore the module file from git.")
    ] = False,
) -> None:
    """Remove the module's exported code and its progress (the source stays unless asked)."""
    from tito.course.workflow import reset_module

    course = open_course(ctx)
    spec = course.module(module)
    changed = reset_module(course, spec, restore_source=restore_source)
    console.print(f"Reset [bold]{spec.id}[/].")
    for path in changed:
        console.print(f"  {path}")


@app.command()
@handles_errors
def check(
    ctx: typer.Context,
    module: Annotated[str | None, typer.Argument(help="Module id, number or name.")] = None,
    all_modules: Annotated[bool, typer.Option("--all", help="Check every module.")] = False,
    summary: Annotated[
        bool, typer.Option("--summary", help="Only the tables, not each finding.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """The author's lint: specs, test placement, assert messages, Reflect, markers, exports."""
    from tito.course.check import check_course

    course = open_course(ctx)
    if all_modules == (module is not None):
        raise TitoError("Name one module, or use --all.", hint="Example: tito module check 01")
    specs = list(course.modules.values()) if all_modules else [course.module(module)]
    result = check_course(course, specs)
    if as_json:
        print_json(result.to_dict())
    else:
        render_check(result, table=all_modules, findings=not summary)
    if not result.clean:
        raise typer.Exit(CHECK_FAILED)


def render_report(report) -> None:
    """The per-test table of a run, the failures in full, then a one-sentence summary."""
    problem = report.load_problem
    if problem is not None and problem.traceback:
        # The summary line below names the problem and its line; this shows how it came about.
        console.print(escape(problem.traceback.rstrip()), style="dim")
    if report.tests:
        table = Table(title=f"Tests of {report.module_id}")
        table.add_column("test", no_wrap=True)
        for column in ("result", "points", "seconds"):
            table.add_column(column)
        for test in report.tests:
            points = f"{test.points:g}/{test.max_points:g}" if test.max_points else ""
            table.add_row(test.name, styled_outcome(test.outcome), points, f"{test.seconds:.2f}")
        console.print(table)
        for test in report.tests:
            if test.outcome != "passed":
                render_problem(test)
    render_summary(report)


def render_problem(test) -> None:
    """One line per failing test, in full; then its traceback trimmed to the student's code."""
    where = f" ({Path(test.file).name}:{test.line})" if test.file and test.line else ""
    console.print(f"[red]✗ {test.name}[/]: {escape(test.message or test.outcome)}{escape(where)}")
    unwritten = test.message.startswith("not implemented yet")
    if test.outcome in ("failed", "error") and test.traceback and not unwritten:
        console.print(escape(test.traceback.rstrip()), style="dim")


def render_summary(report) -> None:
    colour = "green" if report.passed else "red"
    console.print(f"[{colour}]{escape(report.message)}[/] ({report.seconds:.1f} s)")


def styled_outcome(outcome: str) -> str:
    colours = {"passed": "green", "failed": "red", "error": "red", "timeout": "magenta"}
    return f"[{colours.get(outcome, 'dim')}]{outcome}[/]"


def render_completion(result) -> None:
    for message in result.warnings:
        warn(message)
    render_report(result.report)
    if not result.completed:
        console.print(f"[red]{result.module.id} is not completed:[/] fix the tests above.")
        return
    console.print(f"[green]Completed {result.module.id}[/]: {escape(result.module.title)}")
    for path in result.exported:
        console.print(f"  exported {path}")
    for milestone in result.unlocked_milestones:
        console.print(
            f"[bold magenta]Milestone unlocked:[/] {milestone} "
            f"(run `tito milestone run {milestone}`)"
        )
    if result.next_module:
        console.print(f"Next: `tito module start {result.next_module}`")


def _completion_dict(result) -> dict:
    return {
        "module": result.module.id,
        "completed": result.completed,
        "tests": result.report.to_dict(),
        "exported": list(result.exported),
        "warnings": result.warnings,
        "unlocked_milestones": list(result.unlocked_milestones),
        "next": result.next_module,
    }


def render_check(result, *, table: bool, findings: bool) -> None:
    """Each finding as file:line rule message; then the stats (a table for several modules)."""
    for checked in result.modules:
        for finding in checked.findings if findings else ():
            console.print(
                f"{escape(finding.file)}:{finding.line} [yellow]{finding.rule}[/] "
                f"{escape(finding.message)}"
            )
    if table:
        render_check_tables(result)
        return
    for checked in result.modules:
        stats, counts = checked.stats, checked.rule_counts()
        state = "[green]clean[/]" if checked.clean else f"[red]{len(checked.findings)} findings[/]"
        per_rule = ", ".join(f"{rule} {count}" for rule, count in counts.items())
        console.print(
            f"{checked.module}: {state}{f' ({per_rule})' if per_rule else ''}. "
            f"{stats.solution_lines} solution lines, {stats.text_lines} lines of text, "
            f"{stats.graded_tests} graded tests ({stats.points:g} points), "
            f"{stats.hidden_blocks} hidden blocks, {stats.reflect_questions} Reflect questions."
        )


def render_check_tables(result) -> None:
    from tito.course.check import SOLUTION_LINES_TARGET

    table = Table(
        title="Course check",
        caption="solution: lines to write; text: lines of markdown; Qs: Reflect questions",
    )
    table.add_column("module", no_wrap=True)
    for column in ("solution", "text", "tests", "points", "hidden", "Qs", "findings"):
        table.add_column(column, justify="right")
    for checked in result.modules:
        table.add_row(checked.module, *_stats_cells(checked.stats, len(checked.findings)))
    total = sum(len(checked.findings) for checked in result.modules)
    table.add_row("[bold]total[/]", *_stats_cells(result.total, total), end_section=True)
    console.print(table)
    counts = result.rule_counts()
    if counts:
        rules = Table(title="Findings per rule")
        for column in ("rule", "findings", "modules"):
            rules.add_column(column, justify="left" if column == "rule" else "right")
        for rule, count in counts.items():
            modules = sum(1 for checked in result.modules if rule in checked.rule_counts())
            rules.add_row(rule, str(count), str(modules))
        console.print(rules)
    lines = result.total.solution_lines
    colour = "green" if lines >= SOLUTION_LINES_TARGET else "yellow"
    console.print(
        f"[{colour}]{lines} solution lines in these modules; the course aims at "
        f"{SOLUTION_LINES_TARGET} or more.[/]"
    )


def _stats_cells(stats, findings: int) -> list[str]:
    style = "green" if not findings else "red"
    return [
        str(stats.solution_lines),
        str(stats.text_lines),
        str(stats.graded_tests),
        f"{stats.points:g}",
        str(stats.hidden_blocks),
        str(stats.reflect_questions),
        f"[{style}]{findings}[/]",
    ]
