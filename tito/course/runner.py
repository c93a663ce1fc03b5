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
from tito.course.cells import cell_tests, parse_cells
from tito.course.errors import TitoError
from tito.course.limits import Limits, preexec

HARNESS = Path(__file__).with_name("_harness.py")
OUTPUT_TAIL = 4000


@dataclass(frozen=True)
class TestOutcome:
    """One test's result; `file`/`line` point into the student's file when the failure does."""

    __test__ = False  # not a pytest test class, though its name starts with Test

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
    """Why the module file could not be loaded: a syntax error, an import, or an exception."""

    kind: str  # syntax | import | exception
    message: str
    file: str | None
    line: int | None
    traceback: str


@dataclass(frozen=True)
class RunReport:
    """A whole run: per-test outcomes, or the load problem; `message` is one sentence."""

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
        """JSON-ready: the fields plus `passed`, `points` and `max_points`."""
        data = asdict(self)
        data.update(passed=self.passed, points=self.points, max_points=self.max_points)
        return data


@dataclass(frozen=True)
class _Grading:
    points: float = 0.0
    grade_id: str | None = None
    locked: bool = False


@dataclass(frozen=True)
class _Process:
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool


def run_module_tests(
    course: Course,
    module: ModuleSpec,
    *,
    source: Path | None = None,
    timeout: float | None = None,
    python: str = sys.executable,
    limits: Limits | None = None,
) -> RunReport:
    """Run the tests of `module` (or of `source`, a file with the same layout) in isolation;
    `limits` (grading) caps the child's CPU time, memory, processes and file size."""
    path = Path(source or module.source_path).resolve()
    text = _read(path)
    limit = timeout or module.test_timeout
    with tempfile.TemporaryDirectory(prefix="tito-run-") as scratch:
        events_path = Path(scratch) / "events.jsonl"
        command = [python, str(HARNESS), "--root", str(course.root)]
        command += ["--file", str(path), "--out", str(events_path)]
        started = time.perf_counter()
        preexec_fn = preexec(limits.for_timeout(limit)) if limits else None
        run = _execute(command, course.root, limit, Path(scratch), preexec_fn)
        seconds = time.perf_counter() - started
        events = _read_events(events_path)
    grading, warnings = _grading_by_test(text, path)
    limit_hint = "" if timeout else " (test_timeout in module.yaml)"
    return _build_report(module, path, events, grading, seconds, limit, limit_hint, run, warnings)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TitoError(f"The module file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TitoError(f"The module file {path} cannot be read as UTF-8 text ({exc}).") from None


def _execute(
    command: list[str], cwd: Path, limit: float, scratch: Path, preexec_fn=None
) -> _Process:
    """Run the harness in its own process group; past `limit` seconds, kill the whole group.

    Output goes to files, not pipes: a grandchild that escaped the group and still holds a
    pipe open would otherwise keep us waiting for an end-of-file that never comes.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    stdout_path, stderr_path = scratch / "stdout", scratch / "stderr"
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        try:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # its own process group: a timeout kills children too
                preexec_fn=preexec_fn,
            )
        except OSError as exc:
            raise TitoError(
                f"The tests could not be started with {command[0]} ({exc.strerror or exc})."
            ) from None
        timed_out = False
        try:
            process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
            process.wait()
        except BaseException:
            _kill_group(process)
            process.wait()
            raise
        _kill_group(process)  # leftovers a finished test started in the background
    return _Process(process.returncode, _tail(stdout_path), _tail(stderr_path), timed_out)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path) -> str:
    """The last OUTPUT_TAIL characters (about) of a file the process wrote."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - OUTPUT_TAIL))
        return handle.read().decode("utf-8", errors="replace")


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


def _grading_by_test(text: str, path: Path) -> tuple[dict[int, _Grading], tuple[str, ...]]:
    """Points per test, keyed by the first line of its function (its first decorator, if
    any, as in `co_firstlineno`). A test takes the nbgrader metadata of the cell holding its
    `def` line; a graded cell's points are split equally between the tests it defines."""
    try:
        cells = parse_cells(text, path)
    except TitoError as error:
        return {}, (f"{error.message} Points were not counted.",)
    grading: dict[int, _Grading] = {}
    for cell in cells:
        metadata = cell.nbgrader
        tests = cell_tests(cell)  # the rule release and grading use too
        if cell.kind != "code" or not metadata.get("grade") or not tests:
            continue
        points = _number(metadata.get("points"))
        for test in tests:
            grading[test.first_line] = _Grading(
                points / len(tests), metadata.get("grade_id"), bool(metadata.get("locked"))
            )
    return grading, ()


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def _build_report(
    module, path, events, grading, seconds, limit, limit_hint, run, warnings
) -> RunReport:
    kinds = {e.get("event") for e in events}
    finished = "done" in kinds
    timed_out = run.timed_out and not finished
    loaded = next((e for e in events if e.get("event") == "loaded"), {})
    load_output = loaded.get("output", "")
    load_error = next((e for e in events if e.get("event") == "load_error"), None)
    if load_error is not None:
        problem = LoadProblem(
            load_error.get("kind", "exception"),
            load_error.get("message", ""),
            load_error.get("file"),
            load_error.get("line"),
            load_error.get("traceback", ""),
        )
        return RunReport(
            module.id,
            "load_error",
            (),
            problem,
            seconds,
            load_error.get("output", ""),
            _load_message(problem, path),
            warnings,
        )
    tests = _outcomes(events, grading, timed_out, str(path))
    started = [e["name"] for e in events if e.get("event") == "test_start"]
    running = started[-1] if started and started[-1] not in _ended(events) else None
    during = f" in {running}" if running else ("" if loaded else " while loading the file")
    if timed_out:
        status = "timeout"
        message = f"Timed out after {limit:g} s{during}{limit_hint}; the run was stopped."
    elif not finished:
        status = "crashed"
        message = f"The test process died {_exit_description(run.exit_code)}{during}"
        last = run.stderr.strip().splitlines()[-1:]
        message += f": {last[0].strip()}" if last else "."
    elif not tests:
        status = "no_tests"
        message = f"No tests found in {path.name}: write top-level functions named test_*."
    else:
        passed = sum(t.outcome == "passed" for t in tests)
        status = "passed" if passed == len(tests) else "failed"
        message = f"{passed} of {len(tests)} tests passed"
    output = (load_output + run.stdout + run.stderr)[-OUTPUT_TAIL:]
    return RunReport(module.id, status, tuple(tests), None, seconds, output, message, warnings)


def _load_message(problem: LoadProblem, path: Path) -> str:
    """`SyntaxError at tensor_dev.py:12: invalid syntax`."""
    kind, _, detail = problem.message.partition(": ")
    if not detail:
        kind, detail = problem.message, ""
    where = Path(problem.file).name if problem.file else path.name
    if problem.line:
        where += f":{problem.line}"
    return f"{kind} at {where}: {detail}" if detail else f"{kind} at {where}"


def _exit_description(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"(killed by signal {signal.Signals(-code).name})"
        except ValueError:
            return f"(killed by signal {-code})"
    return f"(exit code {code})"


def _ended(events: list[dict]) -> set[str]:
    return {e["name"] for e in events if e.get("event") == "test_end"}


def _outcomes(events: list[dict], grading: dict[int, _Grading], timed_out: bool, path: str):
    collected = next((e["tests"] for e in events if e.get("event") == "collected"), [])
    ended = {e["name"]: e for e in events if e.get("event") == "test_end"}
    started = {e["name"] for e in events if e.get("event") == "test_start"}
    outcomes = []
    for name, line in collected:
        grade = grading.get(line, _Grading())
        end = ended.get(name)
        if end is None:
            if name not in started:
                outcome, message = "not_run", ""
            elif timed_out:
                outcome, message = "timeout", "killed at the time limit"
            else:
                outcome, message = "error", "the test process died during this test"
            where = (path, line) if name in started else (None, None)
            outcomes.append(
                TestOutcome(
                    name,
                    outcome,
                    message,
                    *where,
                    0.0,
                    0.0,
                    grade.points,
                    grade.grade_id,
                    grade.locked,
                )
            )
            continue
        earned = grade.points if end.get("outcome") == "passed" else 0.0
        outcomes.append(
            TestOutcome(
                name,
                end.get("outcome", "error"),
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
