"""Run a module's inline tests in a subprocess: isolation, a timeout, a structured report.

The subprocess (`_harness.py`) loads the student's file with the course root first on
`sys.path`, runs each top-level `test_*` once and streams events to a file. This side turns
those events into a `RunReport`, adds the points from the cells' nbgrader metadata, and
kills the whole process group if the run goes past the module's `test_timeout`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tito.course.catalog import Course, ModuleSpec
from tito.course.cells import parse_cells
from tito.course.errors import TitoError

HARNESS = Path(__file__).with_name("_harness.py")
OUTPUT_TAIL = 4000


@dataclass(frozen=True)
class TestOutcome:
    name: str
    outcome: str  # passed | failed | error | timeout | not_run
    message: str = ""
    file: str | None = None
    line: int | None = None
    seconds: float = 0.0
    points: float = 0.0
    max_points: float = 0.0
    grade_id: str | None = None
    locked: bool = False
    output: str = ""
    traceback: str = ""


@dataclass(frozen=True)
class LoadProblem:
    kind: str  # syntax | import | exception
    message: str
    file: str | None
    line: int | None
    traceback: str


@dataclass(frozen=True)
class RunReport:
    module_id: str
    status: str  # passed | failed | load_error | timeout | no_tests | crashed
    tests: tuple[TestOutcome, ...]
    load_problem: LoadProblem | None
    seconds: float
    output: str
    message: str
    warnings: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def points(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def max_points(self) -> float:
        return sum(t.max_points for t in self.tests)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(passed=self.passed, points=self.points, max_points=self.max_points)
        return data


@dataclass(frozen=True)
class _Grading:
    points: float = 0.0
    grade_id: str | None = None
    locked: bool = False


def run_module_tests(
    course: Course,
    module: ModuleSpec,
    *,
    source: Path | None = None,
    timeout: float | None = None,
    python: str = sys.executable,
) -> RunReport:
    """Run the tests of `module` (or of `source`, a file with the same layout) in isolation."""
    path = Path(source or module.source_path).resolve()
    text = _read(path)
    limit = timeout or module.test_timeout
    with tempfile.TemporaryDirectory(prefix="tito-run-") as scratch:
        events_path = Path(scratch) / "events.jsonl"
        started = time.perf_counter()
        exit_code, stdout, stderr, timed_out = _execute(
            [
                python,
                str(HARNESS),
                "--root",
                str(course.root),
                "--file",
                str(path),
                "--out",
                str(events_path),
            ],
            course.root,
            limit,
        )
        seconds = time.perf_counter() - started
        events = _read_events(events_path)
    grading = _grading_by_test(text, path)
    return _build_report(
        module, path, events, grading, seconds, limit, timed_out, exit_code, stdout + stderr
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TitoError(f"The module file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TitoError(f"The module file {path} cannot be read as UTF-8 text ({exc}).") from None


def _execute(command: list[str], cwd: Path, limit: float) -> tuple[int | None, str, str, bool]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group: a timeout kills children too
    )
    try:
        stdout, stderr = process.communicate(timeout=limit)
        return process.returncode, stdout, stderr, False
    except subprocess.TimeoutExpired:
        _kill_group(process)
        stdout, stderr = process.communicate()
        return process.returncode, stdout, stderr, True
    except BaseException:
        _kill_group(process)
        raise


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_events(path: Path) -> list[dict]:
    events = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return events
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut short by a kill: everything before it is intact
    return events


def _grading_by_test(text: str, path: Path) -> dict[int, _Grading]:
    """Points per test, keyed by the line of its `def`: a graded cell's points are split
    equally between the tests it defines."""
    try:
        cells = parse_cells(text, path)
    except TitoError:
        return {}
    lines = text.splitlines()
    grading: dict[int, _Grading] = {}
    for index, cell in enumerate(cells):
        metadata = cell.nbgrader
        if cell.kind != "code" or not metadata.get("grade"):
            continue
        end = cells[index + 1].line if index + 1 < len(cells) else len(lines) + 1
        defs = [n for n in range(cell.body_line, end) if lines[n - 1].startswith("def test")]
        points = float(metadata.get("points") or 0)
        for number in defs:
            grading[number] = _Grading(
                points / len(defs), metadata.get("grade_id"), bool(metadata.get("locked"))
            )
    return grading


def _build_report(module, path, events, grading, seconds, limit, timed_out, exit_code, output):
    kinds = {e.get("event") for e in events}
    load_output = "".join(e.get("output", "") for e in events if e.get("event") == "loaded")
    load_error = next((e for e in events if e.get("event") == "load_error"), None)
    if load_error is not None:
        problem = LoadProblem(
            load_error["kind"],
            load_error["message"],
            load_error.get("file"),
            load_error.get("line"),
            load_error.get("traceback", ""),
        )
        where = f" at {Path(problem.file).name}:{problem.line}" if problem.file else ""
        message = f"{path.name} could not be loaded: {problem.message}{where}"
        return RunReport(
            module.id, "load_error", (), problem, seconds, load_error["output"], message
        )
    tests = _outcomes(events, grading, timed_out)
    running = next((t.name for t in tests if t.outcome == "timeout"), None)
    if timed_out:
        during = f" in {running}" if running else " while loading the file"
        status, message = "timeout", f"Timed out after {limit:g} s{during}; the run was stopped."
    elif "done" not in kinds:
        status = "crashed"
        tail = output.strip().splitlines()[-1:] or ["no output"]
        message = f"The test process ended early (exit code {exit_code}): {tail[0]}"
    elif not tests:
        status = "no_tests"
        message = f"No tests found in {path.name}: write top-level functions named test_*."
    else:
        passed = sum(t.outcome == "passed" for t in tests)
        status = "passed" if passed == len(tests) else "failed"
        message = f"{passed} of {len(tests)} tests passed"
    return RunReport(
        module.id,
        status,
        tuple(tests),
        None,
        seconds,
        (load_output + output)[-OUTPUT_TAIL:],
        message,
    )


def _outcomes(events: list[dict], grading: dict[int, _Grading], timed_out: bool) -> list:
    collected = next((e["tests"] for e in events if e.get("event") == "collected"), [])
    ended = {e["name"]: e for e in events if e.get("event") == "test_end"}
    started = {e["name"] for e in events if e.get("event") == "test_start"}
    outcomes = []
    for name, line in collected:
        grade = grading.get(line, _Grading())
        end = ended.get(name)
        if end is None:
            hung = name in started
            outcome = "timeout" if hung and timed_out else ("error" if hung else "not_run")
            message = "killed at the time limit" if outcome == "timeout" else ""
            if outcome == "error":
                message = "the process died during this test"
            outcomes.append(
                TestOutcome(
                    name,
                    outcome,
                    message,
                    None,
                    line,
                    0.0,
                    0.0,
                    grade.points,
                    grade.grade_id,
                    grade.locked,
                )
            )
            continue
        earned = grade.points if end["outcome"] == "passed" else 0.0
        outcomes.append(
            TestOutcome(
                name,
                end["outcome"],
                end.get("message", ""),
                end.get("file"),
                end.get("line"),
                end.get("seconds", 0.0),
                earned,
                grade.points,
                grade.grade_id,
                grade.locked,
                end.get("output", ""),
                end.get("traceback", ""),
            )
        )
    return outcomes
