"""Grade submissions with the instructor's tests, as nbgrader's autograde does.

A grade takes the student's module file (from a course copy, a folder of files, or a notebook)
and runs it with every locked test cell replaced by the instructor's version of that cell,
read from the instructor's course: hidden tests included, and never a test, a point value or
a manifest taken from the submission. The run happens in a sandbox (see `sandbox.py`) whose
`tinytorch/` holds the modules before the graded one, exported from the instructor's files
(default) or from the student's own files (`cumulative`), under resource limits and the
module's timeout.

Each locked test cell of the submission is also compared with the versions students were
given (the fingerprints in the course's `releases/*.json`, and what a release would hold
today): an edited, repeated or deleted locked cell scores zero and is reported as `modified`
or `missing`, so the instructor sees who tried, even though the edit could not have helped.
A test function defined again outside its locked cell (so the student's version, not the
instructor's, is what ran) also scores zero as `modified`.

Hidden tests (`### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS`) run inside their test
function; a failure there costs the function its points, and no feedback shows their source:
the message says a hidden test failed and the traceback is dropped.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from tito.course import files
from tito.course.catalog import Course, ModuleSpec, load_course
from tito.course.cells import (
    HIDDEN_BEGIN,
    HIDDEN_END,
    Cell,
    cell_tests,
    parse_cells,
    split_lines,
)
from tito.course.errors import TitoError
from tito.course.limits import DEFAULT_LIMITS, Limits
from tito.course.release import (
    ANSWER_PLACEHOLDER,
    MANIFEST,
    cell_fingerprint,
    graded_cells,
    read_records,
    strip_cell,
    student_text,
)
from tito.course.sandbox import (
    build_package,
    copy_package,
    earlier_modules,
    find_submission,
    reference_sources,
)

# Run statuses after which the file was loaded, so top-level code in graded cells ran.
LOADED = ("passed", "failed", "no_tests", "timeout")
FAILURE_OUTCOMES = ("failed", "modified", "missing")  # JUnit <failure>; the rest are <error>
HIDDEN_FAILED = "a hidden test failed"
NO_RECORD = (
    "This course has no release record (releases/*.json): locked cells were checked against "
    "the module files as they are now."
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
    hidden: bool = False  # its cell holds hidden tests
    failed_in_hidden: bool = False  # it failed while a hidden test ran (its visible part passed)


@dataclass(frozen=True)
class Answer:
    """A student's written answer to a Reflect question ('' when left unanswered)."""

    grade_id: str
    question: str
    answer: str


@dataclass
class GradeReport:
    """The grade of one module of one submission."""

    student: str
    module_id: str
    tests: list[GradedTest] = field(default_factory=list)
    status: str = ""  # the run's status (passed, failed, load_error, ...), "missing" or "invalid"
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    answers: list[Answer] = field(default_factory=list)
    source: str = ""  # the file that was graded, relative to the submission
    release: str = ""  # the release the submission says it came from

    @property
    def points(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def max_points(self) -> float:
        return sum(t.max_points for t in self.tests)

    def to_dict(self) -> dict:
        return {**asdict(self), "points": self.points, "max_points": self.max_points}


# ── what the instructor's course says about a module ──


@dataclass(frozen=True)
class TestCell:
    """An instructor's locked test cell, as grading runs it."""

    __test__ = False  # not a pytest test class

    grade_id: str
    points: float
    tests: tuple[str, ...]
    text: str  # header and body, hidden tests included, ending in a newline
    hidden: tuple[tuple[int, int], ...]  # hidden blocks: 0-based line offsets within `text`


@dataclass(frozen=True)
class ModuleKey:
    """Everything grading needs from the instructor for one module."""

    module: ModuleSpec
    cells: dict[str, TestCell]  # locked graded cells, in file order
    manual: dict[str, float]  # graded cells that are not locked: points given by hand
    released: dict[str, frozenset[str]]  # grade_id -> fingerprints of every released version
    questions: dict[str, str]  # Reflect answer grade_id -> the question before it


def module_key(course: Course, module: ModuleSpec, records: list[dict]) -> ModuleKey:
    """Read the instructor's module file: test cells, points, Reflect questions."""
    relative = module.source_path.relative_to(course.root).as_posix()
    text = files.read_text(
        module.source_path,
        what="The instructor's module file",
        failure=f"The instructor's {relative} cannot be read",
    )
    cells = parse_cells(text, relative)
    graded = graded_cells(cells, relative)
    tests: dict[str, TestCell] = {}
    for cell in cells:
        info = graded.get(cell.nbgrader.get("grade_id")) if cell.kind == "code" else None
        if info is None or not cell.nbgrader.get("grade") or not info.locked:
            continue
        tests[info.grade_id] = _test_cell(cell, info.points or 0.0, relative)
    manual = {gid: c.points or 0.0 for gid, c in graded.items() if not c.locked}
    released: dict[str, set[str]] = {}
    today = graded_cells(parse_cells(student_text(text, relative).text, relative), relative)
    for gid, cell in today.items():
        released.setdefault(gid, set()).add(cell.fingerprint)
    for gid, cell in graded.items():  # the instructor's own cell, hidden tests and all
        released.setdefault(gid, set()).add(cell.fingerprint)
    for record in records:
        entry = record.get("modules", {}).get(module.id, {})
        for gid, fingerprint in entry.get("cells", {}).items():
            released.setdefault(gid, set()).add(fingerprint)
    return ModuleKey(
        module,
        tests,
        manual,
        {gid: frozenset(fps) for gid, fps in released.items()},
        _questions(cells),
    )


def _test_cell(cell: Cell, points: float, relative: str) -> TestCell:
    """The cell as it runs at grading: solution blocks stripped (a test cell should have
    none), hidden tests kept, and where they stand."""
    lines = split_lines(cell.text(), keepends=True)
    hidden, start = [], None
    for index, line in enumerate(lines):
        if line.strip() == HIDDEN_BEGIN:
            start = index
        elif line.strip() == HIDDEN_END and start is not None:
            hidden.append((start, index))
            start = None
    body, _ = strip_cell(cell, relative, keep_hidden=True)
    text = (cell.header or "") + body
    return TestCell(
        cell.nbgrader["grade_id"],
        points,
        tuple(t.name for t in cell_tests(cell)),
        text if text.endswith("\n") else text + "\n",
        tuple(hidden),
    )


def _questions(cells: list[Cell]) -> dict[str, str]:
    """Reflect answer cell grade_id -> the text of the markdown cell before it."""
    questions, previous = {}, ""
    for cell in cells:
        if cell.kind != "markdown":
            continue
        if _is_answer_cell(cell):
            questions[str(cell.nbgrader.get("grade_id", ""))] = previous
        else:
            previous = _markdown_text(cell)
    return questions


def _is_answer_cell(cell: Cell) -> bool:
    return cell.kind == "markdown" and bool(cell.nbgrader.get("solution"))


def _markdown_text(cell: Cell) -> str:
    """A markdown cell's text without the `# ` of the percent format and without markers."""
    lines = []
    for line in split_lines(cell.body):
        stripped = line.strip()
        text = stripped[1:] if stripped.startswith("#") else stripped
        text = text[1:] if text.startswith(" ") else text
        if text.strip() in ("### BEGIN SOLUTION", "### END SOLUTION"):
            continue
        lines.append(text)
    return "\n".join(lines).strip()


# ── one module of one submission ──


def grade_module(
    course: Course,
    submission: Path,
    module_key_or_id: str,
    *,
    student: str | None = None,
    cumulative: bool = False,
    package: Path | None = None,
    limits: Limits | None = DEFAULT_LIMITS,
    records: list[dict] | None = None,
) -> GradeReport:
    """Grade one module of one submission with the tests of `course` (the instructor's).

    `submission` is a folder: a student's course copy, or any folder holding the module's
    `*_dev.py` / `*_dev.ipynb`. `package` is a folder holding a prebuilt `tinytorch/` for
    this module (see `prepare_package`); without it the package is built for this grade.
    """
    module = course.module(module_key_or_id)
    submission = submission.resolve()
    records = read_records(course.root) if records is None else records
    key = module_key(course, module, records)
    report = GradeReport(student or submission.name, module.id)
    if not records:
        report.warnings.append(NO_RECORD)
    report.release = _release_note(submission, records, report)
    found = find_submission(submission, module)
    if found is None:
        return _zero(report, key, "missing", f"No {module.file} (or .ipynb) in the submission.")
    report.source = _relative(found.path, submission)
    report.warnings += found.warnings
    try:
        cells = parse_cells(found.text, report.source)
    except TitoError as error:
        return _zero(report, key, "invalid", error.message)
    report.answers = _answers(cells, key)
    tampered = _tampered(key, cells)
    merged, hidden_lines = _merge(cells, key)
    with tempfile.TemporaryDirectory(prefix="tito-grade-") as scratch:
        root = Path(scratch)
        report.warnings += _package(course, module, submission, root, package, cumulative)
        result = _run(course, module, root, merged, limits)
    report.status, report.seconds = result.status, result.seconds
    report.message = _redact_load(result, hidden_lines)
    _rows(report, key, tampered, result, hidden_lines)
    return report


def _zero(report: GradeReport, key: ModuleKey, status: str, message: str) -> GradeReport:
    report.status, report.message = status, message
    for gid, cell in key.cells.items():
        names = cell.tests or (gid,)
        for name in names:
            report.tests.append(
                GradedTest(name, gid, 0.0, cell.points / len(names), status, message)
            )
    _manual_rows(report, key)
    return report


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name


def _release_note(submission: Path, records: list[dict], report: GradeReport) -> str:
    """The release the submission says it came from; a warning if it is not the latest."""
    try:
        data = files.read_json(submission / MANIFEST)
    except TitoError:
        return ""
    claimed = data.get("release_id") if isinstance(data, dict) else None
    if not isinstance(claimed, str) or not records:
        return claimed if isinstance(claimed, str) else ""
    known = {r.get("release_id"): r for r in records}
    latest = records[-1]
    if claimed not in known:
        report.warnings.append(
            f"The submission comes from release {claimed}, which this course has no record "
            "of; it was graded with the current tests and its locked cells checked against "
            "every recorded release."
        )
    elif claimed != latest.get("release_id"):
        report.warnings.append(
            f"The submission comes from an older release, {claimed} "
            f"({known[claimed].get('released_at', '?')}); the latest is "
            f"{latest.get('release_id')}. It was graded with the current tests; its locked "
            "cells were checked against the release it came from."
        )
    return claimed


def _answers(cells: list[Cell], key: ModuleKey) -> list[Answer]:
    answers = []
    for cell in cells:
        if not _is_answer_cell(cell):
            continue
        gid = str(cell.nbgrader.get("grade_id", ""))
        text = _markdown_text(cell)
        answer = "" if text.strip() in ("", ANSWER_PLACEHOLDER) else text
        answers.append(Answer(gid, key.questions.get(gid, ""), answer))
    return answers


def _tampered(key: ModuleKey, cells: list[Cell]) -> dict[str, tuple[str, str]]:
    """grade_id -> (outcome, message) for locked cells that were edited, repeated or removed."""
    copies: dict[str, list[Cell]] = {}
    for cell in cells:
        if cell.kind == "code" and cell.nbgrader.get("grade"):
            copies.setdefault(str(cell.nbgrader.get("grade_id", "")), []).append(cell)
    found = {}
    for gid in key.cells:
        mine = copies.get(gid, [])
        if not mine:
            found[gid] = ("missing", "the locked test cell is missing")
        elif len(mine) > 1:
            lines = ", ".join(str(c.line) for c in mine)
            found[gid] = ("modified", f"grade_id used by more than one cell (lines {lines})")
        elif cell_fingerprint(mine[0]) not in key.released.get(gid, frozenset()):
            found[gid] = ("modified", "the locked test cell was edited")
    return found


def _merge(cells: list[Cell], key: ModuleKey) -> tuple[str, list[tuple[int, int]]]:
    """The student's file with each locked test cell replaced by the instructor's (the first
    cell with that grade_id); returns the text and the 1-based line ranges of hidden tests."""
    out: list[str] = []
    hidden: list[tuple[int, int]] = []
    placed: set[str] = set()
    line = 1
    for cell in cells:
        gid = cell.nbgrader.get("grade_id") if cell.kind == "code" else None
        if gid in key.cells and gid not in placed and cell.nbgrader.get("grade"):
            placed.add(gid)
            text = key.cells[gid].text
            hidden += [(line + a, line + b) for a, b in key.cells[gid].hidden]
        else:
            text = cell.text()
            if not text.endswith(("\n", "\r")) and cell is not cells[-1]:
                text += "\n"
        out.append(text)
        line += len(split_lines(text))
    return "".join(out), hidden


def _package(course, module, submission, root, package, cumulative) -> list[str]:
    """Put the sandbox's tinytorch/ in place; returns warnings."""
    if cumulative:
        return build_package(course, root, _student_sources(course, module, submission))
    if package is not None:
        copy_package(package, root)
        return []
    return build_package(course, root, reference_sources(course, module))


def _student_sources(course: Course, module: ModuleSpec, submission: Path) -> dict[str, str]:
    """The student's own files of the modules before `module`; the instructor's where the
    submission has none (so one missing file does not zero every later module)."""
    sources = reference_sources(course, module)
    for spec in earlier_modules(course, module):
        try:
            found = find_submission(submission, spec)
        except TitoError:
            found = None
        if found is not None:
            sources[spec.id] = found.text
    return sources


def _run(course: Course, module: ModuleSpec, root: Path, text: str, limits: Limits | None):
    from tito.course.runner import run_module_tests
    from tito.course.sandbox import sandbox_course

    sandbox = sandbox_course(course, root)
    spec = sandbox.modules[module.id]
    spec.folder.mkdir(parents=True, exist_ok=True)
    files.write_text(spec.source_path, text)
    sandbox = replace(sandbox, modules={module.id: spec})
    return run_module_tests(sandbox, spec, limits=limits)


# ── rows ──


def _rows(report: GradeReport, key: ModuleKey, tampered, result, hidden_lines) -> None:
    by_test = {(t.name, t.grade_id): t for t in result.tests}
    collected = {t.name for t in result.tests}
    for gid, cell in key.cells.items():
        names = cell.tests or (gid,)
        share = cell.points / len(names)
        for name in names:
            row = _row(name, gid, cell, share, tampered.get(gid), by_test, result, hidden_lines)
            redefined = name in collected and (name, gid) not in by_test and cell.tests
            if redefined and gid not in tampered:
                message = f"{name} is defined again outside its locked cell, so the locked "
                message += "test did not run"
                row = replace(row, points=0.0, outcome="modified", message=message, traceback="")
            report.tests.append(row)
    _manual_rows(report, key)
    extra = sorted({t.grade_id for t in result.tests if t.grade_id} - set(key.cells))
    if extra:
        report.warnings.append(
            f"Graded cells not in the course were not counted: {', '.join(extra)}."
        )


def _manual_rows(report: GradeReport, key: ModuleKey) -> None:
    for gid, points in key.manual.items():
        report.tests.append(GradedTest(gid, gid, 0.0, points, "manual", "graded by hand"))


def _row(name, gid, cell: TestCell, share, tampered, by_test, result, hidden_lines):
    hidden = bool(cell.hidden)
    if tampered is not None:
        return GradedTest(name, gid, 0.0, share, *tampered, hidden=hidden)
    if not cell.tests:  # top-level code only: it passed if the file loaded
        loaded = result.status in LOADED
        outcome = "passed" if loaded else result.status
        message = "" if loaded else _redact_load(result, hidden_lines)
        return GradedTest(
            name, gid, share if loaded else 0.0, share, outcome, message, hidden=hidden
        )
    outcome = by_test.get((name, gid))
    if outcome is None:
        return GradedTest(name, gid, 0.0, share, *_not_run(result, hidden_lines), hidden=hidden)
    passed = outcome.outcome == "passed"
    message, traceback, in_hidden = _feedback(outcome, hidden_lines)
    return GradedTest(
        name,
        gid,
        share if passed else 0.0,
        share,
        outcome.outcome,
        message,
        outcome.seconds,
        traceback,
        hidden,
        in_hidden,
    )


def _feedback(outcome, hidden_lines) -> tuple[str, str, bool]:
    """The message and traceback a student may see (nothing of a hidden test's source), and
    whether the failure happened in a hidden test."""
    if outcome.outcome == "not_run":
        return "not run: an earlier test hung or crashed the run", "", False
    lines = _traceback_lines(outcome.traceback, outcome.file)
    if outcome.line is not None:
        lines.append(outcome.line)
    if not any(_inside(line, hidden_lines) for line in lines):
        return outcome.message, outcome.traceback, False
    if outcome.line is not None and _inside(outcome.line, hidden_lines):
        failed = outcome.outcome == "failed"
        return (HIDDEN_FAILED if failed else "a hidden test raised an error"), "", True
    # Raised in the student's own code, called from a hidden test: their message, no frames.
    return f"{outcome.message} (called from a hidden test)", "", True


def _traceback_lines(traceback: str, path: str | None) -> list[int]:
    """Line numbers of the frames in the graded file, read from a formatted traceback."""
    if not path:
        return [int(n) for n in re.findall(r'_dev\.py", line (\d+)', traceback)]
    name = re.escape(Path(path).name)
    return [int(n) for n in re.findall(rf'{name}", line (\d+)', traceback)]


def _inside(line: int, ranges: list[tuple[int, int]]) -> bool:
    return any(start <= line <= end for start, end in ranges)


def _redact_load(result, hidden_lines) -> str:
    problem = result.load_problem
    if problem is not None and problem.line is not None and _inside(problem.line, hidden_lines):
        return "The file failed to load in a hidden test."
    return result.message


def _not_run(result, hidden_lines) -> tuple[str, str]:
    if result.status == "load_error":
        return "load_error", _redact_load(result, hidden_lines)
    if result.status in ("timeout", "crashed"):
        return "not_run", f"not run: {result.message}"
    return "not_run", "this test did not run (is it still defined at the top level?)"


# ── packages built once for many grades ──


def prepare_package(course: Course, module: ModuleSpec, folder: Path) -> Path:
    """Build the reference package for grading `module` under `folder`; returns the folder
    to pass as `package=` (it holds `tinytorch/`)."""
    root = folder / module.id
    root.mkdir(parents=True, exist_ok=True)
    warnings = build_package(course, root, reference_sources(course, module))
    if warnings:  # the instructor's own files must export
        raise TitoError(" ".join(warnings))
    return root


# ── a whole class ──


def grade_class(
    course: Course,
    submissions: Path,
    module_ids: list[str] | None = None,
    *,
    cumulative: bool = False,
    workers: int | None = None,
    limits: Limits | None = DEFAULT_LIMITS,
    on_done: Callable[[GradeReport], None] | None = None,
) -> list[GradeReport]:
    """Grade every student folder under `submissions` with a pool of worker processes.

    Every immediate, non-hidden subfolder is one student (its name is the student id). A
    folder that cannot be graded scores zero with the reason, not an error: one broken copy
    must not stop the class. Reports come back in (student, module) order.
    """
    if not submissions.is_dir():
        raise TitoError(f"{submissions} is not a folder of submissions.")
    if workers is not None and workers < 1:
        raise TitoError("--workers must be at least 1.")
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise TitoError(f"{submissions} holds no student folders.")
    if module_ids:
        modules = [course.module(m) for m in module_ids]
    else:  # what the class handed in: a module nobody submitted is not graded as all zeros
        modules = [
            m for m in _graded_modules(course) if any(_has_file(folder, m) for folder in students)
        ]
    with tempfile.TemporaryDirectory(prefix="tito-packages-") as scratch:
        packages = {}
        if not cumulative:
            for module in modules:
                packages[module.id] = str(prepare_package(course, module, Path(scratch)))
        jobs = [
            (str(course.root), str(folder), module.id, packages.get(module.id), cumulative, limits)
            for folder in students
            for module in modules
        ]
        return _run_jobs(jobs, workers, on_done)


def _has_file(folder: Path, module: ModuleSpec) -> bool:
    try:
        return find_submission(folder, module) is not None
    except TitoError:
        return True  # there is a file, unreadable: grading says why


def _graded_modules(course: Course) -> list[ModuleSpec]:
    graded = []
    for module in course.modules.values():
        try:
            cells = parse_cells(files.read_text(module.source_path), module.file)
        except TitoError:
            continue
        if any(c.kind == "code" and c.nbgrader.get("grade") for c in cells):
            graded.append(module)
    return graded


def _run_jobs(jobs, workers, on_done) -> list[GradeReport]:
    if not jobs:
        return []
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    reports = []
    if workers == 1:
        results = map(_grade_job, jobs)
        for report in results:
            reports.append(report)
            if on_done:
                on_done(report)
        return reports
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for report in pool.map(_grade_job, jobs):
            reports.append(report)
            if on_done:
                on_done(report)
    return reports


@lru_cache(maxsize=4)
def _course(root: str) -> tuple[Course, list[dict]]:
    path = Path(root)
    return load_course(path), read_records(path)


def _grade_job(job) -> GradeReport:
    """Grade one (student, module); any failure becomes that student's zero with the reason."""
    root, folder, module_id, package, cumulative, limits = job
    course, records = _course(root)
    path = Path(folder)
    try:
        return grade_module(
            course,
            path,
            module_id,
            cumulative=cumulative,
            package=Path(package) if package else None,
            limits=limits,
            records=records,
        )
    except Exception as error:  # noqa: BLE001 - one broken copy must not stop the class
        report = GradeReport(path.name, module_id, status="invalid", message=str(error))
        try:
            key = module_key(course, course.module(module_id), records)
        except TitoError:
            return report
        return _zero(report, key, "invalid", str(error))


# ── CSV and JUnit ──


def write_csv(reports: list[GradeReport], path: Path) -> None:
    """One row per (student, module): student, module, points, max."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["student", "module", "points", "max"])
    for r in reports:
        writer.writerow([r.student, r.module_id, _number(r.points), _number(r.max_points)])
    files.write_atomic(path, text.getvalue())


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
    with files.replacing(path) as temporary:
        junit_xml(reports, name).write(temporary, encoding="utf-8", xml_declaration=True)


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
