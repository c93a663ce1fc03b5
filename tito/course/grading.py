"""Grade submissions: points per graded test from nbgrader metadata, tampering detected.

A submission is a student's copy of the course (a course root). Its module's tests run in the
sandboxed runner (a hanging test is killed at the module's timeout and scores zero). Each
locked graded cell is compared with the release manifest: a cell whose text changed scores
zero and is reported as "modified"; a locked cell that is gone is reported as "missing".
Detection, not replacement: we grade what the student handed in and zero what they changed,
so an edited test can never earn points.
"""

from __future__ import annotations

import csv
import os
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tito.course.catalog import load_course
from tito.course.cells import parse_cells
from tito.course.errors import TitoError
from tito.course.release import MANIFEST, cell_fingerprint, graded_points, read_manifest
from tito.course.runner import run_module_tests


@dataclass(frozen=True)
class GradedTest:
    name: str
    grade_id: str | None
    points: float
    max_points: float
    outcome: str  # passed / failed / error / timeout / not_run / modified / missing
    message: str = ""


@dataclass
class GradeReport:
    student: str
    module_id: str
    tests: list[GradedTest] = field(default_factory=list)
    status: str = ""  # the run's status: passed, failed, load_error, timeout, ...
    message: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def points(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def max_points(self) -> float:
        return sum(t.max_points for t in self.tests)

    def to_dict(self) -> dict:
        return {**asdict(self), "points": self.points, "max_points": self.max_points}


def grade_module(
    submission: Path, module_key: str, manifest: dict | None = None, student: str | None = None
) -> GradeReport:
    """Grade one module of one submission (a course folder)."""
    course = load_course(submission.resolve())
    module = course.module(module_key)
    report = run_module_tests(course, module)
    entry = (manifest or {}).get("modules", {}).get(module.id, {})
    locked = entry.get("cells", {})
    cells = _cells(module.source_path)
    current = _fingerprints(cells)
    modified = {gid for gid, sha in locked.items() if gid in current and current[gid] != sha}
    expected = entry.get("points") or graded_points(cells)
    graded = GradeReport(student or submission.name, module.id, status=report.status)
    graded.message = report.message
    if manifest is None:
        graded.warnings.append("No release manifest: edited test cells cannot be detected.")
    for test in report.tests:
        if not test.max_points:
            continue
        if test.grade_id in modified:
            graded.tests.append(
                GradedTest(
                    test.name,
                    test.grade_id,
                    0.0,
                    test.max_points,
                    "modified",
                    "this locked test cell was edited, so it scores zero",
                )
            )
        else:
            graded.tests.append(
                GradedTest(
                    test.name,
                    test.grade_id,
                    test.points,
                    test.max_points,
                    test.outcome,
                    test.message,
                )
            )
    seen = {t.grade_id for t in graded.tests}
    for grade_id, points in expected.items():
        if grade_id in seen:
            continue
        gone = grade_id in locked and grade_id not in current
        graded.tests.append(
            GradedTest(
                grade_id,
                grade_id,
                0.0,
                float(points),
                "missing" if gone else report.status,
                "the locked test cell is missing" if gone else report.message,
            )
        )
    return graded


def _cells(path: Path) -> list:
    try:
        return parse_cells(path.read_text(encoding="utf-8"), path)
    except (OSError, UnicodeDecodeError, TitoError):
        return []


def _fingerprints(cells: list) -> dict[str, str]:
    return {
        str(c.nbgrader.get("grade_id")): cell_fingerprint(c)
        for c in cells
        if c.kind == "code" and c.nbgrader.get("grade") and c.nbgrader.get("locked")
    }


def load_manifest_for(submission: Path, manifest_path: Path | None) -> dict | None:
    path = manifest_path or submission / MANIFEST
    if manifest_path is None and not path.exists():
        return None
    return read_manifest(path)


def _grade_job(job: tuple) -> GradeReport:
    submission, module_id, manifest = job
    try:
        manifest = manifest or load_manifest_for(Path(submission), None)
        return grade_module(Path(submission), module_id, manifest)
    except TitoError as error:  # a broken copy is that student's zero, not the class's crash
        report = GradeReport(Path(submission).name, module_id, status="invalid")
        report.message = str(error)
        return report


def grade_class(
    submissions: Path,
    module_ids: list[str] | None = None,
    *,
    manifest: dict | None = None,
    workers: int | None = None,
) -> list[GradeReport]:
    """Grade every student folder under `submissions` with a pool of worker processes."""
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and (p / "modules").is_dir())
    if not students:
        raise TitoError(f"{submissions} holds no student course folders (each needs modules/).")
    jobs = []
    for folder in students:
        ids = module_ids or _graded_modules(folder)
        jobs += [
            (str(folder), module_id, manifest or load_manifest_for(folder, None))
            for module_id in ids
        ]
    workers = max(1, workers or os.cpu_count() or 1)
    if workers == 1:
        return [_grade_job(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_grade_job, jobs))


def _graded_modules(folder: Path) -> list[str]:
    try:
        course = load_course(folder)
    except TitoError:
        return ["(invalid course)"]  # graded as a zero with the reason, see _grade_job
    return [m.id for m in course.modules.values() if graded_points(_cells(m.source_path))]


def write_csv(reports: list[GradeReport], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "module", "points", "max"])
        for r in reports:
            writer.writerow([r.student, r.module_id, f"{r.points:g}", f"{r.max_points:g}"])


def junit_xml(reports: list[GradeReport]) -> ET.ElementTree:
    """One testsuite per module, one testcase per graded test."""
    suites = ET.Element("testsuites")
    for report in reports:
        failures = [t for t in report.tests if t.outcome != "passed"]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{report.student}.{report.module_id}",
            tests=str(len(report.tests)),
            failures=str(len(failures)),
        )
        if not report.tests:
            case = ET.SubElement(suite, "testcase", name="load", classname=report.module_id)
            ET.SubElement(case, "error", message=report.message or report.status)
        for test in report.tests:
            case = ET.SubElement(
                suite,
                "testcase",
                name=test.name,
                classname=report.module_id,
            )
            case.set("points", f"{test.points:g}/{test.max_points:g}")
            if test.outcome != "passed":
                kind = "failure" if test.outcome in ("failed", "modified") else "error"
                ET.SubElement(case, kind, message=f"{test.outcome}: {test.message}")
    ET.indent(suites)
    return ET.ElementTree(suites)


def write_junit(reports: list[GradeReport], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_xml(reports).write(path, encoding="utf-8", xml_declaration=True)
