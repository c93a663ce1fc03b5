"""Health checks for `tito system doctor`: environment, course structure, package, drift."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tito.course import processes
from tito.course.catalog import Course, load_course
from tito.course.errors import TitoError

PACKAGES = (("typer", True), ("rich", True), ("numpy", True), ("pyyaml", True), ("torch", False))


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


def run_checks(root: Path) -> list[Check]:
    checks = [_python_check(), *_package_checks()]
    try:
        course = load_course(root)
    except TitoError as error:
        return [*checks, Check("course structure", False, str(error))]
    checks.append(
        Check(
            "course structure",
            True,
            f"{len(course.modules)} modules, {len(course.milestones)} milestones",
        )
    )
    checks.append(_exports_check(course))
    checks.append(_import_check(course))
    checks.append(_drift_check(course))
    return checks


def _python_check() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, f"{platform.python_version()} ({sys.executable})")


def _package_checks() -> list[Check]:
    checks = []
    for name, required in PACKAGES:
        try:
            checks.append(Check(name, True, metadata.version(name), required))
        except metadata.PackageNotFoundError:
            detail = "not installed" + ("" if required else " (optional: the tests' oracle)")
            checks.append(Check(name, not required, detail, required))
    return checks


def _exports_check(course: Course) -> Check:
    from tito.course.export import plan_export

    problems = []
    for module in course.modules.values():
        try:
            plan_export(course, module)
        except TitoError as error:
            problems.append(str(error))
    detail = "; ".join(problems) or f"all {len(course.modules)} modules plan a valid export"
    return Check("module exports", not problems, detail)


def _import_check(course: Course) -> Check:
    done = processes.run(
        [sys.executable, "-c", "import tinytorch, sys; print(tinytorch.__file__)"],
        cwd=course.root,
        timeout=60,
    )
    if done.timed_out:
        return Check("package import", False, "importing tinytorch took over 60 s")
    if done.exit_code != 0:
        last = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        return Check("package import", False, last)
    return Check("package import", True, done.stdout.strip())


def _drift_check(course: Course) -> Check:
    from tito.course.export import check_drift

    drift = check_drift(course)
    if drift:
        return Check("package drift", False, "; ".join(drift))
    return Check("package drift", True, "tinytorch/ matches a fresh export of modules/")
