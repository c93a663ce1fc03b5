"""The course's progress file, `.tito/progress.json`: atomic writes under a file lock.

One file, one schema:

    {"version": 1,
     "modules": {"01_tensor": {"state": "completed", "started_at": ..., "completed_at": ...,
                               "tests": {...summary...}, "source_sha256": "..."}},
     "milestones": {"xor": {"runs": [{...}], "best": {...}}}}

Every update is read-modify-write under an exclusive lock on `.tito/lock` (`filelock`: flock
on POSIX, msvcrt on Windows), and the new file replaces the old one with `os.replace` after an
fsync, so two tito processes never lose each other's updates and a crash never leaves half a
file. A file that cannot be parsed
is moved aside (`progress.json.corrupt-<time>`) with a warning, never silently discarded.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tito.course.errors import CHECK_FAILED, TitoError
from tito.course.files import write_atomic

__all__ = ["write_atomic"]  # re-exported: older callers import it from here

SCHEMA_VERSION = 1
LOCK_TIMEOUT = 60.0
MAX_RUNS_KEPT = 20


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def empty_progress() -> dict:
    return {"version": SCHEMA_VERSION, "modules": {}, "milestones": {}}


@dataclass
class Progress:
    """The parsed progress file plus any warnings raised while reading it."""

    data: dict
    warnings: list[str] = field(default_factory=list)

    def module(self, module_id: str) -> dict:
        return self.data["modules"].get(module_id, {})

    def is_completed(self, module_id: str) -> bool:
        return self.module(module_id).get("state") == "completed"

    def milestone(self, milestone_id: str) -> dict:
        return self.data["milestones"].get(milestone_id, {})


def progress_path(state_dir: Path) -> Path:
    return state_dir / "progress.json"


@contextlib.contextmanager
def course_lock(state_dir: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the course's exclusive lock; wait up to `timeout` s for another tito to finish."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "lock"
    lock = _file_lock(path)
    try:
        lock.acquire(timeout=timeout, poll_interval=0.05)
    except _lock_timeout():
        raise TitoError(
            f"Another tito process (pid {_lock_owner(path)}) is still updating this course "
            f"after {timeout:.0f} s.",
            hint="Wait for it to finish, then run the command again.",
            exit_code=CHECK_FAILED,
        ) from None
    try:
        with contextlib.suppress(OSError):
            _owner_path(path).write_text(str(os.getpid()), encoding="utf-8")
        yield
    finally:
        lock.release()


def _file_lock(path: Path):
    """filelock's lock for this platform (imported here: only commands that write pay for it).

    Where flock is missing on a POSIX system (only the tests' simulated Windows), filelock
    falls back to a lock file and warns once; the warning says nothing a student can act on.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from filelock import FileLock

    return FileLock(str(path))


def _lock_timeout() -> type[Exception]:
    from filelock import Timeout

    return Timeout


def _owner_path(lock_path: Path) -> Path:
    # The pid goes beside the lock, not into it: Windows forbids reading a locked file.
    return lock_path.with_name(lock_path.name + ".owner")


def _lock_owner(path: Path) -> str:
    try:
        return _owner_path(path).read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


def read_progress(state_dir: Path) -> Progress:
    """Read the progress file; a missing file is empty progress, a corrupt one is set aside."""
    path = progress_path(state_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Progress(empty_progress())
    except OSError as exc:
        raise TitoError(f"{path} cannot be read ({exc}).") from None
    try:
        data = json.loads(raw.decode("utf-8"))
        problem = _schema_problem(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problem = f"it is not valid JSON ({exc})"
    if problem is None:
        return Progress(data)
    aside = _move_aside(path)
    warning = (
        f"The progress file {path} was unreadable ({problem}); it was moved to {aside.name} "
        "and a fresh one was started."
    )
    return Progress(empty_progress(), [warning])


def update_progress(state_dir: Path, change: Callable[[dict], None]) -> Progress:
    """Apply `change` to the progress data under the lock and write it back atomically."""
    with course_lock(state_dir):
        progress = read_progress(state_dir)
        change(progress.data)
        write_atomic(progress_path(state_dir), json.dumps(progress.data, indent=2) + "\n")
    return progress


def _schema_problem(data) -> str | None:
    if not isinstance(data, dict):
        return "the top level is not an object"
    if data.get("version") != SCHEMA_VERSION:
        return f"unknown version {data.get('version')!r}"
    for key in ("modules", "milestones"):
        if not isinstance(data.get(key), dict):
            return f"'{key}' is not an object"
    return None


def _move_aside(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
        counter += 1
    os.replace(path, aside)
    return aside


# -- the changes tito makes -------------------------------------------------------------------


def mark_started(module_id: str) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        entry = data["modules"].setdefault(module_id, {})
        entry.setdefault("started_at", now_iso())
        if entry.get("state") != "completed":
            entry["state"] = "started"

    return change


def mark_tested(module_id: str, summary: dict) -> Callable[[dict], None]:
    """Record a test run that did not complete the module (it stays started or completed)."""

    def change(data: dict) -> None:
        mark_started(module_id)(data)
        data["modules"][module_id]["last_test"] = summary

    return change


def mark_completed(module_id: str, summary: dict, source_sha256: str) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        mark_started(module_id)(data)
        entry = data["modules"][module_id]
        entry.update(
            state="completed",
            completed_at=now_iso(),
            tests=summary,
            last_test=summary,
            source_sha256=source_sha256,
        )

    return change


def mark_reset(module_id: str) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        data["modules"].pop(module_id, None)

    return change


def record_milestone_run(milestone_id: str, run: dict) -> Callable[[dict], None]:
    """Append a run (keeping the last few) and keep the best (see _run_rank)."""

    def change(data: dict) -> None:
        entry = data["milestones"].setdefault(milestone_id, {"runs": [], "best": None})
        entry["runs"] = (entry.get("runs") or [])[-(MAX_RUNS_KEPT - 1) :] + [run]
        best = entry.get("best")
        if best is None or _run_rank(run) > _run_rank(best):
            entry["best"] = run

    return change


def _run_rank(run: dict) -> tuple:
    """Passed first, then the run's headline number (accuracy, or speedup for a speed
    milestone that measures no accuracy)."""
    headline = milestone_headline(run.get("result") or {})
    return (bool(run.get("passed")), headline[1] if headline else -1.0)


def milestone_headline(result: dict) -> tuple[str, float] | None:
    """("accuracy", value) or, without an accuracy, ("speedup", value); None if neither."""
    for key in ("accuracy", "speedup"):
        value = result.get(key)
        if isinstance(value, int | float):
            return key, value
    return None
