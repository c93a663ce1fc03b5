"""Grade submissions: points per graded test from nbgrader metadata, tampering detected.

A submission is a student's copy of the course (a course root). Its module's tests run in the
sandboxed runner; a hanging test is killed at the module's `test_timeout` and scores zero.

Points come from the release manifest (`release.json`), not from the submission: each graded
cell is worth the points it had when released, split equally between the test functions it
defined then. Against the manifest, each locked graded cell of the submission is checked:

- its fingerprint differs (test code or grading metadata edited): every test of the cell
  scores zero, reported as "modified";
- it is gone: zero, "missing";
- its grade_id is used by a second cell, or its test function is defined again elsewhere in
  the file (so the student's definition, not the locked one, is what ran): zero, "modified";
- graded cells the release did not have are not counted (with a warning).

Detection, not replacement: we run what the student handed in and zero what they changed, so
an edited test never earns points and nothing of the student's file is rewritten. Without a
manifest the submission's own metadata is trusted and a warning says tampering was not checked.
The sandbox isolates a run (own process, timeout), it does not defend against code written to
attack the grader (patching builtins at import time, say); review suspicious submissions.
"""

from __future__ import annotations

import csv
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tito.course.catalog import Course, ModuleSpec, load_course
from tito.course.cells import parse_cells
from tito.course.errors import TitoError
from tito.course.release import MANIFEST, GradedCell, read_graded_cell, read_manifest

# Run statuses after which the file was loaded, so top-level code in graded cells ran.
LOADED = ("passed", "failed", "no_tests", "timeout")
FAILURE_OUTCOMES = ("failed", "modified", "missing")  # JUnit <failure>; the rest are <error>
NO_MANIFEST = (
    "No release manifest: edited test cells cannot be detected and points are read from the "
    "submission itself."
)


@dataclass(frozen=True)
class GradedTest:
    """One graded test function (or one graded cell without test functions)."""

    name: str
    grade_id: str
    points: float
    max_points: float
    outcome: str  # passed | failed | error | timeout | not_run | modified | missing | ...
    message: str = ""
    seconds: float = 0.0
    traceback: str = ""


@dataclass
class GradeReport:
    """The grade of one module of one submission."""

    student: str
    module_id: str
    tests: list[GradedTest] = field(default_factory=list)
    status: str = ""  # the run's status (passed, failed, load_error, timeout, ...) or "invalid"
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def points(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def max_points(self) -> float:
        return sum(t.max_points for t in self.tests)

    def to_dict(self) -> dict:
        return {**asdict(self), "points": self.points, "max_points": self.max_points}


@dataclass(frozen=True)
class _Expected:
    """What one graded cell is worth, and the tests it holds (from the release)."""

    points: float
    tests: tuple[str, ...]
    locked: bool
    fingerprint: str | None


# ── one module of one submission ──


def grade_module(
    submission: Path,
    module_key: str,
    manifest: dict | None = None,
    student: str | None = None,
) -> GradeReport:
    """Grade one module of one submission (a course folder)."""
    from tito.course.runner import run_module_tests

    submission = submission.resolve()
    course = load_course(submission)
    module = course.module(module_key)
    report = GradeReport(student or submission.name, module.id)
    current = _current_cells(module, report)
    expected = _expected_cells(manifest, module, current, report)
    tampered = _tampered(expected, current)
    result = run_module_tests(course, module)
    report.status, report.message, report.seconds = result.status, result.message, result.seconds
    by_test = {(t.name, t.grade_id): t for t in result.tests}
    collected = {t.name for t in result.tests}
    for grade_id, cell in expected.items():
        report.tests += _grade_cell(grade_id, cell, tampered.get(grade_id), by_test, result)
        for name in cell.tests:  # a locked test redefined elsewhere: the student's version ran
            if name in collected and (name, grade_id) not in by_test and grade_id in current:
                _zero_redefined(report, grade_id, name)
    extra = sorted({t.grade_id for t in result.tests if t.grade_id} - set(expected))
    if extra:
        report.warnings.append(
            f"Graded cells not in the release were not counted: {', '.join(extra)}."
        )
    return report


def _current_cells(module: ModuleSpec, report: GradeReport) -> dict[str, list[GradedCell]]:
    """The submission's graded cells by grade_id (a list: a student may repeat an id)."""
    try:
        text = module.source_path.read_bytes().decode("utf-8")
        cells = parse_cells(text, module.source_path)
    except (OSError, UnicodeDecodeError, TitoError) as error:
        report.warnings.append(f"{module.file} could not be parsed into cells ({error}).")
        return {}
    found: dict[str, list[GradedCell]] = {}
    for cell in cells:
        if cell.kind == "code" and cell.nbgrader.get("grade"):
            graded = read_graded_cell(cell, module.file)
            found.setdefault(graded.grade_id, []).append(graded)
    return found


def _expected_cells(
    manifest: dict | None,
    module: ModuleSpec,
    current: dict[str, list[GradedCell]],
    report: GradeReport,
) -> dict[str, _Expected]:
    """Graded cells and their worth: from the manifest, or else from the submission."""
    entry = (manifest or {}).get("modules", {}).get(module.id)
    if entry is not None:
        return {
            str(gid): _Expected(
                float(points),
                _released_tests(entry, gid, current),
                gid in entry["cells"],
                entry["cells"].get(gid),
            )
            for gid, points in entry["points"].items()
        }
    report.warnings.append(
        NO_MANIFEST
        if manifest is None
        else f"The release manifest has no entry for {module.id}: edited test cells cannot be "
        "detected and points are read from the submission itself."
    )
    return {
        gid: _Expected(cells[0].points or 0.0, cells[0].tests, cells[0].locked, None)
        for gid, cells in current.items()
        if gid
    }


def _released_tests(entry: dict, grade_id: str, current: dict[str, list[GradedCell]]):
    """The test functions a released cell defined; a manifest written before tito recorded
    them falls back to the submission's cell (safe for locked cells: any edit is caught)."""
    if "tests" in entry:
        return tuple(entry["tests"].get(grade_id, ()))
    copies = current.get(grade_id, [])
    return copies[0].tests if copies else ()


def _tampered(
    expected: dict[str, _Expected], current: dict[str, list[GradedCell]]
) -> dict[str, tuple[str, str]]:
    """grade_id -> (outcome, message) for locked cells that were edited, repeated or removed."""
    found = {}
    for grade_id, cell in expected.items():
        if cell.fingerprint is None:
            continue
        copies = current.get(grade_id, [])
        if not copies:
            found[grade_id] = ("missing", "the locked test cell is missing")
        elif len(copies) > 1:
            lines = ", ".join(str(c.line) for c in copies)
            found[grade_id] = ("modified", f"grade_id used by more than one cell (lines {lines})")
        elif copies[0].fingerprint != cell.fingerprint:
            found[grade_id] = ("modified", "the locked test cell was edited")
    return found


def _grade_cell(grade_id, cell: _Expected, tampered, by_test, result) -> list[GradedTest]:
    """One row per test function the release's cell defined (one row if it defined none)."""
    names = cell.tests or (grade_id,)
    share = cell.points / len(names)
    rows = []
    for name in names:
        if tampered is not None:
            rows.append(GradedTest(name, grade_id, 0.0, share, *tampered))
            continue
        outcome = by_test.get((name, grade_id))
        if not cell.tests:  # top-level code only: it passed if the file loaded
            loaded = result.status in LOADED
            rows.append(
                GradedTest(
                    name,
                    grade_id,
                    share if loaded else 0.0,
                    share,
                    "passed" if loaded else result.status,
                    "" if loaded else result.message,
                )
            )
        elif outcome is None:
            rows.append(GradedTest(name, grade_id, 0.0, share, *_not_run(result)))
        else:
            passed = outcome.outcome == "passed"
            rows.append(
                GradedTest(
                    name,
                    grade_id,
                    share if passed else 0.0,
                    share,
                    outcome.outcome,
                    _outcome_message(outcome),
                    outcome.seconds,
                    outcome.traceback,
                )
            )
    return rows


def _not_run(result) -> tuple[str, str]:
    if result.status == "load_error":
        return "load_error", result.message
    if result.status in ("timeout", "crashed"):
        return "not_run", f"not run: {result.message}"
    return "not_run", "this test did not run (is it still defined at the top level?)"


def _outcome_message(outcome) -> str:
    if outcome.outcome == "not_run":
        return "not run: an earlier test hung or crashed the run"
    return outcome.message


def _zero_redefined(report: GradeReport, grade_id: str, name: str) -> None:
    message = f"{name} is defined again outside its locked cell, so the locked test did not run"
    report.tests = [
        GradedTest(t.name, t.grade_id, 0.0, t.max_points, "modified", message)
        if t.grade_id == grade_id and t.name == name
        else t
        for t in report.tests
    ]


# ── manifests ──


def load_manifest_for(submission: Path, manifest_path: Path | None) -> dict | None:
    """The manifest given, else the submission's own release.json, else None."""
    if manifest_path is not None:
        return read_manifest(manifest_path)
    path = submission / MANIFEST
    return read_manifest(path) if path.exists() else None


# ── a whole class ──


def grade_class(
    submissions: Path,
    module_ids: list[str] | None = None,
    *,
    manifest_path: Path | None = None,
    workers: int | None = None,
    on_done: Callable[[GradeReport], None] | None = None,
) -> list[GradeReport]:
    """Grade every student folder under `submissions` with a pool of worker processes.

    Every immediate, non-hidden subfolder is one student (its name is the student id). A
    folder that is not a valid course is graded as zero with the reason, not an error: one
    broken copy must not stop the class. Reports come back in (student, module) order.
    """
    if not submissions.is_dir():
        raise TitoError(f"{submissions} is not a folder of student copies.")
    if workers is not None and workers < 1:
        raise TitoError("--workers must be at least 1.")
    manifest = read_manifest(manifest_path) if manifest_path is not None else None
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise TitoError(f"{submissions} holds no student folders.")
    jobs = [
        (str(folder), module_id, manifest)
        for folder in students
        for module_id in _modules_to_grade(folder, module_ids, manifest)
    ]
    if not jobs:
        return []
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers == 1:
        reports = []
        for job in jobs:
            reports.append(_grade_job(job))
            if on_done:
                on_done(reports[-1])
        return reports
    with ProcessPoolExecutor(max_workers=workers) as pool:
        reports = []
        for report in pool.map(_grade_job, jobs):
            reports.append(report)
            if on_done:
                on_done(report)
        return reports


def _modules_to_grade(
    folder: Path, module_ids: list[str] | None, manifest: dict | None
) -> list[str]:
    """The modules asked for; else those with graded cells in the manifest used for this
    student; else those with graded cells in the student's copy."""
    if module_ids:
        return module_ids
    try:
        manifest = manifest or load_manifest_for(folder, None)
    except TitoError:
        manifest = None
    if manifest is not None:
        return [mid for mid, entry in manifest["modules"].items() if entry["points"]]
    try:
        course = load_course(folder.resolve())
    except TitoError:
        return ["-"]  # graded as one zero row with the reason, in _grade_job
    return [m.id for m in course.modules.values() if _has_graded_cells(course, m)]


def _has_graded_cells(course: Course, module: ModuleSpec) -> bool:
    try:
        cells = parse_cells(module.source_path.read_text(encoding="utf-8"), module.source_path)
    except (OSError, UnicodeDecodeError, TitoError):
        return False
    return any(c.kind == "code" and c.nbgrader.get("grade") for c in cells)


def _grade_job(job: tuple[str, str, dict | None]) -> GradeReport:
    """Grade one (student, module); any failure becomes that student's zero with the reason."""
    folder, module_id, manifest = job
    path = Path(folder)
    try:
        manifest = manifest or load_manifest_for(path, None)
        return grade_module(path, module_id, manifest)
    except Exception as error:  # noqa: BLE001 - one broken copy must not stop the class
        report = GradeReport(path.name, module_id, status="invalid", message=str(error))
        entry = (manifest or {}).get("modules", {}).get(module_id, {})
        for grade_id, points in entry.get("points", {}).items():
            report.tests.append(
                GradedTest(grade_id, grade_id, 0.0, float(points), "invalid", str(error))
            )
        return report


# ── CSV and JUnit ──


def write_csv(reports: list[GradeReport], path: Path) -> None:
    """One row per (student, module): student, module, points, max."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "module", "points", "max"])
        for r in reports:
            writer.writerow([r.student, r.module_id, _number(r.points), _number(r.max_points)])


def junit_xml(reports: list[GradeReport], name: str = "tito grade") -> ET.ElementTree:
    """One testsuite per module, one testcase per graded test; points as properties."""
    suites = ET.Element("testsuites", name=name)
    for report in reports:
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=report.module_id,
            tests=str(max(1, len(report.tests))),
            failures=str(sum(t.outcome in FAILURE_OUTCOMES for t in report.tests)),
            errors=str(sum(_is_error(t) for t in report.tests) + (not report.tests)),
            time=f"{report.seconds:.3f}",
        )
        _properties(
            suite,
            student=report.student,
            status=report.status,
            points=_number(report.points),
            max_points=_number(report.max_points),
        )
        if not report.tests:
            case = ET.SubElement(suite, "testcase", name="grading", classname=_classname(report))
            ET.SubElement(case, "error", message=report.message or report.status)
        for test in report.tests:
            _testcase(suite, report, test)
    _totals(suites)
    ET.indent(suites)
    return ET.ElementTree(suites)


def _testcase(suite: ET.Element, report: GradeReport, test: GradedTest) -> None:
    case = ET.SubElement(
        suite, "testcase", name=test.name, classname=_classname(report), time=f"{test.seconds:.3f}"
    )
    _properties(
        case,
        grade_id=test.grade_id,
        points=_number(test.points),
        max_points=_number(test.max_points),
    )
    if test.outcome == "passed":
        return
    kind = "failure" if test.outcome in FAILURE_OUTCOMES else "error"
    message = f"{test.outcome}: {test.message}" if test.message else test.outcome
    element = ET.SubElement(case, kind, message=message, type=test.outcome)
    element.text = test.traceback or test.message


def _is_error(test: GradedTest) -> bool:
    return test.outcome != "passed" and test.outcome not in FAILURE_OUTCOMES


def _classname(report: GradeReport) -> str:
    return f"{report.student}.{report.module_id}"


def _properties(element: ET.Element, **values: str) -> None:
    properties = ET.SubElement(element, "properties")
    for key, value in values.items():
        ET.SubElement(properties, "property", name=key, value=str(value))


def _totals(suites: ET.Element) -> None:
    for key in ("tests", "failures", "errors"):
        suites.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    suites.set("time", f"{sum(float(s.get('time', '0')) for s in suites):.3f}")


def write_junit(reports: list[GradeReport], path: Path, name: str = "tito grade") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_xml(reports, name).write(path, encoding="utf-8", xml_declaration=True)


def write_junit_per_student(reports: list[GradeReport], folder: Path) -> list[Path]:
    """`<folder>/<student>.xml` for every student; returns the paths written."""
    paths = []
    for student in sorted({r.student for r in reports}):
        path = folder / f"{student}.xml"
        write_junit([r for r in reports if r.student == student], path, name=student)
        paths.append(path)
    return paths


def _number(value: float) -> str:
    """Points as written by people: 10, 7.5 (never 10.0 or 7.500000001)."""
    return f"{round(value, 6):g}"
