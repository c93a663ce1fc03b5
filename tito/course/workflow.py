"""What the student commands do, as plain functions: start, complete, reset, status.

The CLI calls these and renders their dataclasses; a notebook or a grader can call them too.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tito.course import export as exporting
from tito.course import processes
from tito.course.catalog import Course, MilestoneSpec, ModuleSpec
from tito.course.errors import CHECK_FAILED, TitoError
from tito.course.progress import (
    Progress,
    course_lock,
    mark_completed,
    mark_reset,
    mark_started,
    mark_tested,
    read_progress,
    update_progress,
)
from tito.course.runner import RunReport, run_module_tests

IMPORT_CHECK_TIMEOUT = 120.0


@dataclass
class Completion:
    """The outcome of `complete_module`."""

    module: ModuleSpec
    report: RunReport
    completed: bool = False
    exported: tuple[str, ...] = ()  # package files written, relative to the course root
    warnings: list[str] = field(default_factory=list)
    unlocked_milestones: tuple[str, ...] = ()
    next_module: str | None = None
    next_command: str | None = None  # `tito module start 14_kvcache`, as `tito status` says
    notes: list[str] = field(default_factory=list)  # e.g. "Using your notebook: ..."


@dataclass
class Tested:
    """The outcome of `test_module`."""

    report: RunReport
    notes: list[str] = field(default_factory=list)


def load_progress(course: Course) -> Progress:
    return read_progress(course.state_dir)


def module_state(course: Course, progress: Progress, module: ModuleSpec) -> str:
    """locked / available / started / completed."""
    recorded = progress.module(module.id).get("state")
    if recorded in ("started", "completed"):
        return recorded
    if all(progress.is_completed(p) for p in module.prerequisites):
        return "available"
    return "locked"


def missing_prerequisites(progress: Progress, module: ModuleSpec) -> list[str]:
    return [p for p in module.prerequisites if not progress.is_completed(p)]


def missing_requirements(progress: Progress, milestone: MilestoneSpec) -> list[str]:
    return [m for m in milestone.requires if not progress.is_completed(m)]


def start_module(course: Course, module: ModuleSpec, *, force: bool = False) -> list[str]:
    """Mark a module started; refuses (exit 1) while prerequisites are incomplete."""
    warnings = _check_prerequisites(course, module, force)
    progress = update_progress(course.state_dir, mark_started(module.id))
    return warnings + progress.warnings


def use_latest_work(module: ModuleSpec) -> list[str]:
    """Bring notebook edits into the module file first; refuse when both sides changed.

    Returns the line to tell the student (empty when there was no notebook work to bring in).
    """
    from tito.course.notebooks import sync_from_notebook_if_newer

    result = sync_from_notebook_if_newer(module.source_path)
    if result.conflict:
        raise result.error()
    return [result.message] if result.message else []


def test_module(course: Course, module: ModuleSpec) -> Tested:
    """Run a module's tests on the student's latest work and record the run."""
    notes = use_latest_work(module)
    report = run_module_tests(course, module)
    _check_built_on(course, module, report)
    update_progress(course.state_dir, mark_tested(module.id, summarize(report)))
    return Tested(report, notes)


def complete_module(course: Course, module: ModuleSpec, *, force: bool = False) -> Completion:
    """Test, export, import-check and record a module; see docs/design.md 'Commands'."""
    warnings = _check_prerequisites(course, module, force)
    notes = use_latest_work(module)
    source_bytes = _read_source(module)
    plan = exporting.plan_export(course, module)
    report = run_module_tests(course, module)
    _check_built_on(course, module, report)
    result = Completion(module=module, report=report, warnings=warnings + list(plan.warnings))
    result.notes = notes
    summary = summarize(report)
    if not report.passed:
        update_progress(course.state_dir, mark_tested(module.id, summary))
        return result
    before = load_progress(course)
    with course_lock(course.state_dir):
        # Plan again under the lock: another tito may have changed the package meanwhile.
        plan = exporting.plan_export(course, module)
        exporting.write_plan(plan)
        try:
            verify_import(course, module, plan)
        except TitoError:
            exporting.undo_plan(plan)
            raise
    sha = hashlib.sha256(source_bytes).hexdigest()
    after = update_progress(course.state_dir, mark_completed(module.id, summary, sha))
    result.completed = True
    result.exported = tuple(_relative(course, f.path) for f in plan.files if f.new_text)
    result.warnings += before.warnings + after.warnings
    result.unlocked_milestones = newly_available_milestones(course, before, after)
    result.next_module = next_module(course, after)
    result.next_command = next_command(course, after)
    return result


def reset_module(course: Course, module: ModuleSpec, *, restore_source: bool = False) -> list[str]:
    """Remove the module's exported code and its progress; the source stays unless asked."""
    with course_lock(course.state_dir):
        plan = exporting.plan_removal(course, module)
        exporting.write_plan(plan)
    update_progress(course.state_dir, mark_reset(module.id))
    removed = [_relative(course, f.path) for f in plan.files]
    if restore_source:
        removed.append(_restore_source(course, module))
    return removed


def summarize(report: RunReport) -> dict:
    """The part of a test report that goes into the progress file."""
    counts: dict[str, int] = {}
    for test in report.tests:
        counts[test.outcome] = counts.get(test.outcome, 0) + 1
    return {
        "status": report.status,
        "passed": counts.get("passed", 0),
        "total": len(report.tests),
        "seconds": round(report.seconds, 3),
        "message": report.message,
    }


def verify_import(course: Course, module: ModuleSpec, plan) -> None:
    """Import every package module the module exports to in a fresh interpreter and check
    its `exports`: all of its targets, not only those this export changed, since a listed
    name may live in a file that was already up to date."""
    targets = sorted(plan.targets)
    if not targets:
        return
    script = (
        "import importlib, json, sys\n"
        f"sys.path.insert(0, {str(course.root)!r})\n"
        f"names = {list(module.exports)!r}\n"
        "found = set()\n"
        f"for target in {targets!r}:\n"
        "    package = importlib.import_module('tinytorch.' + target)\n"
        "    found.update(n for n in dir(package) if not n.startswith('_'))\n"
        "print(json.dumps(sorted(set(names) - found)))\n"
    )
    done = processes.run(
        [sys.executable, "-c", script], cwd=course.root, timeout=IMPORT_CHECK_TIMEOUT
    )
    if done.timed_out:
        raise TitoError(
            f"Importing the exported code of {module.id} took over {IMPORT_CHECK_TIMEOUT:.0f} s.",
            hint="Look for work done at import time in the exported cells.",
            exit_code=CHECK_FAILED,
        )
    if done.exit_code != 0:
        last = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise TitoError(
            f"The exported code of {module.id} does not import: {last}",
            hint="The package was left as it was; fix the #| export cells and try again.",
            exit_code=CHECK_FAILED,
        )
    missing = json.loads(done.stdout.strip().splitlines()[-1])
    if missing:
        raise TitoError(
            f"After export, tinytorch does not provide {', '.join(missing)} "
            f"listed in {module.yaml_path.name} of {module.id}.",
            exit_code=CHECK_FAILED,
        )


def newly_available_milestones(course: Course, before: Progress, after: Progress) -> tuple:
    return tuple(
        m.id
        for m in course.milestones.values()
        if missing_requirements(before, m) and not missing_requirements(after, m)
    )


def next_module(course: Course, progress: Progress) -> str | None:
    """The first module in course order that is not completed."""
    for module in course.modules.values():
        if not progress.is_completed(module.id):
            return module.id
    return None


def next_command(course: Course, progress: Progress) -> str | None:
    """What to run next: start the next module, or complete it once it is started."""
    module_id = next_module(course, progress)
    if module_id is None:
        return None
    verb = "complete" if progress.module(module_id).get("state") == "started" else "start"
    return f"tito module {verb} {module_id}"


def course_status(course: Course) -> dict:
    """Everything `tito status` shows, JSON-ready."""
    progress = load_progress(course)
    modules = [_module_row(course, progress, m) for m in course.modules.values()]
    milestones = [_milestone_row(progress, m) for m in course.milestones.values()]
    completed = sum(row["state"] == "completed" for row in modules)
    return {
        "course": str(course.root),
        "completed": completed,
        "total": len(modules),
        "next": next_module(course, progress),
        "next_command": next_command(course, progress),
        "modules": modules,
        "milestones": milestones,
        "warnings": progress.warnings,
    }


def _module_row(course: Course, progress: Progress, module: ModuleSpec) -> dict:
    entry = progress.module(module.id)
    return {
        "id": module.id,
        "number": module.number,
        "title": module.title,
        "state": module_state(course, progress, module),
        "completed_at": entry.get("completed_at"),
        "tests": entry.get("last_test"),
        "prerequisites": list(module.prerequisites),
    }


def _milestone_row(progress: Progress, milestone: MilestoneSpec) -> dict:
    entry = progress.milestone(milestone.id)
    best = entry.get("best")
    missing = missing_requirements(progress, milestone)
    state = "locked" if missing else "available"
    if best:
        state = "passed" if best.get("passed") else "failed"
    return {
        "id": milestone.id,
        "title": milestone.title,
        "year": milestone.year,
        "requires": list(milestone.requires),
        "missing": missing,
        "state": state,
        "runs": len(entry.get("runs") or []),
        "best": best,
    }


def _check_prerequisites(course: Course, module: ModuleSpec, force: bool) -> list[str]:
    missing = missing_prerequisites(load_progress(course), module)
    if not missing:
        return []
    if force:
        return [f"Going ahead with --force although {', '.join(missing)} is not completed."]
    raise TitoError(
        f"{module.id} needs {', '.join(missing)} completed first.",
        hint=f"Run `tito module complete {missing[0]}`, or add --force to go ahead anyway.",
        exit_code=CHECK_FAILED,
    )


def _check_built_on(course: Course, module: ModuleSpec, report: RunReport) -> None:
    """A module file that failed on an import while a module it builds on is not exported
    yet (a fresh student copy): say which one to complete, instead of showing the traceback."""
    problem = report.load_problem
    if report.status != "load_error" or problem is None or problem.kind != "import":
        return
    missing = exporting.not_in_package(course, course.prerequisites_of(module))
    if missing:
        first = missing[0].id
        raise TitoError(
            f"{module.id} builds on {first}, whose code is not in tinytorch yet "
            f"({problem.message}): run `tito module complete {first}` first.",
            exit_code=CHECK_FAILED,
        )


def _read_source(module: ModuleSpec) -> bytes:
    try:
        return module.source_path.read_bytes()
    except OSError:
        raise TitoError(
            f"The module file {module.source_path} is missing or unreadable.",
            hint="Restore it (for example with git checkout) and try again.",
        ) from None


def _restore_source(course: Course, module: ModuleSpec) -> str:
    relative = _relative(course, module.source_path)
    try:
        done = subprocess.run(
            ["git", "checkout", "--", relative],
            cwd=course.root,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as error:  # git is not installed (common on Windows)
        raise TitoError(f"Could not run git to restore {relative} ({error.strerror}).") from None
    if done.returncode != 0:
        raise TitoError(
            f"Could not restore {relative} from git: {done.stderr.strip() or 'git failed'}."
        )
    return relative


def _relative(course: Course, path: Path) -> str:
    try:
        return path.relative_to(course.root).as_posix()
    except ValueError:
        return str(path)
