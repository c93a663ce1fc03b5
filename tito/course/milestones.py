"""Run a milestone's demo script on the student's exported package and record the result.

The script prints its progress bar on stderr (passed straight through to the terminal) and
its log on stdout; its last stdout line is one JSON object with at least `passed`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tito.course import processes
from tito.course.catalog import Course, MilestoneSpec
from tito.course.errors import CHECK_FAILED, TitoError
from tito.course.progress import now_iso, read_progress, record_milestone_run, update_progress


@dataclass(frozen=True)
class MilestoneRun:
    milestone: MilestoneSpec
    passed: bool
    result: dict | None  # the script's JSON line, None if it printed none
    exit_code: int | None
    seconds: float
    timed_out: bool = False

    def to_dict(self) -> dict:
        return {
            "milestone": self.milestone.id,
            "passed": self.passed,
            "result": self.result,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 2),
            "timed_out": self.timed_out,
        }


def locked_by(course: Course, milestone: MilestoneSpec) -> list[str]:
    """The required modules that are not completed yet."""
    progress = read_progress(course.state_dir)
    return [m for m in milestone.requires if not progress.is_completed(m)]


def run_milestone(
    course: Course,
    milestone: MilestoneSpec,
    args: list[str],
    *,
    force: bool = False,
    echo: Callable[[str], None] = print,
    timeout: float | None = None,
) -> MilestoneRun:
    """Run the script with `args`; refuses while required modules are incomplete."""
    missing = locked_by(course, milestone)
    if missing and not force:
        raise TitoError(
            f"Milestone {milestone.id} is locked: complete {', '.join(missing)} first.",
            hint="Or add --force to run it on whatever the package has now.",
            exit_code=CHECK_FAILED,
        )
    run = _execute(course, milestone, args, echo, timeout or milestone.timeout)
    entry = {"at": now_iso(), "args": args, **run.to_dict()}
    entry.pop("milestone")
    update_progress(course.state_dir, record_milestone_run(milestone.id, entry))
    return run


def _execute(course, milestone, args, echo, timeout) -> MilestoneRun:
    # The course root on PYTHONPATH: the script imports the student's own `tinytorch`. A demo
    # trains a model and times nothing against a bound, so its BLAS may use every core.
    env = processes.child_env(pythonpath=[course.root], blas_threads=None)
    command = [sys.executable, str(milestone.script_path), *args]
    started = time.perf_counter()
    # stderr (the progress bar) goes straight to the terminal; stdout is read line by line.
    process = processes.spawn(
        command, cwd=course.root, env=env, stdin=None, stdout=subprocess.PIPE, text=True
    )
    timer = threading.Timer(timeout, processes.kill_tree, (process,))
    timer.start()
    last_json = None
    try:
        for line in process.stdout:
            parsed = _result_line(line)
            if parsed is not None:
                last_json = parsed
            echo(line.rstrip("\n"))
        process.wait()
    except KeyboardInterrupt:
        processes.kill_tree(process)
        raise
    finally:
        timer.cancel()
    seconds = time.perf_counter() - started
    # A kill shows as a negative code on POSIX and as 1 on Windows: the clock decides.
    timed_out = process.returncode != 0 and seconds >= timeout
    passed = bool(last_json and last_json.get("passed") is True and process.returncode == 0)
    return MilestoneRun(milestone, passed, last_json, process.returncode, seconds, timed_out)


def _result_line(line: str) -> dict | None:
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and "passed" in value else None
